"""``blackbox tune-prompt``: tune a prompt against an OpenAI-compatible API and report held-out
accuracy against the baselines at equal API calls.

    blackbox tune-prompt --mode discrete --budget 48 --out runs/tweets
    blackbox tune-prompt --data reviews.csv --text-col review --label-col stars \\
        --labels good,bad --mode discrete --base-url https://host/v1 --model NAME --out runs/r
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser"]

KNOWN_HIDDEN = {"smollm2": 576, "toy": 16}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("tune-prompt", help="tune a prompt (soft or discrete) against a model API",
                       description=__doc__.split("\n")[0])
    p.add_argument("--data", help="CSV or JSONL file (default: the built-in tweet corpus)")
    p.add_argument("--text-col", default="text", help="the input text column (default text)")
    p.add_argument("--label-col", default="sentiment", help="the label column (default sentiment)")
    p.add_argument("--labels", default="positive,negative", help="comma-separated labels")
    p.add_argument("--verbalizers", help="comma-separated words the model says per label "
                                         "(default: the labels)")
    p.add_argument("--input-name", default=None, help="how the prompt names an input "
                                                      "(default Tweet for the tweets, else Text)")
    p.add_argument("--min-confidence", type=float, default=None,
                   help="keep rows whose 'confidence' column is at least this (tweets: 0.9)")
    p.add_argument("--mode", choices=("discrete", "soft"), default="discrete")
    p.add_argument("--strategy", default=None, help="discrete: bdpl (default), random, cma or a "
                   "registered strategy (zo_ranksgd, ...); soft: zo_sgd (default), cma, ...")
    p.add_argument("--opt", action="append", metavar="KEY=VALUE", help="strategy option")
    p.add_argument("--budget", type=int, default=48, help="API calls per method (default 48)")
    p.add_argument("--baselines", default="manual,random,cma",
                   help="comma-separated: manual, random, cma (default all)")
    p.add_argument("--n-train", type=int, default=32, help="examples per scored call (32)")
    p.add_argument("--n-dev", type=int, default=200,
                   help="dev examples: the final choice among the top candidates, the "
                        "learning curve (200)")
    p.add_argument("--n-test", type=int, default=200, help="held-out test examples (200)")
    p.add_argument("--k-demos", type=int, default=0,
                   help="discrete: demonstration slots (default 0: on the tweet task two cost "
                        "about 2x per call and gained nothing)")
    p.add_argument("--instruction-first", choices=("no", "yes", "both"), default="no",
                   help="discrete: instruction before the input (default no: the input first "
                        "lets the server reuse each input's cached prefix across candidates "
                        "and calls)")
    p.add_argument("--chat-format", default="none",
                   help="discrete: a chat format searched next to plain text (the input and "
                        "instruction as the user's turn, the answer cue opening the assistant's): "
                        "none (default: on SmolLM2 it added variance, not accuracy), auto (the "
                        "model's own where known: smollm2), chatml, smollm2, or a template with "
                        "{user}, e.g. '[INST] {user} [/INST]'")
    p.add_argument("--select-top", type=int, default=4,
                   help="discrete: each method's best candidates on train re-scored on dev; the "
                        "most accurate on train+dev is its prompt (default 4; 1: train only)")
    p.add_argument("--ensemble", type=int, default=None, metavar="M",
                   help="discrete: the M best of the re-scored candidates answer together, "
                        "their label probabilities averaged (M times the inference cost; "
                        "default 3, at most --select-top; 1: one prompt)")
    p.add_argument("--calibrate", choices=("yes", "no"), default="yes",
                   help="discrete: per-label offsets fitted on the training examples travel "
                        "with each prompt (contextual calibration; default yes)")
    p.add_argument("--paraphrases", type=int, default=0, metavar="N",
                   help="discrete: N rewordings of the seed instructions written by the served "
                        "model join the pool (InstructZero; cached in OUT; default 0)")
    p.add_argument("--paraphrase-endpoint", choices=("chat", "completions"), default="chat",
                   help="discrete: how the paraphrases are generated (default chat)")
    p.add_argument("--base-url", help="an OpenAI-compatible API (default: a local blackbox "
                                      "serve started and stopped here)")
    p.add_argument("--model", default=None, help="model name (default smollm2 locally)")
    p.add_argument("--hidden", type=int, default=None, help="soft: the model's embedding width")
    p.add_argument("--n-tokens", type=int, default=5, help="soft: prompt vectors (5)")
    p.add_argument("--dim", type=int, default=500, help="soft: BBT subspace dimension d (500)")
    p.add_argument("--rpm", type=float, default=None, help="requests per minute limit")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight (4)")
    p.add_argument("--scoring", choices=("completions", "chat"), default="completions",
                   help="label scoring: completions (echo + logprobs, every verbalizer token; "
                        "default) or chat (first-token top_logprobs, for hosted chat APIs "
                        "without echo)")
    p.add_argument("--top-logprobs", type=int, default=20,
                   help="chat scoring: alternatives listed for the answer's first token (1-20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="folder: report.json, PNG, cache, evaluations")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=run)


def _task(a: argparse.Namespace) -> Any:
    from apps.prompt.data import PromptTask, load_examples, split, tweet_corpus_path

    labels = tuple(x.strip() for x in a.labels.split(",") if x.strip())
    from blackbox.errors import ConfigError

    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ConfigError(f"--labels: give two or more distinct labels, got {a.labels!r}")
    verbs = labels if a.verbalizers is None else tuple(
        x.strip() for x in a.verbalizers.split(","))
    if len(verbs) != len(labels) or not all(verbs):
        raise ConfigError(f"--verbalizers: one non-empty word per label ({len(labels)}), got "
                          f"{a.verbalizers!r}")
    tweets = a.data is None
    path = tweet_corpus_path() if tweets else a.data
    conf = a.min_confidence if a.min_confidence is not None else (0.9 if tweets else None)
    ex = load_examples(path, a.text_col, a.label_col, labels, min_confidence=conf,
                       drop_retweets=tweets)
    n_pool = 6 if a.mode == "discrete" and a.k_demos else 0
    train, dev, test, pool = split(ex, labels, n_train=a.n_train, n_dev=a.n_dev,
                                   n_test=a.n_test, n_pool=n_pool, seed=a.seed)
    name = a.input_name or ("Tweet" if tweets else "Text")
    return PromptTask(labels, verbs, train, dev, test, pool, name)


def run(a: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from apps.prompt.discrete import chat_format
    from apps.prompt.tune import Settings, tune
    from blackbox.config import parse_value
    from blackbox.errors import ConfigError

    if a.budget < 2:
        raise ConfigError(f"--budget must be an int >= 2 API calls, got {a.budget}")
    if a.select_top < 1:
        raise ConfigError(f"--select-top must be an int >= 1, got {a.select_top}")
    if a.ensemble is None:
        a.ensemble = min(3, a.select_top)
    if not 1 <= a.ensemble <= max(a.select_top, 1):
        raise ConfigError(f"--ensemble must be an int in 1-{a.select_top} (its members are the "
                          f"--select-top candidates re-scored on dev), got {a.ensemble}")
    if a.mode == "soft" and a.scoring == "chat":
        raise ConfigError("--scoring chat sends text only; --mode soft needs completions "
                          "(prompt_embeds)")
    if a.scoring == "chat" and not 1 <= a.top_logprobs <= 20:
        raise ConfigError(f"--top-logprobs must be an int in 1-20, got {a.top_logprobs}")
    if a.paraphrases < 0:
        raise ConfigError(f"--paraphrases must be an int >= 0, got {a.paraphrases}")
    baselines = tuple(b.strip() for b in a.baselines.split(",") if b.strip())
    bad = [b for b in baselines if b not in ("manual", "random", "cma")]
    if bad:
        raise ConfigError(f"--baselines: unknown {bad[0]!r} (manual, random, cma)")
    opts: dict[str, Any] = {}
    for item in a.opt or []:
        k, sep, v = item.partition("=")
        if not sep:
            raise ConfigError(f"--opt expects KEY=VALUE, got {item!r}")
        opts[k] = parse_value(v)
    strategy = a.strategy or ("bdpl" if a.mode == "discrete" else "zo_sgd")
    if a.mode == "soft" and strategy == "bdpl":
        raise ConfigError("--strategy bdpl is for --mode discrete")
    task = _task(a)  # every data check before any request
    model = a.model or ("smollm2" if a.base_url is None else "default")
    chat = chat_format(a.chat_format, model, a.scoring) if a.mode == "discrete" else None
    hidden = a.hidden or KNOWN_HIDDEN.get(model)
    out = Path(a.out)
    server, make_client = _clients(a, model, out)
    try:
        s = Settings(mode=a.mode, strategy=strategy, budget=a.budget, seed=a.seed, out=out,
                     make_client=make_client, baselines=baselines, opts=opts,
                     progress=not a.no_progress, hidden=hidden, d=a.dim, n_tokens=a.n_tokens,
                     k_demos=a.k_demos, instruction_first={
                         "no": (False,), "yes": (True,), "both": (False, True)}[
                         a.instruction_first], chat=chat, select_top=a.select_top,
                     ensemble=a.ensemble,
                     paraphrases=a.paraphrases if a.mode == "discrete" else 0,
                     paraphrase_endpoint=a.paraphrase_endpoint, model=model,
                     calibrate=a.calibrate == "yes", scoring=a.scoring,
                     scoring_opts={"top_logprobs": a.top_logprobs} if a.scoring == "chat" else {})
        report = tune(s, task)
    finally:
        if server is not None:
            server.stop()
    keys = ("test_accuracy_start", "test_accuracy_tuned", "baselines", "test_accuracy_single",
            "api_calls", "paraphrase_calls", "requests_sent", "seconds")
    print(json.dumps({k: report[k] for k in keys if k in report}, default=float))
    print(f"report: {out / 'report.json'}")
    return 0


def _clients(a: argparse.Namespace, model: str, out: Any) -> tuple[Any, Any]:
    from oracles.http import OpenAIClient

    server, base, transport, ns = None, a.base_url, None, None
    if base is None:
        from apps.prompt.server import LazyTransport, LocalServer

        server = LocalServer(model)
        base, ns = server.base, f"blackbox-serve:{model}"

    def make() -> Any:
        t = LazyTransport(server) if server is not None else transport
        return OpenAIClient(base, model=model, cache=out / "cache.sqlite", timeout=900.0,
                            max_concurrency=a.concurrency, rpm=a.rpm, transport=t,
                            cache_namespace=ns, max_retries=3)

    return server, make
