"""Classifiers an attack can query: a torch module, any callable, or an HTTP endpoint.

Every adapter answers ``probs(x)`` (``(n, d)`` inputs -> ``(n, classes)`` float64
probabilities) and ``labels(x)`` (``(n,)`` top-1 labels); a label-only target
(:class:`LabelOnly`, ``HTTPClassifier(label_only=True)``) answers ``labels`` alone and raises
on ``probs``, so a hard-label attack provably never reads a score. Scores are softmax
probabilities computed in float64 from the model's logits, the same numbers the served endpoint
(:mod:`oracles.serve_classifier`) sends, so an attack gets identical values in process and over
HTTP. Models are built lazily in the process that queries them (Ray workers build their own).
"""

from __future__ import annotations

import importlib
import math
from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError, OracleDecodeError, OracleHTTPError
from oracles.serve_classifier import softmax64  # the served endpoint's own function

__all__ = ["CallableClassifier", "HTTPClassifier", "LabelOnly", "TorchClassifier",
           "load_factory", "softmax64"]

Array = NDArray[np.float64]


def _check_scores(out: Any, n: int, what: str) -> Array:
    a = np.asarray(out, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != n or a.shape[1] < 2:
        raise ConfigError(f"{what} must return shape (n, classes) with classes >= 2 for n = {n} "
                          f"inputs, got shape {a.shape}")
    return a


def load_factory(path: str) -> Callable[[], Any]:
    """``"pkg.module:factory"`` -> the factory (a ConfigError names a bad path)."""
    mod, sep, attr = path.partition(":")
    if not sep or not mod or not attr:
        raise ConfigError(f"--model must be 'digits' or 'pkg.module:factory', got {path!r}")
    try:
        fn = getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"--model {path!r}: cannot import: {exc}") from None
    if not callable(fn):
        raise ConfigError(f"--model {path!r} is not callable")
    return fn  # type: ignore[no-any-return]


class TorchClassifier:
    """A ``torch.nn.Module`` (built by ``factory()``, lazily) mapping a float batch to logits.

    ``threads``: torch intra-op threads set when the model is built (default 1: for small
    models and batches one thread is fastest, and on busy cores several threads are ~20x
    slower; measured 3.6 ms vs 69 ms per 11-image batch of the digits CNN); ``None`` leaves
    torch's setting alone (large models).
    """

    label_only = False

    def __init__(self, factory: Callable[[], Any] | str, max_batch: int = 4096,
                 threads: int | None = 1) -> None:
        if isinstance(factory, str):
            factory = load_factory(factory)
        if not callable(factory):
            raise ConfigError(f"factory must be callable, got {factory!r}")
        self.factory, self.max_batch, self.threads = factory, max_batch, threads
        self._model: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_model": None}

    @property
    def model(self) -> Any:
        if self._model is None:
            if self.threads is not None:
                import torch

                torch.set_num_threads(self.threads)
            m = self.factory()
            self._model = m.eval() if hasattr(m, "eval") else m
        return self._model

    def logits(self, x: Array) -> Array:
        import torch

        x = np.asarray(x, dtype=np.float64)
        outs = []
        with torch.inference_mode():
            for a in range(0, len(x), self.max_batch):
                z = self.model(torch.as_tensor(x[a:a + self.max_batch], dtype=torch.float32))
                outs.append(_check_scores(z.detach().to("cpu", torch.float64).numpy(),
                                          len(x[a:a + self.max_batch]), "the model"))
        return np.concatenate(outs) if outs else np.empty((0, 0))

    def probs(self, x: Array) -> Array:
        return softmax64(self.logits(x))

    def labels(self, x: Array) -> NDArray[np.int64]:
        return self.logits(x).argmax(axis=1)


class CallableClassifier:
    """Any ``fn(x (n, d) float64) -> (n, classes)`` of logits (``outputs="logits"``) or
    probabilities (``"probs"``), or ``(n,)`` labels (``"labels"``: label-only)."""

    def __init__(self, fn: Callable[[Array], Any], outputs: str = "logits") -> None:
        if not callable(fn):
            raise ConfigError(f"fn must be callable, got {fn!r}")
        if outputs not in ("logits", "probs", "labels"):
            raise ConfigError(f"outputs must be 'logits', 'probs' or 'labels', got {outputs!r}")
        self.fn, self.outputs = fn, outputs
        self.label_only = outputs == "labels"

    def probs(self, x: Array) -> Array:
        if self.label_only:
            raise ConfigError("this classifier returns labels only; it has no scores")
        out = _check_scores(self.fn(np.asarray(x, dtype=np.float64)), len(x), "the model")
        return softmax64(out) if self.outputs == "logits" else out

    def labels(self, x: Array) -> NDArray[np.int64]:
        if not self.label_only:
            return self.probs(x).argmax(axis=1)
        out = np.asarray(self.fn(np.asarray(x, dtype=np.float64)))
        if out.shape != (len(x),):
            raise ConfigError(f"the model must return ({len(x)},) labels, got shape {out.shape}")
        return out.astype(np.int64)


class LabelOnly:
    """Hides the scores of ``inner``: only ``labels`` can be read (a decision-based target)."""

    label_only = True

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def probs(self, x: Array) -> Array:
        raise ConfigError("this classifier returns labels only; it has no scores")

    def labels(self, x: Array) -> NDArray[np.int64]:
        return self.inner.labels(x)  # type: ignore[no-any-return]


class HTTPClassifier:
    """The classifier behind ``blackbox serve --classifier NAME`` (``POST /v1/classify``).

    Requests go through :class:`oracles.http.OpenAIClient` (retries with backoff on 429/5xx,
    ``rpm`` pacing, the run's ledger); ``rows_per_request`` inputs per request, sent
    concurrently. A request that still fails after its retries gives NaN rows (a failure in the
    ledger, never a lost campaign); a 200 response that is not the expected JSON raises
    :class:`~blackbox.errors.OracleDecodeError` naming the problem, and a refused request
    (400, 403, 404: it would fail every time) raises :class:`~blackbox.errors.OracleHTTPError`.
    """

    def __init__(self, base_url: str, *, label_only: bool = False, rows_per_request: int = 1024,
                 **client_kw: Any) -> None:
        from oracles.http import OpenAIClient

        self.client = OpenAIClient(base_url, **client_kw)
        self.label_only, self.rows = bool(label_only), int(rows_per_request)

    def attach_ledger(self, stats: Any) -> None:
        self.client.attach_ledger(stats)

    def _ask(self, x: Array, field: str) -> list[Any]:
        x = np.asarray(x, dtype=np.float64)
        bodies = [{"inputs": x[a:a + self.rows].tolist(), "output": field}
                  for a in range(0, len(x), self.rows)]
        answers = self.client.map("/classify", bodies)
        for a in answers:  # a garbage answer or a refused request fails every time: say so
            if isinstance(a, OracleDecodeError) or (
                    isinstance(a, OracleHTTPError) and a.status is not None
                    and 400 <= a.status < 500 and a.status not in (408, 409, 425, 429)):
                raise a
        return answers

    def probs(self, x: Array) -> Array:
        if self.label_only:
            raise ConfigError("this endpoint returns labels only; it has no scores")
        rows: list[Any] = []
        for a, body_n in zip(self._ask(x, "probs"), _chunks(len(x), self.rows)):
            if isinstance(a, BaseException):
                rows.append(np.full((body_n, 0), math.nan))
                continue
            p = a.get("probs")
            if not isinstance(p, list) or len(p) != body_n:
                raise OracleDecodeError(f"/classify: expected 'probs' with {body_n} rows, got {str(a)[:120]}")
            rows.append(_check_scores(p, body_n, "the endpoint"))
        c = max((r.shape[1] for r in rows), default=0)
        return np.concatenate([r if r.shape[1] == c else np.full((len(r), c), math.nan)
                               for r in rows]) if rows else np.empty((0, 0))

    def labels(self, x: Array) -> Array:
        out: list[Any] = []
        for a, body_n in zip(self._ask(x, "labels"), _chunks(len(x), self.rows)):
            if isinstance(a, BaseException):
                out.append(np.full(body_n, math.nan))
                continue
            lab = a.get("labels")
            if not isinstance(lab, list) or len(lab) != body_n:
                raise OracleDecodeError(f"/classify: expected 'labels' with {body_n} entries, got {str(a)[:120]}")
            out.append(np.asarray(lab, dtype=np.float64))
        return np.concatenate(out) if out else np.empty(0)  # float: NaN marks a failed request

    def close(self) -> None:
        self.client.close()


def _chunks(n: int, size: int) -> list[int]:
    return [min(size, n - a) for a in range(0, n, size)]
