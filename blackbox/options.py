"""Declarative strategy options: each field's range is declared once and checked in one place.

A strategy declares its options as dataclass fields made with :func:`option`, each with a check
(:class:`Range`, :class:`OneOf`, :class:`Flag`, :class:`Pair`, :class:`Indices`, or ``None``
for free-form values such as a space), a one-line description and the paper's symbol:

    lr: float = option(0.01, Range(0, None, lo_open=True), "step size", paper="eta")

:class:`~blackbox.strategy.BaseStrategy` runs :func:`check_options` after construction, so every
error is one line naming the field, what was expected and what was got
(``ZOSGD.lr must be a finite number > 0, got -1``), raised as
:class:`~blackbox.errors.ConfigError` before any query is sent. The same declarations give
configuration files their errors for unknown names (:func:`check_names`, with close matches),
renamed options their deprecation (``aliases``, :func:`translate`) and ``blackbox strategies``
its listing (:func:`describe`).

Examples:
    >>> Range(0, 1, hi_open=True).describe()
    'a number in [0, 1)'
    >>> Range(1, integer=True).describe()
    'an int >= 1'
    >>> OneOf(("central", "forward")).describe()
    "one of 'central', 'forward'"
    >>> Range(0, None, lo_open=True).ok(float("nan"))
    False
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from blackbox.errors import ConfigError

__all__ = [
    "Flag",
    "Indices",
    "OneOf",
    "Pair",
    "Range",
    "check_names",
    "check_options",
    "describe",
    "option",
    "translate",
]


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_number(v: Any) -> bool:
    return (isinstance(v, (int, float, np.integer, np.floating))
            and not isinstance(v, (bool, np.bool_)))


@dataclass(frozen=True)
class Range:
    """A number (or ``integer``) in ``[lo, hi]``; ends open with ``lo_open`` / ``hi_open``;
    ``optional``: ``None`` allowed. Floats must be finite."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False
    optional: bool = False

    def ok(self, v: Any) -> bool:
        if v is None:
            return self.optional
        if not (_is_int(v) if self.integer else _is_number(v)) or not math.isfinite(v):
            return False
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            return False
        return not (self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi))

    def describe(self) -> str:
        what = "an int" if self.integer else "a finite number" if self.hi is None else "a number"
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None:
            text = (f"{what} in {'(' if self.lo_open else '['}{_num(lo)}, "
                    f"{_num(hi)}{')' if self.hi_open else ']'}")
        elif lo is not None:
            text = f"{what} {'>' if self.lo_open else '>='} {_num(lo)}"
        elif hi is not None:
            text = f"{what} {'<' if self.hi_open else '<='} {_num(hi)}"
        else:
            text = what
        return f"None or {text}" if self.optional else text


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(v)


@dataclass(frozen=True)
class OneOf:
    """One of ``choices`` (``None`` may be one of them)."""

    choices: tuple[Any, ...]

    def ok(self, v: Any) -> bool:
        return any(v is c or (type(v) is type(c) and v == c) for c in self.choices)

    def describe(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)


@dataclass(frozen=True)
class Flag:
    """``True`` or ``False``."""

    def ok(self, v: Any) -> bool:
        return isinstance(v, (bool, np.bool_))

    def describe(self) -> str:
        return "True or False"


@dataclass(frozen=True)
class Pair:
    """``None`` or an increasing pair of finite numbers ``(lo, hi)``, stored as a float tuple."""

    def ok(self, v: Any) -> bool:
        if v is None:
            return True
        try:
            lo, hi = v
        except (TypeError, ValueError):
            return False
        return _is_number(lo) and _is_number(hi) and math.isfinite(lo) and math.isfinite(hi) \
            and lo < hi

    def coerce(self, v: Any) -> Any:
        return None if v is None else (float(v[0]), float(v[1]))

    def describe(self) -> str:
        return "None or (lo, hi) with lo < hi"


@dataclass(frozen=True)
class Indices:
    """``None`` or a non-empty sequence of ints >= 0, stored as a tuple."""

    def ok(self, v: Any) -> bool:
        if v is None:
            return True
        try:
            items = list(v)
        except TypeError:
            return False
        return bool(items) and all(_is_int(i) and i >= 0 for i in items)

    def coerce(self, v: Any) -> Any:
        return None if v is None else tuple(int(i) for i in v)

    def describe(self) -> str:
        return "None or a non-empty list of ints >= 0"


def option(default: Any, check: Any = None, doc: str = "", *, paper: str = "") -> Any:
    """A dataclass field with its check, a one-line description and the paper's symbol."""
    return dataclasses.field(default=default,
                             metadata={"check": check, "doc": doc, "paper": paper})


def check_options(obj: Any, owner: str | None = None) -> None:
    """Check every declared option of the dataclass ``obj`` (coercing where declared); errors
    name the field as ``owner.field`` (``owner``: the class name by default)."""
    cls = owner or type(obj).__name__
    for f in dataclasses.fields(obj):
        check = f.metadata.get("check")
        if check is None:
            continue
        v = getattr(obj, f.name)
        if not check.ok(v):
            raise ConfigError(f"{cls}.{f.name} must be {check.describe()}, got {v!r}")
        coerce = getattr(check, "coerce", None)
        if coerce is not None:
            object.__setattr__(obj, f.name, coerce(v))


def translate(cls: type, kwargs: dict[str, Any], stacklevel: int = 3,
              owner: str | None = None) -> dict[str, Any]:
    """Rename deprecated option names (``cls.aliases``: old -> new) with a DeprecationWarning."""
    who = owner or cls.__name__
    aliases: dict[str, str] = getattr(cls, "aliases", {})
    if not aliases or not any(k in aliases for k in kwargs):
        return kwargs
    out = dict(kwargs)
    for old, new in aliases.items():
        if old in out:
            if new in out:
                raise ConfigError(f"{who}: give {new!r} or its old name {old!r}, not both")
            warnings.warn(f"{who}: option {old!r} is renamed {new!r}; the old name "
                          "goes away in the next release", DeprecationWarning, stacklevel=stacklevel)
            out[new] = out.pop(old)
    return out


def check_names(cls: type, names: Any, what: str | None = None) -> None:
    """Refuse option names ``cls`` does not know (old names included), naming close matches."""
    known = [f.name for f in dataclasses.fields(cls) if f.init] if dataclasses.is_dataclass(cls) \
        else []
    known += list(getattr(cls, "aliases", {}))
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(str(name), known, 3, 0.6)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise ConfigError(f"unknown option {name!r} for {what or cls.__name__}{hint} "
                              f"(options: {', '.join(k for k in known if k not in getattr(cls, 'aliases', {}))})")


def describe(cls: type) -> list[dict[str, Any]]:
    """One dict per option of ``cls``: name, default, allowed values, description, paper symbol."""
    out = []
    old = {new: o for o, new in getattr(cls, "aliases", {}).items()}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        check = f.metadata.get("check")
        default = f.default if f.default is not dataclasses.MISSING else None
        out.append({"name": f.name, "default": default,
                    "allowed": check.describe() if check is not None else "",
                    "doc": f.metadata.get("doc", ""), "paper": f.metadata.get("paper", ""),
                    "old_name": old.get(f.name, "")})
    return out
