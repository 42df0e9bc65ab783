"""The attack oracle: (classifier, image, label, threat model) -> a value oracle on perturbations.

Points are perturbations ``delta`` (or, with ``reduce``, a coarse perturbation that is
upsampled); the model sees ``x = clip(x0 + delta)``. Two modes:

* ``"score"``: the value is the C&W margin on log-probabilities (the loss of ZOO, Chen et al.
  2017, https://arxiv.org/abs/1708.03999; Carlini & Wagner 2017, https://arxiv.org/abs/1608.04644):
  untargeted ``log p_y - max_{j != y} log p_j``, targeted ``max_{j != t} log p_j - log p_t``;
  it equals the logit margin, and it is ``< 0`` exactly when the attack succeeds, so the first
  successful query is the first negative value;
* ``"label"``: only top-1 labels are read (the classifier's ``labels``); the value is the L2
  distance ``||x - x0||`` when ``x`` is adversarial and :data:`NOT_ADVERSARIAL` otherwise, a
  1-bit answer plus a distance the attacker computes itself (decision-based, Brendel et al.
  2018, https://arxiv.org/abs/1712.04248).

A failed request (NaN from an HTTP classifier) is a NaN value: a failure in the ledger.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from apps.attacks.threat import ThreatModel, check_image, upsample
from blackbox.errors import ConfigError
from blackbox.keys import Key

__all__ = ["NOT_ADVERSARIAL", "AttackOracle"]

Array = NDArray[np.float64]
NOT_ADVERSARIAL = 1e6


class AttackOracle:
    """A value oracle (minimized) for one image; see the module docstring.

    Args:
        classifier: an adapter from :mod:`apps.attacks.classifiers` (``probs``/``labels``).
        image: the clean image (any shape; flattened), in ``threat.clip``.
        label: the true class (untargeted) or the target class (``threat.targeted``).
        threat: the :class:`ThreatModel`.
        mode: ``"score"`` or ``"label"``.
        reduce: search an ``reduce x reduce`` perturbation upsampled to the (square) image.
        classes: the number of classes, when known (validates ``label``).
    """

    sense = "min"

    def __init__(self, classifier: Any, image: Any, label: int, threat: ThreatModel, *,
                 mode: str = "score", reduce: int | None = None, classes: int | None = None,
                 name: str = "attack") -> None:
        if not isinstance(threat, ThreatModel):
            raise ConfigError(f"threat must be a ThreatModel, got {threat!r}")
        if mode not in ("score", "label"):
            raise ConfigError(f"mode must be 'score' or 'label', got {mode!r}")
        if mode == "score" and getattr(classifier, "label_only", False):
            raise ConfigError("a label-only classifier needs mode='label' (a hard-label attack)")
        self.x0, self.label = check_image(image, label, None, classes, threat.clip)
        self.side = int(round(math.sqrt(self.x0.size)))
        if reduce is not None:
            if not (isinstance(reduce, int) and 1 <= reduce < self.side
                    and self.side * self.side == self.x0.size):
                raise ConfigError(f"reduce must be an int in [1, {self.side}) for a square "
                                  f"image, got {reduce!r}")
        self.classifier, self.threat, self.mode, self.reduce = classifier, threat, mode, reduce
        self.dim = reduce * reduce if reduce else self.x0.size
        self.name = name

    def attach_ledger(self, stats: Any) -> None:
        if hasattr(self.classifier, "attach_ledger"):
            self.classifier.attach_ledger(stats)

    def inputs(self, points: Array) -> Array:
        """The model inputs ``clip(x0 + delta)`` ``(n, d)`` for a batch of points."""
        p = np.asarray(points, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != self.dim:
            raise ConfigError(f"points must have shape (n, {self.dim}), got {p.shape}")
        delta = upsample(p, self.side, self.reduce) if self.reduce else p
        lo, hi = self.threat.clip
        return np.clip(self.x0 + delta, lo, hi)  # type: ignore[no-any-return]

    def values(self, points: Array, *, key: Key | None = None) -> Array:
        x = self.inputs(points)
        if self.mode == "label":
            lab = np.asarray(self.classifier.labels(x), dtype=np.float64)
            adv = (lab == self.label) if self.threat.targeted else (lab != self.label)
            dist = np.linalg.norm(x - self.x0, axis=1)
            out = np.where(adv, dist, NOT_ADVERSARIAL)
            return np.where(np.isnan(lab), math.nan, out)  # type: ignore[no-any-return]
        return margin(self.classifier.probs(x), self.label, self.threat.targeted)

    def close(self) -> None:
        if hasattr(self.classifier, "close"):
            self.classifier.close()


def margin(probs: Array, label: int, targeted: bool) -> Array:
    """The C&W margin on log-probabilities ``(n,)``; ``< 0`` exactly on success."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or label >= p.shape[1]:
        raise ConfigError(f"label {label} is outside the model's {p.shape[-1]} classes")
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.log(np.maximum(p, 1e-300))  # a finite value even for p = 0
        other = logp.copy()
        other[:, label] = -np.inf
        best_other = other.max(axis=1)
        m = best_other - logp[:, label] if targeted else logp[:, label] - best_other
    return np.where(np.isnan(p).any(axis=1), math.nan, m)  # type: ignore[no-any-return]
