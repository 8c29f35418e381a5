"""Errors of the data layer; driver errors are translated into these with ``raise ... from``."""

from __future__ import annotations

import sqlalchemy as sa

from quantgrid.errors import Conflict, NotFound, QuantGridError, Unavailable


class DatabaseUnavailable(Unavailable):
    """The database is unavailable (restarting, unreachable or busy); try again shortly."""


class TransactionConflict(DatabaseUnavailable):
    """PostgreSQL aborted the transaction to break a deadlock or a serialization conflict; it
    was rolled back whole, so running it again is safe."""


# SQLSTATEs of a transaction aborted by a conflict with another: serialization_failure and
# deadlock_detected.
_CONFLICT_CODES = {"40001", "40P01"}


class DatabaseConflict(Conflict):
    """The change conflicts with data already stored."""


class JobNotFound(NotFound):
    """No such job."""


class UserNotFound(NotFound):
    """No such user."""


class UsernameTaken(Conflict):
    """That username is already taken."""


class InvalidTransition(Conflict):
    """The job is not in a state that allows this."""


def translate(err: sa.exc.SQLAlchemyError) -> QuantGridError | None:
    """Return the QuantGrid error for a driver error, or None when it is a bug to re-raise."""
    if isinstance(err, sa.exc.IntegrityError):
        return DatabaseConflict(f"the change conflicts with stored data: {_first_line(err)}")
    if getattr(getattr(err, "orig", None), "pgcode", None) in _CONFLICT_CODES:
        return TransactionConflict(f"the database is unavailable: {_first_line(err)}")
    if isinstance(err, sa.exc.OperationalError | sa.exc.InterfaceError) or (
        isinstance(err, sa.exc.DBAPIError) and err.connection_invalidated
    ):
        return DatabaseUnavailable(f"the database is unavailable: {_first_line(err)}")
    if isinstance(err, sa.exc.TimeoutError):
        return DatabaseUnavailable("no database connection became free in time; try again")
    return None


def _first_line(err: sa.exc.SQLAlchemyError) -> str:
    orig = getattr(err, "orig", None) or err
    return (str(orig).strip().splitlines() or ["?"])[0]
