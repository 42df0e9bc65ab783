"""The one error tree of blackbox.

Every error the project raises on purpose derives from :class:`BlackboxError`::

    BlackboxError
    ├── ConfigError (also ValueError)      bad input: names the field and what was expected
    │   ├── DimensionError                 x0 / points / space of the wrong dimension
    │   ├── UnknownNameError (also KeyError) a strategy or oracle name that is not registered
    │   ├── FeedbackError                  a ranking-only oracle paired with a value strategy
    │   └── JournalMismatchError           a journal written for another seed/strategy/oracle
    ├── RegistryError                      a duplicate name in a registry
    └── OracleError                        the oracle failed or answered badly
        ├── OracleShapeError               an answer of the wrong shape or type
        ├── OracleTimeoutError             no answer in time
        ├── OracleHTTPError                an HTTP status that retries did not cure (``status``)
        ├── OracleDecodeError              a response body that could not be parsed
        └── RemoteOracleError              an oracle raised in a worker; carries its traceback

A budget running out is not an error: ``minimize`` stops and says so in
``Result.message`` / ``Result.stop`` (a budget is never exceeded, so nothing is raised).
Non-finite values (NaN, inf) from an oracle are *not* errors: the ledger counts them as failures
and strategies see them as the worst value.
"""

from __future__ import annotations

__all__ = [
    "BlackboxError",
    "ConfigError",
    "DimensionError",
    "FeedbackError",
    "JournalMismatchError",
    "OracleDecodeError",
    "OracleError",
    "OracleHTTPError",
    "OracleShapeError",
    "OracleTimeoutError",
    "RegistryError",
    "RemoteOracleError",
    "UnknownNameError",
]


class BlackboxError(Exception):
    """Base class of every error raised by blackbox."""


class ConfigError(BlackboxError, ValueError):
    """A bad argument or configuration; the message names the field and what was expected."""


class DimensionError(ConfigError):
    """An array of the wrong dimension (x0, points, space, oracle ``dim``)."""


class UnknownNameError(ConfigError, KeyError):
    """A name that no registry knows; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class FeedbackError(ConfigError):
    """The oracle cannot answer the kind of feedback the strategy asks for."""


class JournalMismatchError(ConfigError):
    """A journal directory was written by a run with another seed, strategy or oracle."""


class RegistryError(BlackboxError):
    """A registry refused a name (already registered)."""


class OracleError(BlackboxError):
    """The oracle failed, or answered something unusable."""


class OracleShapeError(OracleError):
    """The oracle answered with the wrong shape, dtype or indices."""


class OracleTimeoutError(OracleError):
    """The oracle did not answer in time."""


class OracleHTTPError(OracleError):
    """An HTTP error status that survived all retries."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class OracleDecodeError(OracleError):
    """A response that could not be decoded or scored."""


class RemoteOracleError(OracleError):
    """An oracle raised inside a worker; ``remote_traceback`` holds the worker's traceback."""

    def __init__(self, message: str, remote_traceback: str = "") -> None:
        super().__init__(message + ("\n\nWorker traceback:\n" + remote_traceback if remote_traceback else ""))
        self.remote_traceback = remote_traceback
