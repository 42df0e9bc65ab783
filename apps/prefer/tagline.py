"""A product tagline assembled from phrase slots, chosen by a latent vector.

Each slot has a few phrases and owns one block of latent coordinates (one per phrase); the slot
shows the phrase whose coordinate is largest. The latent dimension is the total number of phrases
(25 for the default slots). Perturbing the latent flips some slots, so a ranking of perturbed
taglines (by a person, or by :class:`oracles.judge.LLMJudge`) moves the latent towards the
phrases that win, as ZO-RankSGD does for any ranking oracle (Tang, Rybin, Chang, ICLR 2024,
https://arxiv.org/abs/2303.03751).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from blackbox.errors import ConfigError

__all__ = ["SLOTS", "Tagline"]

SLOTS: tuple[tuple[str, ...], ...] = (
    ("Meet", "Discover", "Say hello to", "Introducing", "Wake up to"),
    ("smarter", "faster", "greener", "quieter", "bolder"),
    ("coffee", "mornings", "energy", "rituals", "breaks"),
    ("for everyone.", "made simple.", "without compromise.", "that just works.",
     "you will love."),
    ("", "Brewed fresh.", "Since 1999.", "Try it today.", "No beans about it."),
)


class Tagline:
    """``render(z) -> str``: ``"{opener} {product}: {adjective} {noun} {closer} {kicker}"``."""

    def __init__(self, product: str = "Brewly", slots: Sequence[Sequence[str]] = SLOTS) -> None:
        if not isinstance(product, str) or not product.strip():
            raise ConfigError("tagline demo: product must be a non-empty string")
        if not slots or any(len(s) < 2 for s in slots):
            raise ConfigError("tagline demo: every slot needs at least 2 phrases")
        self.product, self.slots = product, [tuple(s) for s in slots]
        self.dim = sum(len(s) for s in self.slots)

    def choice(self, z: Any) -> list[int]:
        z = np.asarray(z, dtype=np.float64)
        if z.shape != (self.dim,):
            raise ConfigError(f"tagline demo: latent must have shape ({self.dim},), got {z.shape}")
        out, i = [], 0
        for s in self.slots:
            out.append(int(np.argmax(z[i:i + len(s)])))
            i += len(s)
        return out

    def __call__(self, z: Any) -> str:
        return self.render(z)

    def render(self, z: Any) -> str:
        c = self.choice(z)
        words = [self.slots[0][c[0]], f"{self.product}:", *(s[j] for s, j in
                                                             zip(self.slots[1:], c[1:]))]
        return " ".join(w for w in words if w)
