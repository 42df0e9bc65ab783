"""An image classifier over HTTP: ``POST /v1/classify`` for ``blackbox serve --classifier NAME``.

Request: ``{"inputs": [[x_1, ..., x_d], ...], "output": "probs" | "labels"}`` (inputs in the
model's range, ``[0, 1]`` for ``digits``). Response: ``{"probs": [[p_1, ..., p_C], ...]}``
(softmax of the logits, computed in float64, so a client gets exactly the numbers an
in-process attack computes) or ``{"labels": [k, ...]}``. With ``--label-only`` the endpoint
answers labels only (a request for ``probs`` gets 403): the setting of decision-based attacks.
Bad requests get 400 with a one-line message naming the field. The route goes through the
server's fault injection (``--fail-429``, ``--fail-500``, ...) like every other API route.

Models: ``digits`` (:func:`oracles.digits.digits_cnn`, trained on first use and cached).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

__all__ = ["CLASSIFIERS", "classifier_routes", "softmax64"]


def _digits() -> Any:
    from oracles.digits import digits_cnn

    return digits_cnn()


CLASSIFIERS: dict[str, Callable[[], Any]] = {"digits": _digits}


def softmax64(logits: Any) -> NDArray[np.float64]:
    """Row-wise softmax in float64 (the in-process attack adapters use this same function)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def load_classifier(name: str) -> Any:
    if name not in CLASSIFIERS:
        raise SystemExit(f"blackbox serve: unknown --classifier {name!r} ({', '.join(CLASSIFIERS)})")
    import torch

    torch.set_num_threads(1)  # small batches: one thread is fastest (see apps/attacks)
    return CLASSIFIERS[name]().eval()


def classify(model: Any, body: dict[str, Any], label_only: bool) -> tuple[int, dict[str, Any]]:
    """``(status, response JSON)`` for one request body."""
    import torch

    out = body.get("output", "probs")
    if out not in ("probs", "labels"):
        return 400, {"error": {"message": f"output must be 'probs' or 'labels', got {out!r}"}}
    if out == "probs" and label_only:
        return 403, {"error": {"message": "this endpoint returns labels only"}}
    try:
        x = np.asarray(body.get("inputs"), dtype=np.float64)
    except (TypeError, ValueError):
        return 400, {"error": {"message": "inputs must be a list of equal-length number lists"}}
    if x.ndim != 2 or x.shape[0] == 0 or not np.all(np.isfinite(x)):
        return 400, {"error": {"message": f"inputs must be a non-empty (n, d) list of finite "
                                          f"numbers, got shape {x.shape}"}}
    try:
        with torch.inference_mode():
            z = model(torch.as_tensor(x, dtype=torch.float32)).to(torch.float64).numpy()
    except RuntimeError as exc:
        return 400, {"error": {"message": f"inputs do not fit the model: {str(exc)[:200]}"}}
    if out == "labels":
        return 200, {"labels": z.argmax(axis=1).tolist()}
    return 200, {"probs": softmax64(z).tolist()}


def classifier_routes(name: str, label_only: bool, body_of: Callable[..., Any]) -> list[Any]:
    """The ``/v1/classify`` route; ``body_of(request)`` is the server's fault-injecting reader."""
    import asyncio

    from starlette.responses import JSONResponse
    from starlette.routing import Route

    model = load_classifier(name)

    async def route(request: Any) -> Any:
        body = await body_of(request)
        if isinstance(body, JSONResponse):
            return body
        status, data = await asyncio.to_thread(classify, model, body, label_only)
        return JSONResponse(data, status_code=status)

    return [Route("/v1/classify", route, methods=["POST"])]
