"""An LLM judge as a ranking oracle: pairwise comparisons through an OpenAI-compatible API.

:class:`LLMJudge` renders each point to a text (``render(point) -> str``) and, for every pair
``(i, j)`` of a group, asks the model twice, once with ``i`` as "A" and once with ``i`` as "B",
for one token, reading the log-probabilities of "A" and "B" among the first token's
``top_logprobs``. With ``p_AB(a, b) = P(A) / (P(A) + P(B))`` for the order (A = a, B = b),

    P(i beats j) = ( p_AB(i, j) + 1 - p_AB(j, i) ) / 2,

so a judge that always prefers the first position (``p_AB = c`` for every pair) gives exactly
1/2: asking in both orders cancels position bias (Zheng et al., "Judging LLM-as-a-Judge with
MT-Bench and Chatbot Arena", NeurIPS 2023 Datasets & Benchmarks, https://arxiv.org/abs/2306.05685,
Section 3.4, "swap positions"). The group is ranked by each candidate's expected wins
``sum_j P(i beats j)`` (a Borda count over the soft comparisons), best first; exact ties keep the
group's order.

Requests go through :class:`oracles.http.OpenAIClient` (concurrency, rate limits, retries, its
on-disk cache, token and cost accounting into the run's ledger); pairs of identical texts are
answered once per judge (``P = 1/2`` without a request for a text against itself). Works against
``blackbox serve`` and hosted APIs alike. A request that fails after all retries counts as a tie
and is listed in ``errors``. The ranking oracle semantics are those of Tang, Rybin, Chang,
ICLR 2024, https://arxiv.org/abs/2303.03751.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError
from blackbox.keys import Key

__all__ = ["LLMJudge", "prob_first"]

Array = NDArray[np.float64]
SYSTEM = "You are a careful judge. Reply with a single letter: A or B."


def prob_first(response: dict[str, Any]) -> float:
    """``P(A) / (P(A) + P(B))`` from a chat completion's first-token ``top_logprobs``.

    Tokens are compared after stripping spaces and case; a letter missing from the list gets
    the smallest listed log-probability minus 1. Without logprobs the reply's first letter
    decides (1, 0, or 1/2 for anything else).
    """
    choice = (response.get("choices") or [{}])[0]
    content = ((choice.get("logprobs") or {}).get("content") or [])
    lp: dict[str, list[float]] = {"A": [], "B": []}
    listed: list[float] = []
    if content:
        for t in content[0].get("top_logprobs") or []:
            v = float(t.get("logprob", -math.inf))
            listed.append(v)
            tok = str(t.get("token", "")).strip().upper()
            if tok in lp:
                lp[tok].append(v)
    if not (lp["A"] or lp["B"]):
        text = str((choice.get("message") or {}).get("content") or "").strip().upper()
        return 1.0 if text.startswith("A") else 0.0 if text.startswith("B") else 0.5
    floor = min(listed) - 1.0
    a = np.logaddexp.reduce(lp["A"]) if lp["A"] else floor
    b = np.logaddexp.reduce(lp["B"]) if lp["B"] else floor
    return float(1.0 / (1.0 + math.exp(b - a)))


class LLMJudge:
    """A ranking oracle: an LLM compares rendered candidates pairwise, in both orders.

    Args:
        client: an :class:`oracles.http.OpenAIClient` (or anything with ``map(path, bodies)``).
        render: ``point (d,) -> str``, the text the judge reads.
        dim: dimension of the points.
        criterion: the question put to the judge (e.g. "Which tagline is catchier?").
        system: the system message.
        top_logprobs: how many alternatives the API lists for the first token.
        name: the ledger's name for this oracle.

    Attributes:
        comparisons: ordered pairs asked (two per unordered pair of distinct texts).
        errors: failed requests (each counted as a tie).
    """

    sense = "max"

    def __init__(self, client: Any, render: Callable[[Array], str], *, dim: int,
                 criterion: str = "Which of the two texts is better?", system: str = SYSTEM,
                 top_logprobs: int = 20, name: str = "llm_judge") -> None:
        if not callable(getattr(client, "map", None)):
            raise ConfigError("LLMJudge.client must be an OpenAIClient (with map(path, bodies))")
        if not callable(render):
            raise ConfigError("LLMJudge.render must be a callable point -> str")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ConfigError(f"LLMJudge.dim must be an int >= 1, got {dim!r}")
        if not isinstance(criterion, str) or not criterion.strip():
            raise ConfigError("LLMJudge.criterion must be a non-empty string")
        if isinstance(top_logprobs, bool) or not isinstance(top_logprobs, int) or not (
                2 <= top_logprobs <= 20):
            raise ConfigError(
                f"LLMJudge.top_logprobs must be an int in [2, 20], got {top_logprobs!r}")
        self.client, self.render, self.dim, self.name = client, render, dim, name
        self.criterion, self.system, self.top_logprobs = criterion, system, top_logprobs
        self.comparisons = 0
        self.errors: list[str] = []
        self._memo: dict[tuple[str, str], float] = {}

    def attach_ledger(self, stats: Any) -> None:
        attach = getattr(self.client, "attach_ledger", None)
        if callable(attach):
            attach(stats)

    def body(self, a: str, b: str) -> dict[str, Any]:
        """The chat request comparing ``a`` (shown as A) with ``b`` (shown as B)."""
        user = f"{self.criterion}\n\nA: {a}\n\nB: {b}\n\nAnswer with A or B."
        return {"messages": [{"role": "system", "content": self.system},
                             {"role": "user", "content": user}],
                "max_tokens": 1, "temperature": 0.0, "logprobs": True,
                "top_logprobs": self.top_logprobs}

    def rank(self, points: Array, groups: Any, *, top: int, key: Key) -> NDArray[np.int64]:
        groups = np.asarray(groups, dtype=np.int64)
        texts = [str(self.render(p)) for p in np.asarray(points, dtype=np.float64)]
        self._ask_missing({(texts[i], texts[j]) for grp in groups
                           for a, b in combinations(grp.tolist(), 2)
                           for i, j in ((a, b), (b, a)) if texts[a] != texts[b]})
        out = []
        for grp in groups:
            wins = np.array([sum(self.p_beats(texts[i], texts[j]) for j in grp if j != i)
                             for i in grp])
            out.append(grp[np.argsort(-wins, kind="stable")[:top]])
        return np.stack(out)

    def p_beats(self, a: str, b: str) -> float:
        """``P(a beats b)`` averaged over both presentation orders (1/2 for equal texts)."""
        if a == b:
            return 0.5
        return 0.5 * (self._memo[(a, b)] + 1.0 - self._memo[(b, a)])

    def _ask_missing(self, pairs: set[tuple[str, str]]) -> None:
        todo = sorted(p for p in pairs if p not in self._memo)
        if not todo:
            return
        answers = self.client.map("/chat/completions", [self.body(a, b) for a, b in todo])
        self.comparisons += len(todo)
        for pair, ans in zip(todo, answers):
            if isinstance(ans, BaseException):
                self.errors.append(f"{type(ans).__name__}: {ans}")
                self._memo[pair] = 0.5
                continue
            try:
                self._memo[pair] = prob_first(ans)
            except (TypeError, ValueError, AttributeError) as exc:
                self.errors.append(f"decode: {exc}")
                self._memo[pair] = 0.5

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if callable(close):
            close()
