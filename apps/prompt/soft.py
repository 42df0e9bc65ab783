"""Soft prompts by black-box tuning (BBT: Sun et al., "Black-Box Tuning for Language-Model-as-a-
Service", ICML 2022, https://arxiv.org/abs/2201.03514): ``z`` in R^d is mapped by a fixed random
projection ``A`` to ``n_tokens x hidden`` prompt vectors added to an initial prompt ``p0``,
``p = A z + p0``, sent as ``prompt_embeds`` before the text of a fixed template. ``A`` is drawn
from the run's key with BBT's scaling ``N(0, sigma_e / (sqrt(d) sigma_z))`` (``sigma_e``: the
model's embedding standard deviation, ``sigma_z``: the search scale), so ``A z`` has the spread
of real token embeddings when ``z`` has spread ``sigma_z``. ``p0`` is zero (an API client does
not see the model's embedding table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from blackbox.keys import Key

__all__ = ["SoftCandidate", "SoftSpace"]


@dataclass(frozen=True)
class SoftCandidate:
    head: str  # the template before the input
    tail: str  # after the input
    verbalizers: tuple[str, ...]
    embeds: tuple[tuple[float, ...], ...]

    def prefix(self, text: str) -> str:
        return f"{self.head}{text}{self.tail}"

    def extra(self) -> dict[str, Any]:
        return {"prompt_embeds": [list(v) for v in self.embeds]}

    def key(self) -> bytes:
        return np.asarray(self.embeds, dtype=np.float64).tobytes()


class SoftSpace:
    def __init__(self, *, d: int, n_tokens: int, hidden: int, key: Key, template: str,
                 verbalizers: tuple[str, ...], embed_std: float, sigma_z: float = 1.0) -> None:
        self.d, self.n_tokens, self.hidden, self.dim = d, n_tokens, hidden, d
        sigma = embed_std / (np.sqrt(d) * sigma_z)
        self.A = key.fold_in(20).numpy().standard_normal((n_tokens * hidden, d)) * sigma
        self.head, _, self.tail = template.partition("{text}")
        self.verbalizers = verbalizers

    def decode(self, z: NDArray[np.float64]) -> SoftCandidate:
        p = (self.A @ np.asarray(z, dtype=np.float64)).reshape(self.n_tokens, self.hidden)
        return SoftCandidate(self.head, self.tail, self.verbalizers,
                             tuple(tuple(float(x) for x in row) for row in p))

    def describe(self, z: NDArray[np.float64]) -> dict[str, Any]:
        return {"template": self.head + "{text}" + self.tail,
                "verbalizers": list(self.verbalizers), "n_tokens": self.n_tokens,
                "hidden": self.hidden, "d": self.d}
