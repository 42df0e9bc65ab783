"""A pool of instructions the served model writes itself: rewordings of the seed instructions,
asked for with varied meta-prompts (greedy, so each request has one answer and is cacheable), as
in InstructZero (Chen et al., "InstructZero: Efficient Instruction Optimization for Black-Box
Large Language Models", 2023, https://arxiv.org/abs/2306.03082) and APE (Zhou et al., "Large
Language Models Are Human-Level Prompt Engineers", 2022, https://arxiv.org/abs/2211.01910).

The answers are normalised (first line, no leading label, bullet or quotes, one space), and
empty, too long, non-printable, brace-carrying and duplicate ones are dropped, and so is an
answer that names some labels but not all ("The tweet is positive."): the model classified the
seed instead of rewording it (SmolLM2-135M mostly does). Requests and
answers are kept in ``OUT/paraphrases.json``: a re-run with the same plan sends nothing. These
calls generate text; they are counted apart from the scoring calls the methods spend.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blackbox.errors import ConfigError
from blackbox.keys import Key

__all__ = ["META_PROMPTS", "Paraphrases", "clean", "paraphrase", "plan"]

META_PROMPTS = (
    ("Rewrite this instruction in other words. Reply with the new instruction only.\n"
     "Instruction: {seed}"),
    ("Paraphrase the following question, keeping its meaning. Reply with one question.\n"
     "Question: {seed}"),
    "Write another way to ask this, in one sentence: {seed}",
    "Say this more simply, in one short sentence: {seed}",
    "Reword this task description for a classifier. Reply with one sentence.\nTask: {seed}",
)
FILE = "paraphrases.json"
_LABEL = re.compile(r"^(?:new instruction|instruction|paraphrase[d]?|question|rewritten|"
                    r"rephrased|reworded|answer|sure|task)\s*[:\-]\s*", re.IGNORECASE)
_BULLET = re.compile(r"^(?:[-*\u2022]+|\d+[.)])\s*")


@dataclass
class Paraphrases:
    """The kept instructions and the accounting of the requests that wrote them."""

    kept: list[str]
    raw: list[str | None]  # one per planned request; None where it failed
    calls: int  # generation requests the pool took (sent now or in an earlier run)
    requests_sent: int = 0  # of those, sent by this run
    tokens: int = 0
    failures: list[str] = field(default_factory=list)


def plan(seeds: Sequence[str], n: int, key: Key,
         metas: Sequence[str] = META_PROMPTS) -> list[str]:
    """``n`` distinct (seed, meta-prompt) requests in a seeded order."""
    seeds = list(dict.fromkeys(s for s in seeds if s))
    pairs = [m.format(seed=s) for s in seeds for m in metas]
    if not (isinstance(n, int) and 0 <= n <= len(pairs)):
        raise ConfigError(f"--paraphrases must be an int in 0..{len(pairs)} ({len(seeds)} seed "
                          f"instructions x {len(metas)} meta-prompts), got {n!r}")
    order = key.numpy().permutation(len(pairs))
    return [pairs[int(i)] for i in order[:n]]


def clean(text: str | None, max_chars: int = 160) -> str | None:
    """One instruction from a generated answer, or ``None`` if nothing usable is left."""
    if not text:
        return None
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    if not lines:
        return None
    s = lines[0]
    for _ in range(3):
        s = _BULLET.sub("", _LABEL.sub("", s)).strip().strip("\"'`\u201c\u201d").strip()
    s = " ".join(s.split())
    if len(s) < 8 or len(s) > max_chars or not s.isprintable() or "{" in s or "}" in s:
        return None
    return s


def _norm(s: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", s.lower()).split())


def _answers(text: str, labels: Sequence[str]) -> bool:
    """Whether ``text`` names some of ``labels`` but not all (a classification, not a task)."""
    words = set(_norm(text).split())
    named = [lab for lab in labels if _norm(lab) in words]
    return 0 < len(named) < len(labels)


def keep(raw: Sequence[str | None], existing: Sequence[str], max_chars: int = 160,
         labels: Sequence[str] = ()) -> list[str]:
    """Cleaned, deduplicated answers (against ``existing`` and each other, ignoring case and
    punctuation) that do not name just some of ``labels``, in request order."""
    seen = {_norm(s) for s in existing}
    out = []
    for r in raw:
        c = clean(r, max_chars)
        if c is not None and _norm(c) not in seen and not _answers(c, labels):
            seen.add(_norm(c))
            out.append(c)
    return out


def _body(prompt: str, endpoint: str, max_tokens: int) -> dict[str, Any]:
    if endpoint == "chat":
        return {"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
                "temperature": 0}
    return {"prompt": prompt + "\n", "max_tokens": max_tokens, "temperature": 0}


def _text(ans: Any, endpoint: str) -> str:
    choice = ans["choices"][0]
    return str(choice["message"]["content"] if endpoint == "chat" else choice["text"])


def paraphrase(make_client: Any, seeds: Sequence[str], n: int, out: Path, key: Key, *,
               model: str = "default", endpoint: str = "chat", max_tokens: int = 48,
               max_chars: int = 160, labels: Sequence[str] = ()) -> Paraphrases:
    """``n`` rewordings of ``seeds`` from the served model (``make_client()`` is called only
    if something has to be sent), cleaned and deduplicated; cached in ``out/paraphrases.json``."""
    if endpoint not in ("chat", "completions"):
        raise ConfigError(f"--paraphrase-endpoint must be chat or completions, got {endpoint!r}")
    prompts = plan(seeds, n, key)
    path = Path(out) / FILE
    how = {"model": model, "endpoint": endpoint, "max_tokens": max_tokens}
    stored = _load(path, how)
    if n == 0:
        return Paraphrases([], [], 0)
    missing = [p for p in prompts if p not in stored]
    res = Paraphrases([], [], len(prompts))
    if missing:
        res = _ask(make_client(), missing, endpoint, max_tokens, res)
    new = dict(zip(missing, res.raw))
    res.raw = [stored[p] if p in stored else new[p] for p in prompts]
    res.kept = keep(res.raw, seeds, max_chars, labels)
    if missing:
        _save(path, how, {**stored, **{p: r for p, r in new.items() if r is not None}})
    return res


def _ask(client: Any, prompts: list[str], endpoint: str, max_tokens: int,
         res: Paraphrases) -> Paraphrases:
    """Sends the requests; a failed one leaves ``None`` and a line in ``res.failures``."""
    try:
        answers = client.map("/" + ("chat/completions" if endpoint == "chat" else "completions"),
                             [_body(p, endpoint, max_tokens) for p in prompts])
        for ans in answers:
            try:
                if isinstance(ans, BaseException):
                    raise ans
                res.raw.append(_text(ans, endpoint))
            except Exception as exc:  # noqa: BLE001 (a failed request: no instruction, no lost run)
                res.raw.append(None)
                res.failures.append(f"{type(exc).__name__}: {exc}"[:200])
        st = client.stats
        res.requests_sent, res.tokens = st.requests, st.prompt_tokens + st.completion_tokens
    finally:
        client.close()
    return res


def _load(path: Path, how: dict[str, Any]) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or any(data.get(k) != v for k, v in how.items()):
        return {}
    return {str(r["request"]): str(r["answer"]) for r in data.get("answers", [])}


def _save(path: Path, how: dict[str, Any], answers: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"request": p, "answer": a, "kept": clean(a)} for p, a in answers.items()]
    path.write_text(json.dumps({**how, "answers": rows}, indent=2))
