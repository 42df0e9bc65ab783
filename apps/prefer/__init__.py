"""Preference-driven optimization (``blackbox prefer``): a person or an LLM judge ranks candidates.

* :mod:`apps.prefer.svg`: a procedural SVG picture (palette, gradient, shapes) set by a latent
  vector, tuned to a person's taste on the ranking page with ZO-RankSGD;
* :mod:`apps.prefer.tagline`: a product tagline assembled from phrase slots, ranked by a person
  or by an LLM judge;
* :mod:`apps.prefer.cli`: the ``blackbox prefer`` command.
"""
