"""MeZO: zeroth-order fine-tuning of a torch module in place, from random seeds.

The torch mode of ZO-SGD (DESIGN §6). Each step perturbs the module's trainable parameters by
``eps z`` with ``z ~ N(0, I)`` drawn from a per-step key, evaluates the loss at ``theta + eps z``
and ``theta - eps z`` (two forward passes, no autograd), restores ``theta`` and updates with
``ghat = projected_grad * z``, ``projected_grad = (L+ - L-) / (2 eps)``. ``z`` is never stored:
it is regenerated from the key for every pass, so between passes only the key and one scalar
survive and memory stays at inference level (Malladi et al., Algorithm 1; ALGORITHMS §1.5).
Updates follow ZO-Bench (ALGORITHMS §1.6): ``sgd`` (MeZO), ``momentum`` (ZO-SGD-MMT, torch SGD
semantics), ``adam`` (ZO-Adam, torch's constants), ``sign`` (ZO-SGD-Sign as in ZO-Bench's code:
``sign(projected_grad) z``) and ``conservative`` (ZO-SGD-Cons: keep the best of ``theta``,
``theta - lr ghat``, ``theta + lr ghat`` on the batch; five forward passes).

Randomness: step ``t``'s noise comes from ``Key(seed).fold_in(t)`` (seed ``j`` of n-SPSA from
``.fold_in(j)``), one ``torch.Generator`` per device seeded once per pass, parameters visited in
a fixed order (``named_parameters()`` with ``requires_grad``), so two tensors of equal shape get
different noise (the re-seeding bug of ALGORITHMS §1.5 cannot happen) and a run is reproduced by
its ``(t, projected_grads)`` records alone: :attr:`MeZO.history`, and the optional ``journal``
(one JSON line per step) from which a killed run resumes by replaying updates without forward
passes.

Restoring ``theta`` (``restore=``): ``"inplace"`` is MeZO's ``theta + eps z - 2 eps z + eps z``,
inference memory, but not bit-exact (rounding leaves about half the entries 1 ulp off in fp32,
and in fp16/bf16 the drift breaks training, princeton-nlp/MeZO#42); ``"copy"`` keeps one saved
copy of the trainable parameters (on ``copy_device``, e.g. ``"cpu"`` to spare GPU memory) and
restores bit-exactly; ``"master"`` keeps an fp32 master copy, perturbs and updates it in fp32
and casts into the (half-precision) parameters, the fix of MeZO#42. ``"auto"`` (default) is
``"inplace"`` for fp32/fp64 parameters and ``"master"`` otherwise.

Defaults and sources: ``lr = 1e-6``, ``mu = 1e-3`` (the paper's ``eps``; its ``n`` is our
``q``), ``q = 1``, central differences, constant
step size, weight decay 0 applied only to tensors whose names contain none of ``bias``,
``layer_norm``, ``layernorm``: MeZO's full-parameter settings (``large_models/mezo.sh``, OPT-13B
and RoBERTa-large) and ``large_models/trainer.py`` (``zo_perturb_parameters``, ``zo_step``,
``zo_update``). These suit full fine-tuning of large models; small models and LoRA/prefix
tuning take larger steps (MeZO's table: 1e-4 to 1e-2).

References:
    Malladi et al., "Fine-Tuning Language Models with Just Forward Passes" (MeZO), NeurIPS 2023,
    arXiv 2305.17333; github.com/princeton-nlp/MeZO.
    Zhang et al., "Revisiting Zeroth-Order Optimization for Memory-Efficient LLM Fine-Tuning: A
    Benchmark" (ZO-Bench), ICML 2024, arXiv 2402.11592.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Iterator

import torch

from blackbox.errors import ConfigError
from blackbox.keys import Key, as_key
from strategies.estimators import quotient, torch_directions
from strategies.mezo_journal import MeZOJournal, MeZOStep
from strategies.mezo_updates import MeZOSettings, tensor_step

__all__ = ["MeZO", "MeZOStep"]

_NO_DECAY = ("bias", "layer_norm", "layernorm")


class MeZO:
    """In-place SPSA fine-tuning of ``module`` with the random-seed trick (see module docstring).

    Args:
        module: the ``torch.nn.Module`` to fine-tune (modified in place).
        loss_fn: ``loss_fn(module, batch) -> scalar`` (tensor or float); called under
            ``torch.no_grad`` with the module in eval mode.
        lr, mu: step size and perturbation radius (MeZO's lr and eps: 1e-6, 1e-3; old name
            of ``mu``: ``eps``).
        q: seeds (directions) per step (n-SPSA's n; MeZO: 1; old name ``n``).
        difference: ``"central"`` (2q forward passes) or ``"forward"`` (q + 1, ZO-Bench one_side).
        update: ``"sgd"``, ``"momentum"``, ``"adam"``, ``"sign"`` or ``"conservative"``.
        beta, adam_b1, adam_b2, adam_eps: the update rules' constants (torch defaults; old names
            ``momentum``, ``betas=(b1, b2)``).
        weight_decay: L2 decay added to ``ghat`` for tensors not named bias/layer_norm.
        restore: ``"auto"``, ``"inplace"``, ``"copy"`` or ``"master"``.
        copy_device: where ``"copy"``/``"master"`` keep their copy (default: the parameter's).
        seed: an int or :class:`~blackbox.keys.Key`; step ``t`` uses ``key.fold_in(t)``.
        params: names of the parameters to train (default: all with ``requires_grad``).
        journal: a JSONL path; each step is appended, and an existing journal of the same
            configuration is replayed first (the module must hold the run's initial weights).
    """

    def __init__(self, module: torch.nn.Module, loss_fn: Callable[[Any, Any], Any], *,
                 lr: float = 1e-6, mu: float = 1e-3, q: int = 1, difference: str = "central",
                 update: str = "sgd", beta: float = 0.9, adam_b1: float = 0.9,
                 adam_b2: float = 0.999, adam_eps: float = 1e-8, weight_decay: float = 0.0,
                 restore: str = "auto", copy_device: Any = None, seed: int | Key = 0,
                 params: Iterable[str] | None = None, journal: str | None = None,
                 **renamed: Any) -> None:
        if not isinstance(module, torch.nn.Module):
            raise ConfigError(f"MeZO.module must be a torch.nn.Module, got {type(module).__name__}")
        if not callable(loss_fn):
            raise ConfigError("MeZO.loss_fn must be callable as loss_fn(module, batch)")
        given = dict(lr=lr, mu=mu, q=q, difference=difference, update=update, beta=beta,
                     adam_b1=adam_b1, adam_b2=adam_b2, adam_eps=adam_eps,
                     weight_decay=weight_decay, restore=restore)
        for old, new in (("eps", "mu"), ("n", "q"), ("momentum", "beta")):  # given by old name
            if old in renamed:
                given.pop(new)
        cfg = MeZOSettings.from_kwargs({**given, **renamed})
        self.settings = cfg
        self.lr, self.mu, self.q = float(cfg.lr), float(cfg.mu), cfg.q
        self.module, self.loss_fn, self.difference, self.update = module, loss_fn, cfg.difference, cfg.update
        self.beta, self.betas, self.adam_eps = cfg.beta, (cfg.adam_b1, cfg.adam_b2), cfg.adam_eps
        self.weight_decay = cfg.weight_decay
        restore = cfg.restore
        self.key = as_key(seed)
        named = [(k, p) for k, p in module.named_parameters() if p.requires_grad]
        if params is not None:
            want = list(params)
            missing = sorted(set(want) - {k for k, _ in module.named_parameters()})
            if missing:
                raise ConfigError(f"MeZO.params names unknown parameters: {missing}")
            named = [(k, p) for k, p in module.named_parameters() if k in set(want)]
        if not named:
            raise ConfigError("MeZO found no trainable parameters (requires_grad=True or params=...)")
        self.names = [k for k, _ in named]
        self.params = [p for _, p in named]
        self.decay = [not any(s in k.lower() for s in _NO_DECAY) for k in self.names]
        if restore == "auto":
            exact = all(p.dtype in (torch.float32, torch.float64) for p in self.params)
            restore = "inplace" if exact else "master"
        self.restore = restore
        self._base: list[torch.Tensor] | None = None
        if restore != "inplace":  # the saved copy / fp32 master the parameters are set from
            dt = (lambda p: torch.float32 if p.dtype in (torch.float16, torch.bfloat16) else p.dtype)
            dt = dt if restore == "master" else (lambda p: p.dtype)
            self._base = [p.detach().to(device=copy_device or p.device, dtype=dt(p), copy=True)
                          for p in self.params]
        self._scale = 0.0  # current offset of the parameters, in units of eps z (inplace)
        self._opt: list[Any] = [None] * len(self.params)  # momentum / Adam buffers
        self.t = 0
        self.forwards = 0
        self.history: list[MeZOStep] = []
        self._key_now: Key | None = None  # the key of the perturbation in place (inplace mode)
        self._journal = MeZOJournal(journal, self._header(), self.params) if journal else None
        if self._journal is not None:
            for rec in self._journal.records:
                self._apply(rec)
                self.history.append(rec)
                self.t = rec.t + 1

    # -- noise ----------------------------------------------------------------------------------
    def noise(self, key: Key) -> Iterator[torch.Tensor]:
        """``z`` for each trainable parameter in order (:func:`strategies.estimators.torch_directions`:
        one generator per device, seeded once), with the shape, dtype and device of the tensor
        it perturbs (the fp32 master copy in ``"master"`` mode)."""
        return torch_directions(key, self._base or self.params)

    def _set(self, key: Key | None, scale: float) -> None:
        """Put the parameters at ``theta + scale eps z(key)`` (``scale = 0``: at ``theta``)."""
        with torch.no_grad():
            if self._base is None:
                key = key if key is not None else self._key_now
                delta = scale - self._scale
                if delta:
                    assert key is not None
                    for p, z in zip(self.params, self.noise(key)):
                        p.add_(z, alpha=delta * self.mu)
                self._scale, self._key_now = scale, (key if scale else None)
                return
            if scale == 0:
                for p, b in zip(self.params, self._base):
                    p.copy_(b)
                return
            assert key is not None
            for p, b, z in zip(self.params, self._base, self.noise(key)):
                p.copy_(b.add(z, alpha=scale * self.mu))

    def _loss(self, batch: Any) -> float:
        with torch.no_grad():
            out = self.loss_fn(self.module, batch)
        self.forwards += 1
        return float(out.detach().to(torch.float64).mean()) if isinstance(out, torch.Tensor) else float(out)

    # -- one step --------------------------------------------------------------------------------
    def step(self, batch: Any) -> MeZOStep:
        """One MeZO step on ``batch``; returns (and records) its :class:`MeZOStep`."""
        key, f0 = self.key.fold_in(self.t), self.forwards
        training = self.module.training
        self.module.eval()  # dropout off (MeZO)
        try:
            pgs, losses = [], []
            l0 = self._loss(batch) if self.difference == "forward" else math.nan
            for j in range(self.q):
                kj = key.fold_in(j)
                self._set(kj, 1.0)
                lp = self._loss(batch)
                if self.difference == "central":
                    self._set(kj, -1.0)
                    lm = self._loss(batch)
                    pgs.append(quotient(lp, lm, self.mu, "central"))
                else:
                    pgs.append(quotient(lp, l0, self.mu, "forward"))
                self._set(kj, 0.0)
                losses.append(lp)
            ok = all(math.isfinite(g) for g in pgs)
            rec = MeZOStep(self.t, losses[0], tuple(pgs), 0, skipped=not ok)
            if ok and self.update == "conservative":
                rec = self._conservative(batch, rec)
            elif ok:
                self._apply(rec)
        finally:  # also when loss_fn raised: theta is put back
            self._set(None, 0.0)
            self.module.train(training)
        rec = MeZOStep(rec.t, rec.loss, rec.projected_grads, self.forwards - f0, rec.move, rec.skipped)
        self.history.append(rec)
        if self._journal is not None:
            self._journal.append(rec)
        self.t += 1
        return rec

    def fit(self, batches: Iterable[Any] | Callable[[int], Any], steps: int, *,
            callback: Callable[[MeZOStep], Any] | None = None, progress: bool | None = None) -> list[MeZOStep]:
        """Run ``steps`` steps (until ``self.t == steps`` when resumed from a journal).

        ``batches`` is an iterable (cycled) or ``batches(t) -> batch``; a callback returning
        ``True`` stops early. Returns the records of the steps taken.
        """
        from blackbox.progress import ProgressBar
        from blackbox.runner import _isatty

        show = progress if progress is not None else _isatty()
        bar = ProgressBar(steps, "steps", label="mezo") if show else None
        it = None if callable(batches) else iter(batches)
        out: list[MeZOStep] = []
        while self.t < steps:
            if callable(batches):
                batch = batches(self.t)
            else:
                try:
                    batch = next(it)  # type: ignore[arg-type]
                except StopIteration:
                    it = iter(batches)  # type: ignore[arg-type]
                    batch = next(it)
            rec = self.step(batch)
            out.append(rec)
            if bar is not None:
                bar.update(self.t, rec.loss)
            if callback is not None and callback(rec) is True:
                break
        if bar is not None:
            bar.close(self.t, out[-1].loss if out else math.nan)
        return out

    # -- updates ---------------------------------------------------------------------------------
    def _ghats(self, rec: MeZOStep) -> Iterator[tuple[int, torch.Tensor]]:
        """``ghat`` per parameter (n-SPSA average, weight decay added), one tensor at a time."""
        key = self.key.fold_in(rec.t)
        streams = [self.noise(key.fold_in(j)) for j in range(self.q)]
        coef = [(math.copysign(1.0, g) if self.update == "sign" else g) / self.q
                for g in rec.projected_grads]
        for i, zs in enumerate(zip(*streams)):
            g = zs[0].mul_(coef[0])
            for c, z in zip(coef[1:], zs[1:]):
                g.add_(z, alpha=c)
            if self.weight_decay and self.decay[i]:
                g.add_(self._theta(i), alpha=self.weight_decay)
            yield i, g

    def _theta(self, i: int) -> torch.Tensor:
        return self._base[i] if self._base is not None else self.params[i]

    def _apply(self, rec: MeZOStep) -> None:
        """Apply the update of ``rec`` to ``theta`` (for ``conservative``: its chosen move)."""
        if rec.skipped or (self.update == "conservative" and rec.move == 0):
            return
        self._move(rec, float(rec.move) if self.update == "conservative" else None)

    def _move(self, rec: MeZOStep, by: float | None = None) -> None:
        """``theta += by lr ghat``; with ``by=None`` the update rule's step instead."""
        with torch.no_grad():
            for i, g in self._ghats(rec):
                theta = self._theta(i)
                if by is None:
                    self._opt[i] = tensor_step(self.update, theta, g, self._opt[i], self.lr,
                                               self.beta, self.betas, self.adam_eps)
                else:
                    theta.add_(g, alpha=by * self.lr)
                if self._base is not None:
                    self.params[i].copy_(theta)

    def _conservative(self, batch: Any, rec: MeZOStep) -> MeZOStep:
        """ZO-SGD-Cons: L0 at theta, L1 at theta - lr ghat, L2 at theta + lr ghat; keep the best."""
        l0 = self._loss(batch)
        self._try(rec, -1.0)
        l1 = self._loss(batch)
        self._try(rec, +1.0)
        l2 = self._loss(batch)
        if l1 > l0 or not math.isfinite(l1):  # ZO-Bench's zo_conserv_step order of comparisons
            move = 0 if (l0 < l2 or not math.isfinite(l2)) else 1
        else:
            move = -1 if l1 < l2 or not math.isfinite(l2) else 1
        rec = MeZOStep(rec.t, rec.loss, rec.projected_grads, 0, move=move)
        if self._base is not None:  # theta itself never moved: apply the choice as replay does
            self._set(None, 0.0)
            self._apply(rec)
        elif move != 1:  # in place we stand at theta + lr ghat: step back to the choice
            self._move(rec, move - 1.0)
        return rec

    def _try(self, rec: MeZOStep, sign: float) -> None:
        """Put the parameters at ``theta + sign lr ghat``, ``theta`` kept (in place: from
        ``theta`` for ``sign = -1``, then from ``theta - lr ghat`` for ``sign = +1``)."""
        if self._base is None:
            self._move(rec, -1.0 if sign < 0 else 2.0)
            return
        with torch.no_grad():
            for i, g in self._ghats(rec):
                self.params[i].copy_(self._base[i].add(g, alpha=sign * self.lr))

    def _header(self) -> dict[str, Any]:
        # (the journal keeps the original key names, so journals of earlier runs still resume)
        return {"kind": "mezo", "seed": self.key.to_json(), "lr": self.lr, "eps": self.mu, "n": self.q,
                "difference": self.difference, "update": self.update, "restore": self.restore,
                "momentum": self.beta, "betas": list(self.betas), "weight_decay": self.weight_decay,
                "params": [[k, list(p.shape), str(p.dtype)] for k, p in zip(self.names, self.params)]}
