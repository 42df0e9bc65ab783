"""Name registries for strategies and oracles; duplicate names are refused.

The core never imports the packages above it. ``STRATEGIES`` and ``ORACLES`` fill themselves on
first use from the installed packages' entry points (groups ``blackbox.strategies`` and
``blackbox.oracles``; this project declares its own ``strategies`` and ``oracles`` packages there
in ``pyproject.toml``, and a third-party package can declare its own the same way), so
``STRATEGIES.get("cbo")`` works without a manual import.

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

from importlib.metadata import entry_points
from typing import Any, Callable, Iterator, TypeVar

from blackbox.errors import RegistryError, UnknownNameError

__all__ = ["ORACLES", "Registry", "STRATEGIES", "register_oracle", "register_strategy"]

T = TypeVar("T")


class Registry:
    """A collision-checked mapping from short names to classes or factories."""

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind = kind
        self._group = group
        self._loaded = group is None
        self._items: dict[str, Any] = {}
        self._info: dict[str, str] = {}

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            assert self._group is not None
            for ep in sorted(entry_points(group=self._group), key=lambda e: e.name):
                ep.load()  # importing the plugin's module registers its names

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


STRATEGIES = Registry("strategy", group="blackbox.strategies")
ORACLES = Registry("oracle", group="blackbox.oracles")


def register_strategy(name: str, *, info: str = "") -> Callable[[T], T]:
    return STRATEGIES.register(name, info=info)  # type: ignore[no-any-return]


def register_oracle(name: str, *, info: str = "") -> Callable[[T], T]:
    return ORACLES.register(name, info=info)  # type: ignore[no-any-return]
