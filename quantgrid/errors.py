"""The one exception tree of QuantGrid.

Each class's docstring is its default message. ``http_status`` is what the API answers,
``exit_code`` what the CLI exits with, and ``retryable`` tells tasks whether to retry with
backoff (the resource may come back) or fail at once (the request itself is wrong).
Driver errors are translated into these in the layer that talks to the driver, with
``raise ... from err``.
"""

from __future__ import annotations


class QuantGridError(Exception):
    """Something went wrong in QuantGrid."""

    http_status = 500
    exit_code = 1
    retryable = False

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0])


class InvalidInput(QuantGridError, ValueError):
    """The input is not valid."""

    http_status = 400
    exit_code = 2


class NotFound(QuantGridError, LookupError):
    """Nothing was found."""

    http_status = 404
    exit_code = 3


class Unavailable(QuantGridError):
    """A service QuantGrid depends on is unavailable; try again shortly."""

    http_status = 503
    exit_code = 75  # EX_TEMPFAIL
    retryable = True


class QuotaExceeded(QuantGridError):
    """A quota was exceeded."""

    http_status = 429
    exit_code = 4


class Conflict(QuantGridError):
    """The request conflicts with the current state."""

    http_status = 409
    exit_code = 5


class Unprocessable(QuantGridError):
    """The stored data cannot give what was asked (a statistic of a backtest without trades)."""

    http_status = 422
    exit_code = 2
