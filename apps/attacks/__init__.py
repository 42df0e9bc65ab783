"""Adversarial attacks as a use of the framework (the library layer above strategies/oracles).

An attack is an oracle built from (model, image, label, threat model)
(:class:`~apps.attacks.oracle.AttackOracle`), a strategy (:mod:`apps.attacks.presets`,
:class:`~apps.attacks.hardlabel.HopSkipJump`) and a stop rule (the first successful query).
:func:`~apps.attacks.campaign.run_campaign` attacks many images over ``run_many`` (in turn or
on Ray) with per-image journals; :mod:`apps.attacks.report` writes the table, JSON and PNGs;
``blackbox attack`` is :mod:`apps.attacks.cli`.
"""

from apps.attacks.campaign import run_campaign, select_correct
from apps.attacks.classifiers import CallableClassifier, HTTPClassifier, LabelOnly, TorchClassifier
from apps.attacks.demo import demo_campaign
from apps.attacks.oracle import AttackOracle
from apps.attacks.threat import ThreatModel

__all__ = ["AttackOracle", "CallableClassifier", "HTTPClassifier", "LabelOnly", "ThreatModel",
           "TorchClassifier", "demo_campaign", "run_campaign", "select_correct"]
