"""The ``tune-prompt`` workflow: a task, a method and its baselines at equal API calls, held-out
test accuracy for each, a dev-accuracy learning curve, all requests cached in the run's folder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from apps.prompt.data import PromptTask
from apps.prompt.discrete import (
    SENTIMENT_VERBALIZERS,
    ChatFormat,
    DiscreteSpace,
    seed_instructions,
)
from apps.prompt.paraphrase import Paraphrases, paraphrase, plan
from apps.prompt.score import Scorer, correct, make_scorer, metrics
from apps.prompt.search import (
    Evaluator,
    PointOracle,
    Selection,
    bdpl,
    ensemble_logprobs,
    fit_bias,
    random_candidates,
    run_strategy,
    select,
)
from apps.prompt.soft import SoftSpace
from apps.prompt.stats import paired_tests
from blackbox.errors import ConfigError
from blackbox.keys import Key
from blackbox.progress import ProgressBar

__all__ = ["Settings", "tune"]

CMA = {"name": "nevergrad", "optimizer": "CMA", "num_workers": 4}


@dataclass
class Settings:
    mode: str
    strategy: str
    budget: int
    seed: int
    out: Path
    make_client: Callable[[], Any]
    baselines: tuple[str, ...] = ("manual", "random", "cma")
    opts: dict[str, Any] = field(default_factory=dict)
    progress: bool = True
    template: str = "{input}: {text}\nSentiment:"
    hidden: int | None = None
    d: int = 500
    n_tokens: int = 5
    embed_std: float = 0.136
    k_demos: int = 0
    instruction_first: tuple[bool, ...] = (False,)
    chat: ChatFormat | None = None  # discrete: a chat format searched next to plain text
    select_top: int = 4  # discrete: candidates re-scored on dev for the final choice
    ensemble: int = 3  # discrete: the best of them on train+dev answering together
    paraphrases: int = 0  # discrete: instructions the served model writes (InstructZero)
    paraphrase_endpoint: str = "chat"
    calibrate: bool = True  # discrete: per-label offsets fitted on train travel with each prompt
    model: str = "default"
    scoring: str = "completions"  # or "chat": first-token top_logprobs, for hosted chat APIs
    scoring_opts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Method:
    name: str
    final: Any  # the chosen candidate
    ev: Evaluator | None
    seconds: float
    selection: Selection | None = None

    def adjust(self, lp: np.ndarray) -> np.ndarray:
        """The final prompt's label log-probabilities with its fitted offsets (if any)."""
        if self.ev is None or self.selection is None or self.selection.key is None:
            return lp
        return self.ev.adjust(self.selection.key, lp)

    @property
    def members(self) -> list[Any]:
        """The candidates that answer together (the final one first)."""
        if self.ev is None or self.selection is None or len(self.selection.members) < 2:
            return [self.final]
        return [self.ev.cands[k] for k in self.selection.members]

    def combine(self, rows: list[np.ndarray]) -> np.ndarray:
        """The members' label log-probabilities (in ``members`` order), each with its offsets,
        as one ensemble answer."""
        if len(rows) == 1:
            return self.adjust(rows[0])
        assert self.ev is not None and self.selection is not None
        return ensemble_logprobs([self.ev.adjust(k, r)
                                  for k, r in zip(self.selection.members, rows)])


def _strategy(name: str, opts: dict[str, Any]) -> Any:
    if name == "cma":
        return {**CMA, **opts}
    return {"name": name, **opts}


def _run_discrete(s: Settings, task: PromptTask, name: str, space: DiscreteSpace,
                  scorer_for: Callable[[], Scorer]) -> Method:
    t0 = time.perf_counter()
    start = space.start()
    if name == "manual":
        return Method(name, space.candidate(start), None, 0.0)
    bar = ProgressBar(s.budget, unit="calls", label=f"[{name}]") if s.progress else None
    ev = Evaluator(scorer_for(), task.train, s.budget, progress=bar, calibrate=s.calibrate)
    key = Key(s.seed).fold_in(hash_name(name))
    if name == "bdpl":
        bdpl(ev, space.sizes, space.candidate, key, start, **s.opts)
    elif name == "random":
        ev.many([space.candidate(start)], [space.candidate(start).key()])
        random_candidates(ev, space.sizes, space.candidate, key)
    else:
        oracle = PointOracle(ev, space.decode, lambda c: c.key(), space.dim, name)
        opts = s.opts if name == s.strategy else {}
        run_strategy(ev, oracle, _strategy(name, opts), space.encode(start), s.seed, None)
    if bar is not None:
        bar.close(ev.calls, ev.best[0])
    sel = select(ev, ev.scorer, task.dev, s.select_top, s.ensemble)
    final = ev.cands[sel.key] if sel.key is not None else space.candidate(start)
    return Method(name, final, ev, time.perf_counter() - t0, sel)


def hash_name(name: str) -> int:
    return sum((i + 1) * ord(c) for i, c in enumerate(name))


def _run_soft(s: Settings, task: PromptTask, name: str, space: SoftSpace,
              scorer_for: Callable[[], Scorer]) -> Method:
    t0 = time.perf_counter()
    z0 = np.zeros(space.dim)
    if name == "manual":
        return Method(name, space.decode(z0), None, 0.0)
    bar = ProgressBar(s.budget, unit="calls", label=f"[{name}]") if s.progress else None
    ev = Evaluator(scorer_for(), task.train, s.budget, progress=bar)
    oracle = PointOracle(ev, space.decode, lambda c: c.key(), space.dim, name)
    ev.many([space.decode(z0)], [space.decode(z0).key()])
    strat = {"name": "random_search", "sigma": 1.0} if name == "random" else _strategy(
        name, s.opts if name == s.strategy else {})
    run_strategy(ev, oracle, strat, z0, s.seed, None)
    if bar is not None:
        bar.close(ev.calls, ev.best[0])
    return Method(name, ev.cands[ev.best[1]], ev, time.perf_counter() - t0)


def _probe_soft(client: Any, space: SoftSpace) -> None:
    """One request with zero prompt vectors: a server without ``prompt_embeds`` is told apart
    before any tuning request."""
    from blackbox.errors import OracleHTTPError

    body = {"prompt": "x", "echo": True, "logprobs": 0, "max_tokens": 0,
            "prompt_embeds": np.zeros((space.n_tokens, space.hidden)).tolist()}
    try:
        client.request("/completions", body)
    except OracleHTTPError as exc:
        raise ConfigError(f"the server does not accept prompt_embeds ({exc.args[0][:80]}); "
                          "use --mode discrete") from None


def tune(s: Settings, task: PromptTask) -> dict[str, Any]:
    """Runs the method and the baselines; writes ``report.json`` (and the PNG) into ``s.out``."""
    t0 = time.perf_counter()
    if s.mode == "discrete":
        plan(seed_instructions(task), s.paraphrases, Key(s.seed))  # checked before any output
    s.out.mkdir(parents=True, exist_ok=True)
    scorers: list[Scorer] = []

    def scorer_for() -> Scorer:
        scorers.append(make_scorer(s.scoring, s.make_client(), **s.scoring_opts))
        return scorers[-1]

    names = [s.strategy] + [b for b in s.baselines if b != s.strategy]
    para = Paraphrases([], [], 0)
    if s.mode == "discrete":
        pool = SENTIMENT_VERBALIZERS if set(task.labels) == {"positive", "negative"} else ()
        pool = tuple(v if task.labels[0] == "positive" else v[::-1] for v in pool)
        if s.paraphrases:
            para = paraphrase(s.make_client, seed_instructions(task), s.paraphrases, s.out,
                              Key(s.seed).fold_in(hash_name("paraphrase")), model=s.model,
                              endpoint=s.paraphrase_endpoint, labels=task.labels)
        space: Any = DiscreteSpace(task, verbalizer_pool=pool, k_demos=s.k_demos,
                                   instruction_first=s.instruction_first,
                                   extra_instructions=para.kept, chat=s.chat)
        methods = [_run_discrete(s, task, n, space, scorer_for) for n in names]
    else:
        if s.hidden is None:
            raise ConfigError("--hidden: the model's embedding width is needed in soft mode")
        space = SoftSpace(d=s.d, n_tokens=s.n_tokens, hidden=s.hidden, key=Key(s.seed),
                          template=s.template.replace("{input}", task.input_name),
                          verbalizers=task.verbalizers, embed_std=s.embed_std)
        probe = scorer_for()
        _probe_soft(probe.client, space)
        methods = [_run_soft(s, task, n, space, scorer_for) for n in names]
    evals = scorer_for()
    right, single = _test(methods, evals, task)
    test = {name: float(np.mean(r)) for name, r in right.items()}
    start_cand = (space.candidate(space.start()) if s.mode == "discrete"
                  else space.decode(np.zeros(space.dim)))
    start_acc = metrics(evals.logprobs([start_cand], task.test)[0], task.test)[1]
    tuned = methods[0]
    curve = _curve(tuned, evals, task)
    report = _report(s, task, methods, test, start_acc, curve, scorers, space,
                     time.perf_counter() - t0)
    if s.mode == "discrete":
        report.update(_discrete_report(s, task, methods, space, para))
        report["test_accuracy_single"] = single
        if s.calibrate:
            calibrated, right["start_calibrated"] = _start_calibrated(evals, task, start_cand)
            report.update(calibrated)
            report["tuned_prompt"]["label_offsets"] = [float(x) for x in tuned.adjust(
                np.zeros(len(task.labels)))]
        if len(tuned.members) > 1:
            report["tuned_prompt"]["ensemble"] = _members(tuned, len(task.labels))
    report["test_significance"] = paired_tests(right, tuned.name)
    _write(s, report, tuned, space, curve)
    for sc in scorers:
        sc.client.close()
    return report


def _test(methods: list[Method], evals: Scorer,
          task: PromptTask) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Per method, which test examples its final answer (the ensemble, if any) gets right, and
    the test accuracy of its single best prompt."""
    cands = [c for m in methods for c in m.members]
    lp = list(evals.logprobs(cands, task.test))
    right, single = {}, {}
    for m in methods:
        n = len(m.members)
        rows, lp = lp[:n], lp[n:]
        right[m.name] = correct(m.combine(rows), task.test)
        single[m.name] = float(np.mean(correct(m.adjust(rows[0]), task.test)))
    return right, single


def _members(m: Method, n_labels: int) -> list[dict[str, Any]]:
    """The ensemble's prompts, best first, each with its label offsets."""
    assert m.ev is not None and m.selection is not None
    return [{**m.ev.cands[k].describe(),
             "label_offsets": [float(x) for x in m.ev.adjust(k, np.zeros(n_labels))]}
            for k in m.selection.members]


def _curve(m: Method, evals: Scorer, task: PromptTask) -> list[tuple[int, float]]:
    """Dev accuracy of the incumbent (best on train so far) after each API call that changed it."""
    if m.ev is None:
        return []
    points, keys = [], []
    for calls, _, key in m.ev.trace:
        if key is not None and (not keys or key != keys[-1]):
            points.append(calls)
            keys.append(key)
    if not keys:
        return []
    lp = evals.logprobs([m.ev.cands[k] for k in keys], task.dev)
    curve = [(c, metrics(m.ev.adjust(k, row), task.dev)[1]) for c, k, row in zip(points, keys, lp)]
    return curve + [(m.ev.calls, curve[-1][1])]


def _report(s: Settings, task: PromptTask, methods: list[Method], test: dict[str, float],
            start_acc: float, curve: list[tuple[int, float]], scorers: list[Scorer],
            space: Any, seconds: float) -> dict[str, Any]:
    tuned = methods[0]
    clients = [sc.client for sc in scorers]
    sent = sum(c.stats.requests for c in clients)
    hits = sum(c.stats.cache_hits for c in clients)
    tokens = sum(c.stats.prompt_tokens + c.stats.completion_tokens for c in clients)
    prompt = (tuned.final.describe() if s.mode == "discrete" else
              {**space.describe(None), "vector_file": "soft_prompt.npy"})
    return {
        "mode": s.mode, "strategy": s.strategy, "seed": s.seed, "budget": s.budget,
        "labels": list(task.labels),
        "splits": {"train": len(task.train), "dev": len(task.dev), "test": len(task.test)},
        "test_accuracy_start": start_acc, "test_accuracy_tuned": test[tuned.name],
        "baselines": {m.name: test[m.name] for m in methods[1:]},
        "api_calls": tuned.ev.calls if tuned.ev else 0,
        "api_calls_per_method": {m.name: (m.ev.calls if m.ev else 0) for m in methods},
        "train_cross_entropy": {m.name: (m.ev.best[0] if m.ev else None) for m in methods},
        "train_accuracy": {m.name: (m.ev.rank[0] if m.ev else None) for m in methods},
        "seconds_per_method": {m.name: m.seconds for m in methods},
        "requests_sent": sent, "cache_hits": hits, "tokens": tokens,
        "seconds": seconds, "tuned_prompt": prompt,
        "learning_curve": [{"api_calls": c, "dev_accuracy": a} for c, a in curve],
        "failed_requests": sum(len(sc.failures) for sc in scorers),
    }


def _start_calibrated(evals: Scorer, task: PromptTask,
                      start: Any) -> tuple[dict[str, Any], np.ndarray]:
    """The starting template with offsets fitted on train (one scoring call, usually cached),
    and which test examples it gets right."""
    b = fit_bias(evals.logprobs([start], task.train)[0], task.train)
    right = correct(evals.logprobs([start], task.test)[0] + b, task.test)  # (cached)
    return {"test_accuracy_start_calibrated": float(np.mean(right)),
            "calibration": "per-label offsets fitted on the training examples (Zhao et al. "
                           "2021) travel with every searched prompt to dev and test; the "
                           "manual baseline is the starting template as written"}, right


def _discrete_report(s: Settings, task: PromptTask, methods: list[Method], space: Any,
                     para: Paraphrases) -> dict[str, Any]:
    """The search space, how each final prompt was chosen, and the paraphrase requests (text
    generation, counted apart from the scoring calls in ``api_calls``)."""
    sel = {m.name: m.selection for m in methods if m.selection is not None}
    return {
        "search_space": {"instructions": len(space.instructions),
                         "instruction_first": space.positions, "answers": space.answers,
                         "verbalizers": [list(v) for v in space.verbalizers],
                         "formats": [f.name for f in space.formats],
                         "k_demos": space.k_demos, "size": int(np.prod(space.sizes))},
        "selection": {"top": s.select_top, "dev_examples": len(task.dev),
                      "ensemble": s.ensemble,
                      "rule": "top candidates on train re-scored on dev; most accurate on "
                              "train+dev wins (ties: lower cross-entropy); with ensemble M "
                              "the M best average their label probabilities"},
        "selection_calls_per_method": {n: x.calls for n, x in sel.items()},
        "dev_accuracy_selected": {n: (x.dev.get(x.key, (None,))[0]) for n, x in sel.items()},
        "train_accuracy_selected": {m.name: m.ev.accuracy.get(m.selection.key) for m in methods
                                    if m.ev is not None and m.selection is not None},
        "paraphrase_calls": para.calls, "paraphrase_requests_sent": para.requests_sent,
        "paraphrase_tokens": para.tokens, "paraphrase_failures": len(para.failures),
        "paraphrases_kept": para.kept,
        "paraphrase_note": "paraphrase calls generate instructions once for the shared pool; "
                           "they are not in api_calls (scoring calls per method)",
    }


def _write(s: Settings, report: dict[str, Any], tuned: Method, space: Any,
           curve: list[tuple[int, float]]) -> None:
    if s.mode == "soft":
        np.save(s.out / "soft_prompt.npy", np.asarray(tuned.final.embeds))
    (s.out / "report.json").write_text(json.dumps(report, indent=2, default=float))
    if tuned.ev is not None:
        with (s.out / "evals.jsonl").open("w") as f:
            for calls, best, _ in tuned.ev.trace:
                f.write(json.dumps({"api_calls": calls, "best_train_ce": best}) + "\n")
    if curve:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:  # the plot extra is optional
            return
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.step([c for c, _ in curve], [a for _, a in curve], where="post", label=tuned.name)
        ax.axhline(report["test_accuracy_start"], ls=":", c="gray", label="start (test)")
        ax.set_xlabel("API calls")
        ax.set_ylabel("dev accuracy")
        ax.set_ylim(0, 1)
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(s.out / "learning_curve.png", dpi=110)
        plt.close(fig)
