"""Label scoring through ``/v1/completions``: for each example, the log-probability of every
label's verbalizer after the prompt (``echo`` + ``logprobs``, ``max_tokens = 0``), summed over
the verbalizer's tokens (a word split into several tokens is handled), normalised over the label
set: cross-entropy and accuracy. One request per candidate prompt carries all its examples' label
continuations as a list of prompts, which the server scores in batched, prefix-cached passes.

APIs without completions echo (hosted chat APIs): :class:`apps.prompt.score_chat.ChatScorer`
reads the labels from the first answer token's ``top_logprobs``; :func:`make_scorer` picks one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import numpy as np
from numpy.typing import NDArray

from apps.prompt.data import Example
from blackbox.errors import ConfigError
from oracles.prompt_tasks import label_tokens

__all__ = ["SCORINGS", "Candidate", "Scorer", "correct", "make_scorer", "metrics"]

SCORINGS = ("completions", "chat")


class Candidate(Protocol):
    verbalizers: tuple[str, ...]

    def prefix(self, text: str) -> str: ...

    def extra(self) -> dict[str, Any]: ...


@dataclass
class Scorer:
    """Scores candidates on examples with one request per (candidate, chunk of examples);
    ``sep`` goes between the prompt and each verbalizer."""

    client: Any
    max_prompts: int = 512
    sep: str = " "
    calls: int = 0
    failures: list[str] = field(default_factory=list)

    def bodies(self, cand: Candidate, examples: Sequence[Example]
               ) -> list[tuple[dict[str, Any], list[int]]]:
        """Request bodies, each with where every prompt's verbalizer starts."""
        k = len(cand.verbalizers)
        per = max(1, self.max_prompts // k)
        out = []
        for s in range(0, len(examples), per):
            heads = [cand.prefix(e.text) for e in examples[s:s + per]]
            prompts = [h + self.sep + v for h in heads for v in cand.verbalizers]
            starts = [len(h) for h in heads for _ in cand.verbalizers]
            out.append(({"prompt": prompts, "echo": True, "logprobs": 0, "max_tokens": 0,
                         **cand.extra()}, starts))
        return out

    def logprobs(self, cands: Sequence[Candidate], examples: Sequence[Example]
                 ) -> NDArray[np.float64]:
        """``(candidates, examples, labels)`` log-probabilities; NaN where a request failed."""
        plan = [self.bodies(c, examples) for c in cands]
        flat = [b for bs in plan for b, _ in bs]
        self.calls += len(flat)
        answers = self.client.map("/completions", flat)
        k = len(cands[0].verbalizers) if cands else 0
        out = np.full((len(cands), len(examples), k), math.nan)
        at = 0
        for ci, bs in enumerate(plan):
            row: list[float] = []
            for (_, starts), ans in zip(bs, answers[at:at + len(bs)]):
                row += self._parse(starts, ans)
            at += len(bs)
            out[ci] = np.asarray(row, dtype=np.float64).reshape(len(examples), k)
        return out

    def _parse(self, starts: list[int], ans: Any) -> list[float]:
        n = len(starts)
        if isinstance(ans, BaseException):
            self.failures.append(f"{type(ans).__name__}: {ans}")
            return [math.nan] * n
        try:
            choices = sorted(ans["choices"], key=lambda c: c.get("index", 0))
            vals = [float(sum(label_tokens(c, start))) for start, c in zip(starts, choices)]
            if len(vals) != n:
                raise ValueError(f"{len(vals)} choices for {n} prompts")
            return vals
        except (KeyError, TypeError, ValueError) as exc:
            self.failures.append(f"bad response: {exc}")
            return [math.nan] * n


def make_scorer(scoring: str, client: Any, **options: Any) -> Any:
    """The scorer for ``scoring``: ``"completions"`` (:class:`Scorer`, echo + logprobs) or
    ``"chat"`` (:class:`apps.prompt.score_chat.ChatScorer`, first-token ``top_logprobs``)."""
    if scoring == "completions":
        return Scorer(client, **options)
    if scoring == "chat":
        from apps.prompt.score_chat import ChatScorer

        return ChatScorer(client, **options)
    raise ConfigError(f"scoring must be one of {', '.join(SCORINGS)}, got {scoring!r}")


def correct(lp: NDArray[np.float64], examples: Sequence[Example]) -> NDArray[np.bool_]:
    """Per example: the highest label log-probability is the true label's (a NaN row: wrong)."""
    y = np.array([e.label for e in examples])
    pred = np.where(np.isnan(lp).any(-1), -1, np.argmax(np.nan_to_num(lp, nan=-np.inf), -1))
    return np.asarray(pred == y)


def metrics(lp: NDArray[np.float64], examples: Sequence[Example]) -> tuple[float, float]:
    """Mean cross-entropy of the true label under the label-normalised distribution, and
    accuracy (NaN rows count as wrong; the cross-entropy is then NaN)."""
    y = np.array([e.label for e in examples])
    norm = lp - np.logaddexp.reduce(lp, axis=-1, keepdims=True)
    ce = float(-np.mean(norm[np.arange(len(y)), y]))
    return ce, float(np.mean(correct(lp, examples)))
