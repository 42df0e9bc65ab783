"""``blackbox tune-prompt`` end to end against ``blackbox serve --model toy`` (started by the
command itself): both modes, the report, the cache (a re-run sends nothing and starts no server)
and one-line errors before any request."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from apps.cli import main
from blackbox.errors import ConfigError

pytestmark = pytest.mark.http

SMALL = ["--model", "toy", "--budget", "4", "--n-train", "4", "--n-dev", "4", "--n-test", "6",
         "--no-progress"]


def test_discrete_mode_end_to_end_report_and_cached_rerun(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["tune-prompt", *SMALL, "--out", str(out)]) == 0
    r = json.loads((out / "report.json").read_text())
    assert set(r["baselines"]) == {"manual", "random", "cma"}
    assert r["api_calls"] == 4 and all(v == 4 for k, v in r["api_calls_per_method"].items()
                                       if k != "manual")
    for k in ("test_accuracy_start", "test_accuracy_tuned", "tokens", "seconds"):
        assert np.isfinite(r[k])
    assert r["baselines"]["manual"] == r["test_accuracy_start"]
    assert "{text}" in r["tuned_prompt"]["template"] and r["failed_requests"] == 0
    assert r["learning_curve"][-1]["api_calls"] == 4 and (out / "learning_curve.png").exists()
    assert r["selection"]["top"] == 4 and r["selection_calls_per_method"] == {"cma": 4,
                                                                        "random": 4, "bdpl": 4}
    assert len(r["tuned_prompt"]["label_offsets"]) == 2 and "test_accuracy_start_calibrated" in r
    assert r["selection"]["ensemble"] == 3 == len(r["tuned_prompt"]["ensemble"])  # the default
    # the defaults: the input first (its prefix cached across candidates), no demonstrations
    assert r["search_space"]["instruction_first"] == [False] and r["paraphrase_calls"] == 0
    assert r["search_space"]["k_demos"] == 0
    assert r["search_space"]["formats"] == ["plain"]  # the default: plain text only
    sig, n = r["test_significance"], r["splits"]["test"]
    assert set(sig["accuracy_ci95"]) == {"bdpl", "manual", "random", "cma", "start_calibrated"}
    for name, acc in [("bdpl", r["test_accuracy_tuned"]), *r["baselines"].items()]:
        lo, hi = sig["accuracy_ci95"][name]
        assert lo <= acc <= hi
        if name != "bdpl":  # the paired counts add up to the accuracy difference
            v = sig["vs"][name]
            assert v["wins"] - v["losses"] == round((r["test_accuracy_tuned"] - acc) * n)
    assert "starting blackbox serve --model toy" in capsys.readouterr().err
    assert main(["tune-prompt", *SMALL, "--out", str(out)]) == 0
    again = json.loads((out / "report.json").read_text())
    assert again["requests_sent"] == 0
    assert again["cache_hits"] == r["requests_sent"] + r["cache_hits"]
    assert "starting" not in capsys.readouterr().err  # nothing to send: no server started
    assert {k: again[k] for k in ("test_accuracy_tuned", "baselines", "tuned_prompt")} == \
        {k: r[k] for k in ("test_accuracy_tuned", "baselines", "tuned_prompt")}


def test_discrete_mode_with_chat_scoring(tmp_path):
    """Hosted chat APIs without completions echo: labels read from first-token top_logprobs;
    one request per (candidate, example), the calls still counted per candidate."""
    out = tmp_path / "chat"
    assert main(["tune-prompt", *SMALL, "--scoring", "chat", "--top-logprobs", "5",
                 "--baselines", "manual", "--k-demos", "0", "--out", str(out)]) == 0
    r = json.loads((out / "report.json").read_text())
    assert r["api_calls"] == 4 and r["failed_requests"] == 0
    assert 0.0 <= r["test_accuracy_tuned"] <= 1.0 and np.isfinite(r["test_accuracy_start"])
    assert r["requests_sent"] >= 4 * 4  # (a candidate's call is one request per example)


def test_discrete_mode_searches_a_chat_format_next_to_plain_text(tmp_path):
    out = tmp_path / "chatml"
    assert main(["tune-prompt", *SMALL, "--chat-format", "chatml", "--baselines", "manual,random",
                 "--budget", "6", "--out", str(out)]) == 0
    r = json.loads((out / "report.json").read_text())
    assert r["search_space"]["formats"] == ["plain", "chatml"] and r["failed_requests"] == 0
    assert r["tuned_prompt"]["format"] in ("plain", "chatml")
    assert r["tuned_prompt"]["template"].startswith("<|im_start|>user\n") == (
        r["tuned_prompt"]["format"] == "chatml")


def test_discrete_mode_with_an_ensemble_of_the_best_prompts(tmp_path, capsys):
    out = tmp_path / "ens"
    args = ["tune-prompt", *SMALL, "--baselines", "manual,random", "--out", str(out)]
    assert main([*args, "--ensemble", "3"]) == 0
    r = json.loads((out / "report.json").read_text())
    members = r["tuned_prompt"]["ensemble"]
    assert len(members) == 3 and r["selection"]["ensemble"] == 3
    assert members[0]["template"] == r["tuned_prompt"]["template"]
    assert len({m["template"] + "|".join(m["verbalizers"]) for m in members}) == 3
    assert all(len(m["label_offsets"]) == 2 for m in members)
    assert set(r["test_accuracy_single"]) == {"bdpl", "manual", "random"}
    assert r["test_accuracy_single"]["manual"] == r["baselines"]["manual"]
    printed = json.loads(capsys.readouterr().out.splitlines()[0])
    assert printed["test_accuracy_single"] == r["test_accuracy_single"]
    assert main([*args, "--ensemble", "1"]) == 0  # the same search, from the cache
    one = json.loads((out / "report.json").read_text())
    assert one["requests_sent"] == 0 and "ensemble" not in one["tuned_prompt"]
    assert one["test_accuracy_tuned"] == r["test_accuracy_single"]["bdpl"]
    assert one["baselines"]["random"] == r["test_accuracy_single"]["random"]
    assert main([*args, "--select-top", "1"]) == 0  # the default ensemble fits --select-top
    assert json.loads((out / "report.json").read_text())["selection"]["ensemble"] == 1


def test_soft_mode_end_to_end(tmp_path):
    out = tmp_path / "soft"
    assert main(["tune-prompt", *SMALL, "--mode", "soft", "--dim", "8", "--n-tokens", "2",
                 "--baselines", "manual,random", "--opt", "q=1", "--out", str(out)]) == 0
    r = json.loads((out / "report.json").read_text())
    assert r["mode"] == "soft" and r["api_calls"] == 4 and set(r["baselines"]) == {
        "manual", "random"}
    assert np.load(out / "soft_prompt.npy").shape == (2, 16)


def test_bad_input_fails_in_one_line_before_any_request(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    csv.write_text("review,stars\ngood,positive\nbad,negative\n")
    base = ["tune-prompt", "--base-url", "http://127.0.0.1:9/v1", "--out", str(tmp_path / "o")]
    assert main([*base, "--data", str(csv)]) == 2
    assert capsys.readouterr().err.strip() == (
        "blackbox: error: --text-col: column 'text' not in d.csv (columns: review, stars)")
    assert main([*base, "--data", str(csv), "--text-col", "review", "--label-col", "stars"]) == 2
    assert "too few examples for the splits" in capsys.readouterr().err
    assert main([*base, "--baselines", "grid"]) == 2
    assert "--baselines: unknown 'grid'" in capsys.readouterr().err
    assert main([*base, "--select-top", "0"]) == 2
    assert "--select-top must be an int >= 1, got 0" in capsys.readouterr().err
    assert main([*base, "--ensemble", "5"]) == 2
    assert "--ensemble must be an int in 1-4 (its members are the --select-top candidates " \
        "re-scored on dev), got 5" in capsys.readouterr().err
    assert main([*base, "--paraphrases", "999"]) == 2
    assert "--paraphrases must be an int in 0..50" in capsys.readouterr().err
    assert main([*base, "--mode", "soft", "--scoring", "chat"]) == 2
    assert "--scoring chat sends text only; --mode soft needs completions" in \
        capsys.readouterr().err
    assert main([*base, "--scoring", "chat", "--top-logprobs", "21"]) == 2
    assert "--top-logprobs must be an int in 1-20, got 21" in capsys.readouterr().err
    assert main([*base, "--chat-format", "[INST]"]) == 2
    assert "--chat-format must be auto, none, chatml, smollm2 or a template with one {user}, " \
        "got '[INST]'" in capsys.readouterr().err
    assert main([*base, "--scoring", "chat", "--chat-format", "chatml"]) == 2
    assert "--chat-format: chat scoring already sends" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


class NoEmbeds(httpx.AsyncBaseTransport):
    """A server that refuses prompt_embeds, as hosted chat APIs do."""

    async def handle_async_request(self, request):
        return httpx.Response(400, json={"error": {"message": "Unrecognized request argument "
                                                               "supplied: prompt_embeds"}})


def test_soft_mode_against_a_server_without_prompt_embeds_says_use_discrete():
    from apps.prompt.soft import SoftSpace
    from apps.prompt.tune import _probe_soft
    from blackbox.keys import Key
    from oracles.http import OpenAIClient

    client = OpenAIClient("http://127.0.0.1:9/v1", transport=NoEmbeds(), max_retries=0)
    space = SoftSpace(d=4, n_tokens=1, hidden=8, key=Key(0), template="T: {text}\nS:",
                      verbalizers=("a", "b"), embed_std=0.1)
    with pytest.raises(ConfigError, match="does not accept prompt_embeds .*use --mode discrete"):
        _probe_soft(client, space)
    client.close()


def test_discrete_mode_with_zo_ranksgd_from_pairwise_comparisons(tmp_path):
    out = tmp_path / "rank"
    assert main(["tune-prompt", *SMALL, "--strategy", "zo_ranksgd", "--baselines", "manual",
                 "--k-demos", "0", "--out", str(out)]) == 0
    r = json.loads((out / "report.json").read_text())
    assert r["strategy"] == "zo_ranksgd" and r["api_calls"] == 4
