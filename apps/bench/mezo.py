"""MeZO versus backpropagation: peak memory and seconds per step on a small transformer LM.

The model is a ``torch.nn.TransformerEncoder`` language model (causal mask, tied-free embedding
and head) built from a fixed generator, trained on fixed random token sequences with next-token
cross-entropy; nothing is downloaded. Per method, one warm-up step, then timed steps:

* ``mezo``: :class:`strategies.mezo.MeZO` (in place, SGD), two forward passes per step;
* ``mezo_adam``: the same with ZO-Adam (two extra buffers the size of the parameters);
* ``backprop_sgd`` / ``backprop_adam``: ``loss.backward()`` and ``torch.optim.SGD`` / ``Adam``.

On CUDA the peak is ``torch.cuda.max_memory_allocated`` during the steps, reported beside the
weights' own size (MeZO's claim: inference-level memory, ALGORITHMS §1.5). On CPU each method
runs in a fresh process and the peak is the growth of its peak resident set size
(``ru_maxrss``) over the steps, after the model and data were built (``--quick``: in-process,
timings only); the model is smaller there.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

#: MeZO needs less extra memory than backprop with Adam (CPU: peak-RSS growth; CUDA: peak)
TARGETS = {"memory_ratio_backprop_adam_over_mezo": (">=", 1.5)}

__all__ = ["run"]


class _LM(torch.nn.Module):
    def __init__(self, vocab: int, width: int, layers: int, heads: int, seq: int) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, width)
        self.pos = torch.nn.Parameter(torch.zeros(seq, width))
        layer = torch.nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, batch_first=True)
        self.body = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = torch.nn.Linear(width, vocab)
        self.register_buffer("mask", torch.nn.Transformer.generate_square_subsequent_mask(seq), persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embed(tokens) + self.pos[: tokens.shape[1]]
        return self.head(self.body(h, mask=self.mask[: tokens.shape[1], : tokens.shape[1]], is_causal=True))


def _loss(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    logits = model(tokens[:, :-1])
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))


def _build(cfg: dict[str, int], device: torch.device, dtype: torch.dtype) -> _LM:
    """The LM with every parameter set from a Key (no global seeding): matrices N(0, 0.02^2),
    norms' weights 1, biases and positions 0."""
    from blackbox.keys import Key

    model = _LM(cfg["vocab"], cfg["width"], cfg["layers"], cfg["heads"], cfg["seq"] + 1)
    gen = Key(0).torch()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
            else:
                p.fill_(1.0 if "norm" in name and name.endswith("weight") else 0.0)
    return model.to(device, dtype)


def _measure(method: str, cfg: dict[str, int], device: torch.device, steps: int) -> dict[str, Any]:
    from strategies.mezo import MeZO

    model = _build(cfg, device, torch.float32)
    gen = torch.Generator(device="cpu").manual_seed(1)
    tokens = torch.randint(0, cfg["vocab"], (cfg["batch"], cfg["seq"] + 1), generator=gen).to(device)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    if method.startswith("mezo"):
        opt = MeZO(model, _loss, lr=1e-4, mu=1e-3, update="adam" if method == "mezo_adam" else "sgd")

        def step() -> float:
            return opt.step(tokens).loss
    else:
        model.train()
        fo = (torch.optim.Adam(model.parameters(), lr=1e-4) if method == "backprop_adam"
              else torch.optim.SGD(model.parameters(), lr=1e-4))

        def step() -> float:
            fo.zero_grad(set_to_none=True)
            loss = _loss(model, tokens)
            loss.backward()
            fo.step()
            return float(loss.detach())

    cuda = device.type == "cuda"
    rss0 = _maxrss_MB()
    first = step()  # warm-up (and the optimizers' state)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        last = step()
    if cuda:
        torch.cuda.synchronize()
    out: dict[str, Any] = {"method": method, "seconds_per_step": (time.perf_counter() - t0) / steps,
                           "loss_first": first, "loss_last": last, "weights_MB": weights / 2**20}
    if cuda:
        out["peak_MB"] = torch.cuda.max_memory_allocated() / 2**20
    else:
        out["rss_growth_MB"] = _maxrss_MB() - rss0
    if cuda:
        torch.cuda.empty_cache()
    return out


def _maxrss_MB() -> float:
    import resource
    import sys

    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 1024  # bytes on macOS, KiB on Linux


def _in_fresh_process(method: str, cfg: dict[str, int], steps: int) -> dict[str, Any]:
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_measure, (method, cfg, torch.device("cpu"), steps))  # type: ignore[no-any-return]


def run(quick: bool = False) -> dict[str, Any]:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda" and not quick:
        cfg = {"vocab": 32000, "width": 1024, "layers": 12, "heads": 16, "seq": 512, "batch": 16}
        steps = 10
    else:
        cfg = ({"vocab": 2000, "width": 128, "layers": 2, "heads": 4, "seq": 64, "batch": 8} if quick
               else {"vocab": 8000, "width": 256, "layers": 4, "heads": 4, "seq": 128, "batch": 16})
        steps = 2 if quick else 5
    out: dict[str, Any] = {"device": str(device), "model": cfg, "steps": steps, "cases": []}
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(0)
    for method in ("mezo", "mezo_adam", "backprop_sgd", "backprop_adam"):
        fresh = device.type == "cpu" and not quick
        case = _in_fresh_process(method, cfg, steps) if fresh else _measure(method, cfg, device, steps)
        out["cases"].append(case)
        mem = f", peak {case['peak_MB']:.0f} MB" if "peak_MB" in case else ""
        mem = f", peak RSS +{case['rss_growth_MB']:.0f} MB" if fresh else mem
        print(f"   {method:14s} {1e3 * case['seconds_per_step']:8.1f} ms/step{mem} "
              f"(weights {case['weights_MB']:.0f} MB; loss {case['loss_first']:.3f} -> "
              f"{case['loss_last']:.3f})", flush=True)
    by = {c["method"]: c for c in out["cases"]}
    if "peak_MB" in by["mezo"]:
        out["memory_ratio_backprop_adam_over_mezo"] = by["backprop_adam"]["peak_MB"] / by["mezo"]["peak_MB"]
        out["mezo_peak_over_weights"] = by["mezo"]["peak_MB"] / by["mezo"]["weights_MB"]
    elif not quick:  # CPU: what each method needs beyond the weights and data already resident
        out["extra_memory_MB"] = {m: c["rss_growth_MB"] for m, c in by.items()}
        out["memory_ratio_backprop_adam_over_mezo"] = (
            by["backprop_adam"]["rss_growth_MB"] / max(by["mezo"]["rss_growth_MB"], 1.0))
    out["params"] = int(round(by["mezo"]["weights_MB"] * 2**20 / 4))
    assert all(math.isfinite(c["loss_last"]) for c in out["cases"])
    return out
