"""Name registries for strategies and oracles; duplicate names are refused.

``STRATEGIES`` fills itself by importing the ``strategies`` package on first use, ``ORACLES`` by
importing ``oracles``, so ``STRATEGIES.get("cbo")`` works without a manual import.

Examples:
    >>> r = Registry("thing")
    >>> @r.register("a")
    ... class A: ...
    >>> r.get("a") is A
    True
    >>> r.register("a", A)
    Traceback (most recent call last):
    ...
    blackbox.errors.RegistryError: thing name 'a' is already registered (to A)
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Iterator, TypeVar

from blackbox.errors import RegistryError, UnknownNameError

__all__ = ["ORACLES", "Registry", "STRATEGIES", "register_oracle", "register_strategy"]

T = TypeVar("T")


class Registry:
    """A collision-checked mapping from short names to classes or factories."""

    def __init__(self, kind: str, loader: str | None = None) -> None:
        self.kind = kind
        self._loader = loader
        self._loaded = loader is None
        self._items: dict[str, Any] = {}
        self._info: dict[str, str] = {}

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            assert self._loader is not None
            importlib.import_module(self._loader)

    def register(self, name: str, obj: Any = None, *, info: str = "") -> Any:
        """Register ``obj`` under ``name``; usable as ``@registry.register("name")``."""
        self._load()  # the built-in names first, so a clash is reported here
        if not isinstance(name, str) or not name:
            raise RegistryError(f"{self.kind} name must be a non-empty string, got {name!r}")

        def deco(target: T) -> T:
            if name in self._items:
                old = self._items[name]
                raise RegistryError(
                    f"{self.kind} name {name!r} is already registered "
                    f"(to {getattr(old, '__qualname__', old)!s})"
                )
            self._items[name] = target
            self._info[name] = info or (getattr(target, "__doc__", "") or "").strip().split("\n")[0]
            try:
                if isinstance(target, type) and "registry_name" not in vars(target):
                    target.registry_name = name  # type: ignore[attr-defined]
            except (AttributeError, TypeError):  # pragma: no cover - frozen or builtin
                pass
            return target

        return deco if obj is None else deco(obj)

    def get(self, name: str) -> Any:
        self._load()
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; known {self.kind} names: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def info(self, name: str) -> str:
        self.get(name)
        return self._info[name]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


STRATEGIES = Registry("strategy", loader="strategies")
ORACLES = Registry("oracle", loader="oracles")


def register_strategy(name: str, *, info: str = "") -> Callable[[T], T]:
    return STRATEGIES.register(name, info=info)  # type: ignore[no-any-return]


def register_oracle(name: str, *, info: str = "") -> Callable[[T], T]:
    return ORACLES.register(name, info=info)  # type: ignore[no-any-return]
