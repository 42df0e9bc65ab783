"""Search over prompts at a fixed number of API calls: BDPL's policy gradient over the discrete
slots, uniform random search, and any registered strategy of this framework (CMA-ES through
nevergrad, ZO-SGD, ZO-RankSGD from pairwise comparisons, ...) on the relaxed point ``z``.

An API call is one request to the model (one candidate scored on the training examples); a
candidate scored before is not re-sent (memoised here, and the response cache covers re-runs),
so every method gets the same number of distinct scored candidates.

The final prompt of every method is chosen the same way (:func:`select`): its ``top`` best
candidates on the training examples are re-scored on the dev examples and the most accurate on
train and dev together wins; 32 training examples alone pick noise (on the tweets, the weak
starting template scores 81% on one such set and 64% on 200 held-out tweets). With
``ensemble=M`` the M best of them on train and dev answer together (:func:`ensemble_logprobs`:
their label probabilities averaged; prompt ensembling as in Jiang et al., "How Can We Know What
Language Models Know?", TACL 2020, https://arxiv.org/abs/1911.12543), M times the inference
cost for steadier accuracy.

With ``calibrate`` each candidate's label scores get per-label offsets fitted on the training
examples (:func:`fit_bias`; contextual calibration, Zhao et al., "Calibrate Before Use", ICML
2021, https://arxiv.org/abs/2102.09690, with the offsets fitted to the training labels instead of
a content-free input): a small model's prompts mostly differ in how much they lean to one label,
and the offsets travel with the prompt to dev and test. No extra API call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from apps.prompt.data import Example
from apps.prompt.score import Scorer, metrics
from blackbox.keys import Key

__all__ = ["Evaluator", "PointOracle", "Selection", "bdpl", "ensemble_logprobs", "fit_bias",
           "random_candidates", "run_strategy", "select"]


def fit_bias(lp: NDArray[np.float64], examples: Sequence[Example], steps: int = 300,
             bound: float = 20.0) -> NDArray[np.float64]:
    """Offsets ``b`` (summing to 0) minimising the cross-entropy of ``softmax(lp + b)`` on the
    labelled ``examples`` (convex; gradient descent); rows with NaN are left out."""
    k = lp.shape[-1]
    ok = ~np.isnan(lp).any(-1)
    b = np.zeros(k)
    if not ok.any():
        return b
    x = lp[ok] - lp[ok].max(-1, keepdims=True)
    onehot = np.eye(k)[np.array([e.label for e in examples])[ok]]
    for _ in range(steps):
        z = np.exp(x + b)
        b = np.clip(b - 2.0 * (z / z.sum(-1, keepdims=True) - onehot).mean(0), -bound, bound)
    return b - b.mean()


@dataclass
class Evaluator:
    """Training cross-entropy of candidates (the value the methods minimise), memoised, and the
    incumbent: the most accurate candidate on the training examples, ties broken by the lower
    cross-entropy (cross-entropy alone favours well-calibrated but less accurate prompts)."""

    scorer: Scorer
    examples: Sequence[Example]
    budget: int
    progress: Any = None
    seen: dict[Hashable, float] = field(default_factory=dict)
    cands: dict[Hashable, Any] = field(default_factory=dict)
    trace: list[tuple[int, float, Hashable]] = field(default_factory=list)  # calls, best, key
    best: tuple[float, Hashable | None] = (math.inf, None)  # cross-entropy of the incumbent
    rank: tuple[float, float] = (-math.inf, -math.inf)  # (accuracy, -cross-entropy)
    accuracy: dict[Hashable, float] = field(default_factory=dict)
    calibrate: bool = False
    bias: dict[Hashable, NDArray[np.float64]] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        return len(self.seen)

    def done(self) -> bool:
        return self.calls >= self.budget

    def many(self, cands: Sequence[Any], keys: Sequence[Hashable]) -> NDArray[np.float64]:
        new = [i for i, k in enumerate(keys) if k not in self.seen]
        fresh: dict[Hashable, int] = {}
        for i in new:
            fresh.setdefault(keys[i], i)
        room = max(0, self.budget - self.calls)
        todo = list(fresh.items())[:room]
        if todo:
            lp = self.scorer.logprobs([cands[i] for _, i in todo], self.examples)
            for (k, i), row in zip(todo, lp):
                if self.calibrate:
                    self.bias[k] = fit_bias(row, self.examples)
                ce, acc = metrics(self.adjust(k, row), self.examples)
                self.seen[k], self.cands[k], self.accuracy[k] = ce, cands[i], acc
                if np.isfinite(ce) and (acc, -ce) > self.rank:  # NaN never wins
                    self.best, self.rank = (ce, k), (acc, -ce)
                self.trace.append((self.calls, self.best[0], self.best[1]))
                if self.progress is not None:
                    self.progress.update(self.calls, self.best[0])
        return np.array([self.seen.get(k, math.nan) for k in keys])

    def adjust(self, key: Hashable, lp: NDArray[np.float64]) -> NDArray[np.float64]:
        """A candidate's label log-probabilities (any examples) with its fitted offsets."""
        return lp + self.bias[key] if key in self.bias else lp

    def ranked(self) -> list[Hashable]:
        """Scored candidates, most accurate first (ties: lower cross-entropy); NaN ones last."""
        ok = [k for k in self.seen if np.isfinite(self.seen[k])]
        return sorted(ok, key=lambda k: (-self.accuracy[k], self.seen[k]))


@dataclass
class Selection:
    """The chosen candidate and what the choice saw: per re-scored key, its dev accuracy and
    cross-entropy, and the pooled (train and dev) accuracy that decided; ``members``: the
    ensemble, best first (``[key]`` for a single prompt)."""

    key: Hashable | None
    dev: dict[Hashable, tuple[float, float]] = field(default_factory=dict)
    pooled: dict[Hashable, float] = field(default_factory=dict)
    calls: int = 0
    members: list[Hashable] = field(default_factory=list)


def select(ev: Evaluator, scorer: Scorer, dev: Sequence[Example], top: int,
           ensemble: int = 1) -> Selection:
    """The ``top`` candidates most accurate on the training examples, re-scored on ``dev`` (one
    request each); the winner is the most accurate on train and dev together (ties: lower
    pooled cross-entropy), and ``members`` are the ``ensemble`` best by that rule. With
    ``top <= 1`` or no dev examples: the training incumbent (and the next best on train)."""
    keys = ev.ranked()[:max(top, 1)]
    if top <= 1 or not dev or len(keys) == 0:
        key = keys[0] if keys else ev.best[1]
        return Selection(key, members=(keys[:max(ensemble, 1)] if keys else [key]))
    lp = scorer.logprobs([ev.cands[k] for k in keys], dev)
    nt, nd = len(ev.examples), len(dev)
    sel = Selection(None, calls=len(keys))
    score: dict[Hashable, tuple[float, float]] = {}
    for k, row in zip(keys, lp):
        ce, acc = metrics(ev.adjust(k, row), dev)
        sel.dev[k] = (acc, ce)
        pooled = ((ev.accuracy[k] * nt + acc * nd) / (nt + nd),
                  -(ev.seen[k] * nt + ce * nd) / (nt + nd))
        sel.pooled[k] = pooled[0]
        if np.isfinite(pooled[1]):  # a failed dev request never wins
            score[k] = pooled
    ranked = sorted(score, key=lambda k: score[k], reverse=True) or keys[:1]
    sel.key, sel.members = ranked[0], ranked[:max(ensemble, 1)]
    return sel


def ensemble_logprobs(rows: Sequence[NDArray[np.float64]]) -> NDArray[np.float64]:
    """Label log-probabilities of an ensemble: the log of its members' label-normalised
    probabilities averaged (a NaN in any member's row makes that row NaN)."""
    with np.errstate(invalid="ignore"):  # NaN rows stay NaN
        probs = [np.exp(r - np.logaddexp.reduce(r, axis=-1, keepdims=True)) for r in rows]
    return np.log(np.mean(probs, axis=0))


class PointOracle:
    """A value oracle on ``z`` for this framework's strategies: decode, score on train."""

    def __init__(self, ev: Evaluator, decode: Callable[[NDArray[np.float64]], Any],
                 key_of: Callable[[Any], Hashable], dim: int, name: str) -> None:
        self.ev, self.decode, self.key_of = ev, decode, key_of
        self.dim, self.sense, self.name = dim, "min", name

    def values(self, points: NDArray[np.float64], *, key: Any = None) -> NDArray[np.float64]:
        cands = [self.decode(p) for p in points]
        vals = self.ev.many(cands, [self.key_of(c) for c in cands])
        return np.where(np.isnan(vals), math.inf, vals)  # over budget: never the best


def run_strategy(ev: Evaluator, oracle: PointOracle, strategy: Any, x0: NDArray[np.float64],
                 seed: int, journal: str | None) -> None:
    """Runs a registered strategy until the evaluator's budget of distinct candidates is spent."""
    from blackbox import Budget, minimize

    strat = dict(strategy) if isinstance(strategy, dict) else {"name": strategy}
    if strat.get("name") == "zo_ranksgd":  # from pairwise comparisons of decoded prompts
        from oracles.ranking import Pairwise, ranker

        strat = {"m": 2, "k": 1, "line_search": False, "mu": 0.5, **strat}
        target: Any = Pairwise(ranker(oracle))
    else:
        target = oracle
    minimize(target, strat, x0, seed=seed, budget=Budget(max_queries=50 * ev.budget + 50),
             callbacks=[lambda info: ev.done()], journal=journal, progress=False)


def random_candidates(ev: Evaluator, sizes: Sequence[int], make: Callable[[list[int]], Any],
                      key: Key, per_step: int = 4) -> None:
    """Uniform random search over the slot choices."""
    step = 0
    while not ev.done() and step < 50 * ev.budget:
        gen = key.fold_in(step).numpy()
        idx = [[int(gen.integers(n)) for n in sizes] for _ in range(per_step)]
        cands = [make(i) for i in idx]
        ev.many(cands, [c.key() for c in cands])
        step += 1


def bdpl(ev: Evaluator, sizes: Sequence[int], make: Callable[[list[int]], Any], key: Key,
         start: Sequence[int], *, samples: int = 4, lr: float = 1.0, init: float = 1.0
         ) -> list[int]:
    """BDPL (Diao et al. 2023, Algorithm 1): independent categorical distributions per slot,
    ``samples`` prompts drawn per step, the variance-reduced policy gradient
    ``g = 1/(I-1) sum_i (L_i - mean L) grad log p(prompt_i)`` (``grad log softmax = onehot - p``),
    ``alpha <- alpha - lr * g / std(L)``; the logits start ``init`` above uniform at ``start``.
    Returns the most likely prompt's choices.

    A policy that has settled samples only prompts already scored, which cost no call; so that
    the budget is spent (every method gets the same number of calls), each such step in a row
    doubles a temperature on the logits (up to 64x) and the next new prompt resets it."""
    alpha = [np.zeros(n) for n in sizes]
    for a, s in zip(alpha, start):
        a[s] = init
    step = stale = 0
    while not ev.done() and step < 50 * ev.budget:
        gen = key.fold_in(step).numpy()
        probs = [_softmax(a / 2.0 ** min(stale, 6)) for a in alpha]
        idx = [[int(gen.choice(len(p), p=p)) for p in probs] for _ in range(samples)]
        cands = [make(i) for i in idx]
        before = ev.calls
        losses = ev.many(cands, [c.key() for c in cands])
        stale = 0 if ev.calls > before else stale + 1
        ok = np.isfinite(losses)
        step += 1
        if ok.sum() < 2:
            continue
        adv = (losses - losses[ok].mean()) / (losses[ok].std() + 1e-8)
        for j, p in enumerate(probs):
            g = np.zeros_like(p)
            for i in np.flatnonzero(ok):
                g += adv[i] * (np.eye(len(p))[idx[i][j]] - p)
            alpha[j] -= lr * g / (ok.sum() - 1)
    return [int(np.argmax(a)) for a in alpha]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()
