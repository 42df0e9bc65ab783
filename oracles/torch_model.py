"""Local torch models as oracles: :class:`TorchModelOracle` and attack objectives.

``TorchModelOracle(model_factory, objective, dim=...)`` evaluates a whole ``(n, d)`` batch of
points with one model, in chunks of ``max_batch`` under ``torch.inference_mode``, on CUDA when
present and CPU otherwise, and returns float64 numpy. The model is built lazily by
``model_factory()`` in the process that evaluates, so the oracle pickles small before its first
call (a Ray actor builds its own copy; models are never shipped). With a fractional GPU (a Ray
actor given ``num_gpus=0.25``, or ``memory_fraction=``) the process caps its share of GPU
memory with ``torch.cuda.set_per_process_memory_fraction``.

Attack objectives (:func:`attack_objective`, :class:`AttackObjective`) turn a classifier into a
black-box attack target; every loss is *minimized*, and the margin loss reaches its floor
``-kappa`` (the hard-label loss 0) exactly when the attack succeeds:

* score-based margin (Carlini & Wagner 2017, https://arxiv.org/abs/1608.04644, the loss of
  ZOO, Chen et al. 2017, https://arxiv.org/abs/1708.03999): untargeted
  ``max(z_y - max_{j != y} z_j, -kappa)``, targeted ``max(max_{j != t} z_j - z_t, -kappa)``;
* score-based cross-entropy: untargeted ``-CE(z, y)``, targeted ``CE(z, t)``;
* hard-label (decision-based, only the top class is seen; Cheng et al. 2019,
  https://arxiv.org/abs/1807.04457): ``0`` on success, ``1`` otherwise;

each optionally plus ``distance_weight * ||x - x_orig||_2``. Defaults: ``kappa = 0`` (C&W), the
margin loss (ZOO's choice), no distance term.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np
import torch
from numpy.typing import NDArray

from blackbox.errors import ConfigError
from blackbox.keys import Key

__all__ = ["AttackObjective", "TorchModelOracle", "attack_objective", "digits_classifier"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
           "bfloat16": torch.bfloat16}


def _resolve_device(device: str | torch.device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from exc


def _ray_gpu_fraction() -> float | None:
    """The GPU share Ray gave this worker (e.g. 0.25), or None outside a fractional Ray actor."""
    try:
        import ray

        if not ray.is_initialized():
            return None
        gpu = ray.get_runtime_context().get_assigned_resources().get("GPU")
    except Exception:
        return None
    return float(gpu) if gpu and 0 < gpu < 1 else None


class TorchModelOracle:
    """A value oracle backed by a local torch model, evaluated in whole batches.

    Args:
        model_factory: ``() -> nn.Module`` (or any callable model); called once, lazily, in the
            evaluating process. Must be picklable (a module-level function or class) to be sent
            to Ray workers.
        objective: ``(model, batch (b, d) tensor) -> (b,) tensor``; may take a keyword ``key``
            (the :class:`~blackbox.keys.Key` of the chunk's first point; point ``i`` of the chunk
            uses ``key.fold_in(i)``) for stochastic objectives.
        dim: the point dimension ``d``.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        max_batch: at most this many points per forward pass.
        dtype: the torch dtype of the batch (a ``torch.dtype`` or its name).
        sense: ``"min"`` or ``"max"``.
        memory_fraction: cap on this process's share of GPU memory (default: the fractional GPU
            Ray assigned, if any).
        name: the ledger name (default ``"torch_model"``).
    """

    def __init__(self, model_factory: Callable[[], Any], objective: Callable[..., Any], *,
                 dim: int, device: str | torch.device = "auto", max_batch: int = 1024,
                 dtype: torch.dtype | str = torch.float32, sense: str = "min",
                 memory_fraction: float | None = None, name: str = "torch_model") -> None:
        if not callable(model_factory):
            raise ConfigError(f"model_factory must be callable, got {model_factory!r}")
        if not callable(objective):
            raise ConfigError(f"objective must be callable, got {objective!r}")
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ConfigError(f"dim must be an int >= 1, got {dim!r}")
        if isinstance(max_batch, bool) or not isinstance(max_batch, (int, np.integer)) \
                or max_batch < 1:
            raise ConfigError(f"max_batch must be an int >= 1, got {max_batch!r}")
        if isinstance(dtype, str):
            if dtype not in _DTYPES:
                raise ConfigError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
            dtype = _DTYPES[dtype]
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ConfigError(f"dtype must be a floating torch dtype, got {dtype!r}")
        if sense not in ("min", "max"):
            raise ConfigError(f"sense must be 'min' or 'max', got {sense!r}")
        if memory_fraction is not None and not 0 < memory_fraction <= 1:
            raise ConfigError(f"memory_fraction must be in (0, 1], got {memory_fraction!r}")
        if device != "auto":
            _resolve_device(device)  # validate now
        self.model_factory = model_factory
        self.objective = objective
        self.dim = int(dim)
        self.device = device
        self.max_batch = int(max_batch)
        self.dtype = dtype
        self.sense = sense
        self.memory_fraction = memory_fraction
        self.name = name
        self._model: Any = None
        self._device: torch.device | None = None
        try:
            params = inspect.signature(objective).parameters
            self._wants_key = "key" in params
        except (TypeError, ValueError):
            self._wants_key = False

    # pickling: never ship a built model
    def __getstate__(self) -> dict[str, Any]:
        st = dict(self.__dict__)
        st["_model"] = None
        st["_device"] = None
        return st

    @property
    def model(self) -> Any:
        """The model, built on first use in this process."""
        if self._model is None:
            dev = _resolve_device(self.device)
            if dev.type == "cuda":
                frac = self.memory_fraction or _ray_gpu_fraction()
                if frac is not None:
                    torch.cuda.set_per_process_memory_fraction(frac, dev)
            model = self.model_factory()
            if hasattr(model, "to"):
                model = model.to(device=dev, dtype=self.dtype)
            if hasattr(model, "eval"):
                model.eval()
            self._device, self._model = dev, model
        return self._model

    def values(self, points: NDArray[np.float64], *, key: Key) -> NDArray[np.float64]:
        model = self.model
        pts = np.asarray(points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != self.dim:
            raise ConfigError(f"points must have shape (n, {self.dim}), got {pts.shape}")
        out = np.empty(len(pts), dtype=np.float64)
        with torch.inference_mode():
            for a in range(0, len(pts), self.max_batch):
                chunk = pts[a:a + self.max_batch]
                batch = torch.tensor(chunk, dtype=self.dtype, device=self._device)  # a copy
                if self._wants_key:
                    val = self.objective(model, batch, key=key.shifted(a))
                else:
                    val = self.objective(model, batch)
                val = torch.as_tensor(val).reshape(-1)
                if val.numel() != len(chunk):
                    raise ConfigError(
                        f"objective returned {val.numel()} values for a batch of {len(chunk)}"
                    )
                out[a:a + len(chunk)] = val.detach().to("cpu", torch.float64).numpy()
        return out

    def close(self) -> None:
        self._model = None

    def __repr__(self) -> str:
        return (f"TorchModelOracle(dim={self.dim}, device={self.device!r}, "
                f"max_batch={self.max_batch}, built={self._model is not None})")


class AttackObjective:
    """An attack loss on a classifier's logits (minimized; see the module docstring).

    Args:
        label: the true class (untargeted) or the target class (``targeted=True``).
        kind: ``"margin"`` or ``"ce"`` (ignored when ``hard_label``).
        targeted: attack toward ``label`` instead of away from it.
        hard_label: only the predicted class is used (0 on success, 1 otherwise).
        x_orig: the clean input, flattened; when given, points are perturbations added to it
            (``perturbation=True``) or adversarial inputs measured against it.
        perturbation: points are ``delta`` (input ``x_orig + delta``) rather than inputs.
        shape: the model's input shape per example (default: flat ``(d,)``).
        clip: ``(lo, hi)`` bounds the model input is clipped to, or None.
        kappa: margin confidence (C&W ``kappa``, >= 0; ``math.inf`` for the unclamped margin).
        distance_weight: weight of ``||x - x_orig||_2`` added to the loss.
    """

    def __init__(self, label: int, kind: str = "margin", *, targeted: bool = False,
                 hard_label: bool = False, x_orig: Any = None, perturbation: bool = True,
                 shape: tuple[int, ...] | None = None, clip: tuple[float, float] | None = None,
                 kappa: float = 0.0, distance_weight: float = 0.0) -> None:
        if kind not in ("margin", "ce"):
            raise ConfigError(f"kind must be 'margin' or 'ce', got {kind!r}")
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or label < 0:
            raise ConfigError(f"label must be a class index >= 0, got {label!r}")
        if kappa < 0:
            raise ConfigError(f"kappa must be >= 0, got {kappa!r}")
        if distance_weight < 0:
            raise ConfigError(f"distance_weight must be >= 0, got {distance_weight!r}")
        if distance_weight and x_orig is None:
            raise ConfigError("x_orig is required when distance_weight > 0")
        self.label, self.kind, self.targeted = int(label), kind, bool(targeted)
        self.hard_label, self.perturbation = bool(hard_label), bool(perturbation)
        self.x_orig = None if x_orig is None else np.asarray(x_orig, dtype=np.float64).reshape(-1)
        self.shape, self.clip = shape, clip
        self.kappa, self.distance_weight = float(kappa), float(distance_weight)

    def inputs(self, batch: torch.Tensor) -> torch.Tensor:
        """The model inputs ``(b, *shape)`` for a batch of points."""
        x = batch
        if self.x_orig is not None and self.perturbation:
            x = x + torch.tensor(self.x_orig, dtype=batch.dtype, device=batch.device)
        if self.clip is not None:
            x = x.clamp(self.clip[0], self.clip[1])
        return x if self.shape is None else x.reshape(len(x), *self.shape)

    def loss_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """The loss ``(b,)`` from logits ``(b, classes)``."""
        z = logits.to(torch.float64)
        y = self.label
        if self.hard_label:
            pred = z.argmax(dim=1)
            ok = (pred == y) if self.targeted else (pred != y)
            return (~ok).to(torch.float64)
        if self.kind == "ce":
            logp = torch.log_softmax(z, dim=1)[:, y]
            return -logp if self.targeted else logp  # CE(z, t) = -log p_t; untargeted: -CE(z, y)
        other = z.clone()
        other[:, y] = -torch.inf
        best_other = other.max(dim=1).values
        m = best_other - z[:, y] if self.targeted else z[:, y] - best_other
        return torch.clamp(m, min=-self.kappa)

    def __call__(self, model: Any, batch: torch.Tensor) -> torch.Tensor:
        x = self.inputs(batch)
        loss = self.loss_from_logits(model(x))
        if self.distance_weight:
            assert self.x_orig is not None
            flat = x.reshape(len(x), -1).to(torch.float64)
            ref = torch.tensor(self.x_orig, dtype=torch.float64, device=flat.device)
            loss = loss + self.distance_weight * (flat - ref).norm(dim=1)
        return loss


def attack_objective(label: int, kind: str = "margin", *, targeted: bool = False,
                     hard_label: bool = False, **kwargs: Any) -> AttackObjective:
    """Shorthand for :class:`AttackObjective` (same arguments)."""
    return AttackObjective(label, kind, targeted=targeted, hard_label=hard_label, **kwargs)


def digits_classifier(hidden: int = 32, epochs: int = 60, seed: int = 0) -> torch.nn.Module:
    """A small MLP trained in about a second on scikit-learn's bundled 8x8 digits (no download).

    Inputs are the 64 pixel intensities scaled to ``[0, 1]``; outputs 10 logits. Training is
    full-batch Adam with a fixed generator, so the same arguments give the same weights on one
    machine. Needs scikit-learn.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.as_tensor(data.data / 16.0, dtype=torch.float32)
    y = torch.as_tensor(data.target, dtype=torch.long)
    gen = Key(seed).torch()
    model = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(),
                                torch.nn.Linear(hidden, 10))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / np.sqrt(p.shape[-1])))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return model.eval()
