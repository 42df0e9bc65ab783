"""Label scoring through ``/v1/chat/completions``, for any OpenAI-compatible chat API (hosted
ones included, which do not echo prompt log-probabilities): the prompt is one user message, the
request asks for one token with ``logprobs: true`` and ``top_logprobs: K`` (``K <= 20``, the
hosted APIs' limit), and each label's log-probability is read from the first answer token's
``top_logprobs`` (``choices[0].logprobs.content[0].top_logprobs[*].{token, logprob}``), then
normalised over the label set by :func:`apps.prompt.score.metrics`, as with the completions
scorer. This is how LM-as-a-service classification reads labels when only the next-token
top-K is visible (e.g. Sun et al., BBT, https://arxiv.org/abs/2201.03514, score verbalizer
tokens at one position).

Stated rules (the client has no tokenizer):

* a returned token *matches* a verbalizer when its text, without surrounding whitespace, is a
  non-empty prefix of the verbalizer (case-sensitive): a multi-token verbalizer is read from
  its **first token** only ("unbelievable" from "unbel"); among the matches the longest wins,
  and equal-length spellings of it (``"positive"``, ``" positive"``) are summed in probability;
* a verbalizer with no match in the top K gets the **floor**: by default the largest
  log-probability an unlisted token can have, ``min(lowest listed logprob, log(1 - sum of
  listed probabilities))``, so an absent label is never ranked above a listed one; a fixed
  number may be given instead (``floor=-30.0``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from numpy.typing import NDArray

from apps.prompt.data import Example
from blackbox.errors import ConfigError

__all__ = ["ChatScorer", "floor_of", "read_labels"]

MAX_TOP_LOGPROBS = 20  # the hosted chat APIs' limit


def floor_of(tops: Sequence[tuple[str, float]]) -> float:
    """The largest log-probability a token missing from ``tops`` can have."""
    lps = [lp for _, lp in tops]
    if not lps:
        return -math.inf
    rest = 1.0 - float(np.sum(np.exp(lps)))
    return min(min(lps), math.log(rest)) if rest > 0 else min(lps)


def read_labels(tops: Sequence[tuple[str, float]], verbalizers: Sequence[str],
                floor: float | None = None) -> list[float]:
    """Each verbalizer's first-token log-probability from ``(token, logprob)`` pairs; the
    floor (see the module's rules) where none matches."""
    low = floor_of(tops) if floor is None else float(floor)
    out = []
    for v in verbalizers:
        best, lps = 0, []
        for tok, lp in tops:
            t = tok.strip()
            if not t or not v.startswith(t) or len(t) < best:
                continue
            if len(t) > best:
                best, lps = len(t), []
            lps.append(lp)
        out.append(float(np.logaddexp.reduce(lps)) if lps else low)
    return out


def _tops(ans: dict[str, Any]) -> list[tuple[str, float]]:
    first = ans["choices"][0]["logprobs"]["content"][0]
    pairs = [(str(t["token"]), float(t["logprob"])) for t in first.get("top_logprobs") or []]
    if "token" in first and all(t != first["token"] for t, _ in pairs):
        pairs.append((str(first["token"]), float(first["logprob"])))  # the sampled token
    if not pairs:
        raise ValueError("no top_logprobs in the answer (does the API support logprobs?)")
    return pairs


@dataclass
class ChatScorer:
    """Scores candidates on examples with one chat request per (candidate, example).

    Args:
        client: an :class:`oracles.http.OpenAIClient` (its cache, retries and limits apply).
        top_logprobs: ``K``, alternatives listed for the first answer token (1..20).
        floor: log-probability of a verbalizer missing from the top K; ``None``: the bound.
        system: an optional system message sent before the prompt.
    """

    client: Any
    top_logprobs: int = MAX_TOP_LOGPROBS
    floor: float | None = None
    system: str | None = None
    calls: int = 0
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        k = self.top_logprobs
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_TOP_LOGPROBS:
            raise ConfigError(f"ChatScorer.top_logprobs must be an int in [1, "
                              f"{MAX_TOP_LOGPROBS}] (the hosted APIs' limit), got {k!r}")
        if self.floor is not None and not (isinstance(self.floor, (int, float))
                                           and math.isfinite(self.floor)):
            raise ConfigError(f"ChatScorer.floor must be a finite number or None, "
                              f"got {self.floor!r}")

    def body(self, cand: Any, text: str) -> dict[str, Any]:
        if cand.extra():
            raise ConfigError(f"chat scoring sends text only; the candidate needs "
                              f"{sorted(cand.extra())} (soft prompts: use completions scoring)")
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        msgs.append({"role": "user", "content": cand.prefix(text)})
        return {"messages": msgs, "max_tokens": 1, "temperature": 0, "logprobs": True,
                "top_logprobs": self.top_logprobs}

    def logprobs(self, cands: Sequence[Any], examples: Sequence[Example]
                 ) -> NDArray[np.float64]:
        """``(candidates, examples, labels)`` log-probabilities; NaN where a request failed."""
        bodies = [self.body(c, e.text) for c in cands for e in examples]  # all checks first
        self.calls += len(bodies)
        answers = self.client.map("/chat/completions", bodies) if bodies else []
        k = len(cands[0].verbalizers) if cands else 0
        out = np.full((len(cands), len(examples), k), math.nan)
        for j, ans in enumerate(answers):
            ci, ei = divmod(j, len(examples))
            out[ci, ei] = self._parse(cands[ci].verbalizers, ans)
        return out

    def _parse(self, verbalizers: Sequence[str], ans: Any) -> list[float]:
        if isinstance(ans, BaseException):
            self.failures.append(f"{type(ans).__name__}: {ans}")
            return [math.nan] * len(verbalizers)
        try:
            return read_labels(_tops(ans), verbalizers, self.floor)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            self.failures.append(f"bad response: {exc}")
            return [math.nan] * len(verbalizers)
