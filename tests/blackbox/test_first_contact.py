"""First contact (issue 9, item 11): what a newcomer tries in the first hour works or says why."""

from __future__ import annotations

import json
import re
import tomllib

import numpy as np
import pytest

import blackbox.config
from blackbox import Budget, Optimizer, minimize
from blackbox.errors import ConfigError, JournalMismatchError, OracleShapeError
from blackbox.journal import iter_answers


# -- plain functions ---------------------------------------------------------------------------
def test_a_plain_function_of_one_point_is_an_oracle_with_dim_from_x0():
    calls = []

    def f(x):  # scipy's habit: one point in, one float out
        calls.append(x.shape)
        x[0] += 0.0  # a writable copy
        return float(np.sum((x - 0.5) ** 2))

    res = minimize(f, "zo_sgd", x0=np.ones(4), budget=400, seed=1)
    assert set(calls) == {(4,)} and res.nfev == len(calls) <= 400
    assert res.f_best < f(np.ones(4)) and res.ledger.oracles["f"].points == res.nfev


def test_a_batched_function_is_called_once_per_batch():
    calls = []

    def f(X):
        calls.append(X.shape)
        return np.sum(X * X, axis=1)

    res = minimize(f, {"name": "cbo", "N": 10}, np.ones(3), budget=200, batched=True)
    assert calls[0] == (10, 3) and res.nfev == sum(c[0] for c in calls)
    assert res.success and np.isfinite(res.fun)


def test_plain_function_mistakes_get_one_line_errors():
    with pytest.raises(OracleShapeError, match="batched=True"):
        minimize(lambda x: x * 2, "zo_sgd", np.ones(3), budget=50)  # not one number per point
    with pytest.raises(ConfigError, match=r"pass the initial point as x0="):
        minimize(lambda x: 0.0, [1.0, 2.0], budget=50)  # scipy's minimize(f, x0) order
    with pytest.raises(ConfigError, match="needs x0"):
        minimize(lambda x: 0.0, "zo_sgd", budget=50)
    with pytest.raises(ConfigError, match="strategy is required"):
        minimize(lambda x: 0.0, x0=np.ones(2), budget=50)


# -- failed evaluations ------------------------------------------------------------------------
def test_an_oracle_that_always_fails_ends_unsuccessful_and_says_so():
    res = minimize(lambda x: float("nan"), "zo_sgd", np.ones(3), budget=40)
    assert not res.success and res.message.startswith("every evaluation failed")
    assert "NaN or inf for all 40 points" in res.message and np.isnan(res.f_best)
    ok = minimize(lambda x: float(x @ x), "zo_sgd", np.ones(3), budget=40)
    assert ok.success and ok.message == "query budget reached"


def test_optimizer_tell_warns_when_every_value_failed():
    opt = Optimizer("zo_sgd", np.ones(3))
    q = opt.ask()
    with pytest.warns(RuntimeWarning, match="all 8 values are NaN or inf"):
        opt.tell(q, np.full(q.n, np.nan))


# -- journal: answers, not points --------------------------------------------------------------
def test_the_journal_keeps_answers_and_digests_and_points_on_request(tmp_path):
    f = lambda x: float(x @ x)  # noqa: E731
    small = minimize(f, "zo_sgd", np.ones(5), budget=100, journal=tmp_path / "a")
    audit = minimize(f, "zo_sgd", np.ones(5), budget=100, journal=tmp_path / "b",
                     journal_points=True)
    a, b = list(iter_answers(tmp_path / "a")), list(iter_answers(tmp_path / "b"))
    # 12 told batches of 8, the truncated head (3 points) of the 13th, the final evaluation
    assert [e.digest for e in a] == [e.digest for e in b] and len(a) == small.nit + 2
    assert [e.partial for e in a][-2:] == [True, False] and a[-1].tag == "final"
    assert all(e.points is None for e in a)
    assert all(e.points.shape == (e.n, 5) for e in b) and audit.fun == small.fun
    size = lambda d: (tmp_path / d / "journal.jsonl").stat().st_size  # noqa: E731
    assert size("a") * 2 < size("b")


class Drifting:
    """A strategy whose points depend on a class attribute its configuration does not show."""

    shift = 0.0
    feedback = "values"

    def init(self, x0, key):
        return 0

    def ask(self, state):
        from blackbox.query import Query
        from blackbox.keys import Key

        return Query(np.full((2, 2), state + Drifting.shift), Key(0).fold_in(state)), state + 1

    def tell(self, state, query, feedback):
        return state, {}

    def recommend(self, state):
        return np.zeros(2)


def test_a_run_that_diverges_from_its_journal_is_a_one_line_error(tmp_path):
    f = lambda x: float(x @ x)  # noqa: E731
    minimize(f, Drifting(), np.zeros(2), budget={"max_steps": 5}, journal=tmp_path)
    Drifting.shift = 1.0
    try:
        with pytest.raises(JournalMismatchError) as err:
            minimize(f, Drifting(), np.zeros(2), budget={"max_steps": 5}, journal=tmp_path)
    finally:
        Drifting.shift = 0.0
    msg = str(err.value)
    assert "\n" not in msg and "diverges at query 0" in msg and msg.endswith("use a new directory")


def test_a_journal_of_another_strategy_names_the_option_in_one_line(tmp_path):
    f = lambda x: float(x @ x)  # noqa: E731
    minimize(f, {"name": "zo_sgd", "lr": 0.1}, np.ones(2), budget=20, journal=tmp_path)
    with pytest.raises(JournalMismatchError) as err:
        minimize(f, {"name": "zo_sgd", "lr": 0.2}, np.ones(2), budget=20, journal=tmp_path)
    assert str(err.value) == (f"journal {tmp_path} was written for another strategy "
                              "(lr: 0.1 there, 0.2 here); use a new directory")


def test_checkpoint_every_is_deprecated_and_no_checkpoint_is_written(tmp_path):
    with pytest.warns(DeprecationWarning, match="checkpoints were removed"):
        minimize(lambda x: float(x @ x), "zo_sgd", np.ones(2), budget=20, journal=tmp_path,
                 checkpoint_every=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.jsonl"]


# -- the command line --------------------------------------------------------------------------
def _cli(capsys, *argv):
    from apps.cli import main

    rc = main(list(argv))
    return rc, capsys.readouterr().err.strip()


def test_cli_budget_must_be_positive(capsys):
    rc, err = _cli(capsys, "run", "--oracle", "sphere", "--dim", "3", "--strategy", "zo_sgd",
                   "--budget", "0")
    assert rc == 2 and err == "blackbox: error: --budget (points to evaluate) must be > 0, got 0"


def test_cli_journal_errors_are_one_line(tmp_path, capsys):
    base = ["run", "--oracle", "sphere", "--dim", "3", "--x0", "1", "--budget", "30", "--json"]
    afile = tmp_path / "afile"
    afile.write_text("")
    rc, err = _cli(capsys, *base, "--strategy", "zo_sgd", "--journal", str(afile))
    assert rc == 2 and "\n" not in err and "is a file" in err and "use a new directory" in err
    jd = str(tmp_path / "j")
    assert _cli(capsys, *base, "--strategy", "zo_sgd", "--journal", jd)[0] == 0
    rc, err = _cli(capsys, *base, "--strategy", "cbo", "--journal", jd)
    assert rc == 2 and err == (f"blackbox: error: journal {jd} was written for another strategy "
                               "(name: zo_sgd there, cbo here); use a new directory")
    assert json.loads((tmp_path / "j" / "run.json").read_text())["strategy"]["name"] == "zo_sgd"


# -- the config docstring's example ------------------------------------------------------------
def test_the_config_docstring_example_builds_and_runs(tmp_path):
    text = blackbox.config.__doc__.split("::", 1)[1]
    cfg = tomllib.loads(re.sub(r"(?m)^    ", "", text))
    cfg["journal"] = str(tmp_path / "run")
    cfg["budget"] = {"max_queries": 400}
    kwargs = blackbox.config.build_run(cfg)
    assert kwargs["x0"].shape == (cfg["oracle"]["dim"],)
    res = minimize(progress=False, **kwargs)
    assert res.nfev <= 400 and res.x.shape == (20,)
    assert isinstance(kwargs["budget"], Budget)
