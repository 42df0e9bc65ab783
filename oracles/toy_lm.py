"""A tiny deterministic character-level "language model" for offline serving and tests.

Next-character logits are ``B[prev] + mean(prompt_embeds) @ P`` over a 256-symbol byte vocabulary,
with ``B`` and ``P`` drawn once from ``Key(2024)``. It is smooth in the soft-prompt embeddings, so
soft-prompt tuning has a real signal, and cheap enough for thousands of requests per second.
Embeddings are hashed character trigrams (64-d, unit norm).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import log_softmax

from blackbox.keys import Key

__all__ = ["EMBED_DIM", "HIDDEN", "ToyLM", "toy_embedding"]

HIDDEN = 16
EMBED_DIM = 64


class ToyLM:
    """Byte-level bigram model with a soft-prompt term."""

    def __init__(self) -> None:
        gen = Key(2024).numpy()
        self.B = gen.standard_normal((256, 256)) * 2.0
        self.P = gen.standard_normal((HIDDEN, 256)) * 0.5

    @staticmethod
    def encode(text: str) -> list[int]:
        return list(text.encode("utf-8", errors="replace"))

    def logprobs(self, prev: int, soft: NDArray[np.float64] | None) -> NDArray[np.float64]:
        logits = self.B[prev] + (soft @ self.P if soft is not None else 0.0)
        return log_softmax(logits)

    def score(self, text: str, soft: NDArray[np.float64] | None = None) -> tuple[list[str], list[float | None]]:
        """Tokens (characters) of ``text`` and their log-probabilities (the first is ``None``)."""
        ids = self.encode(text)
        toks = [bytes([i]).decode("latin-1") for i in ids]
        lps: list[float | None] = [None]
        for a, b in zip(ids[:-1], ids[1:]):
            lps.append(float(self.logprobs(a, soft)[b]))
        return toks, lps

    def generate(self, text: str, max_tokens: int, soft: NDArray[np.float64] | None = None,
                 top: int = 0) -> tuple[str, list[dict[str, float]]]:
        """Greedy continuation (printable bytes only) and each step's top alternatives."""
        ids = self.encode(text) or [32]
        out, tops = [], []
        printable = np.zeros(256, bool)
        printable[32:127] = True
        for _ in range(max_tokens):
            lp = np.where(printable, self.logprobs(ids[-1], soft), -np.inf)
            nxt = int(np.argmax(lp))
            if top:
                best = np.argsort(-lp)[:top]
                tops.append({chr(int(i)): float(lp[i]) for i in best})
            ids.append(nxt)
            out.append(chr(nxt))
        return "".join(out), tops


def toy_embedding(text: str) -> list[float]:
    """A deterministic unit vector from hashed character trigrams."""
    v = np.zeros(EMBED_DIM)
    s = f"  {text}  "
    for i in range(len(s) - 2):
        h = hash_trigram(s[i:i + 3])
        v[h % EMBED_DIM] += 1.0 if (h >> 8) & 1 else -1.0
    n = np.linalg.norm(v)
    return (v / n if n else v).tolist()


def hash_trigram(t: str) -> int:
    h = 2166136261
    for ch in t.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h
