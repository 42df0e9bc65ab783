"""``blackbox serve``'s model default: the real model, except for a classifier server."""

from __future__ import annotations

from oracles.serve_cli import _check, build_parser


def _resolved(*argv: str) -> str:
    a = build_parser().parse_args(["--port", "1", *argv])
    _check(a)  # (port 1 may be refused; the model is resolved before the port check)
    return a.model


def test_the_language_model_default_is_smollm2() -> None:
    assert _resolved() == "smollm2"


def test_a_classifier_server_loads_no_language_model_by_default() -> None:
    assert _resolved("--classifier", "digits") == "toy"


def test_an_explicit_model_wins_with_a_classifier() -> None:
    assert _resolved("--classifier", "digits", "--model", "smollm2") == "smollm2"


def test_an_unknown_model_is_a_one_line_error() -> None:
    a = build_parser().parse_args(["--model", "gpt9"])
    assert _check(a) == "unknown --model 'gpt9' (smollm2, toy)"
