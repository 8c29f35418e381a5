"""Strategies users write in the strategy language: saved by name in versions, and the rows that
inline source gets (see :class:`quantgrid.db.models.UserStrategy`).

The source is checked by the caller (``quantgrid.jobs.strategies``) before it reaches this
module; here are the names, the version numbers, who may see what, and the quota on how many.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quantgrid.db.errors import DatabaseConflict
from quantgrid.db.models import UserStrategy
from quantgrid.db.owners import Viewer, lock_user
from quantgrid.errors import NotFound, QuotaExceeded


class StrategyNotFound(NotFound):
    """No such strategy."""


class StrategyExists(DatabaseConflict):
    """A strategy of that name exists already."""


def _live(owner_id: int, name: str):
    """The live rows of the owner's strategy ``name``. A name holding a NUL names nothing: no
    strategy can have one (names are checked when saved), and PostgreSQL refuses it in a query."""
    if "\x00" in name:
        raise StrategyNotFound(f"you have no strategy named {name!r}")
    return sa.and_(
        UserStrategy.owner_id == owner_id,
        UserStrategy.name == name,
        UserStrategy.deleted_at.is_(None),
    )


def create_strategy(
    session: Session, owner_id: int, name: str, source: str, source_hash: str, max_strategies: int
) -> UserStrategy:
    """Save version 1 of a new strategy ``name``; StrategyExists if the owner has one already."""
    lock_user(session, owner_id)  # serialises the owner's saves: the count and numbers are exact
    if session.scalar(sa.select(UserStrategy.id).where(_live(owner_id, name)).limit(1)):
        raise StrategyExists(
            f"you already have a strategy named {name!r}; save a new version of it instead"
        )
    have = session.scalar(
        sa.select(sa.func.count(sa.distinct(UserStrategy.name))).where(
            UserStrategy.owner_id == owner_id,
            UserStrategy.name.is_not(None),
            UserStrategy.deleted_at.is_(None),
        )
    )
    if have >= max_strategies:
        raise QuotaExceeded(
            f"you have {have} saved strategies and your limit is {max_strategies}; delete one first"
        )
    return _add(session, owner_id, name, source, source_hash)


def add_version(
    session: Session, owner_id: int, name: str, source: str, source_hash: str
) -> UserStrategy:
    """Save ``source`` as the next version of the owner's strategy ``name``."""
    lock_user(session, owner_id)
    if not session.scalar(sa.select(UserStrategy.id).where(_live(owner_id, name)).limit(1)):
        raise StrategyNotFound(f"you have no strategy named {name!r}")
    return _add(session, owner_id, name, source, source_hash)


def _add(session: Session, owner_id: int, name: str | None, source: str, source_hash: str):
    # Numbers go on after a deleted strategy's, so an old job's "v3" never names other source.
    last = session.scalar(
        sa.select(sa.func.max(UserStrategy.version)).where(
            UserStrategy.owner_id == owner_id, UserStrategy.name == name
        )
    )
    row = UserStrategy(
        owner_id=owner_id, name=name, version=(last or 0) + 1, source=source,
        source_hash=source_hash,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def inline_version(session: Session, owner_id: int, source: str, source_hash: str) -> UserStrategy:
    """The owner's row for source sent inline with a job (made on first use, then reused)."""
    row = session.scalar(
        sa.select(UserStrategy).where(
            UserStrategy.owner_id == owner_id,
            UserStrategy.name.is_(None),
            UserStrategy.source_hash == source_hash,
        )
    )
    if row is not None and row.source == source:
        return row
    row = UserStrategy(owner_id=owner_id, name=None, version=1, source=source,
                       source_hash=source_hash)  # fmt: skip
    session.add(row)
    session.flush()
    return row


def get_version(
    session: Session, viewer: Viewer, name: str, version: int | None = None,
    owner_id: int | None = None,
) -> UserStrategy:
    """Version ``version`` (default: the latest) of strategy ``name`` of ``owner_id`` (default:
    the viewer); only an admin may name another owner. StrategyNotFound otherwise."""
    owner = viewer.id if owner_id is None else owner_id
    if owner != viewer.id and not viewer.is_admin:
        raise StrategyNotFound(f"you have no strategy named {name!r}")
    query = sa.select(UserStrategy).where(_live(owner, name))
    if version is not None:
        query = query.where(UserStrategy.version == version)
    row = session.scalar(query.order_by(UserStrategy.version.desc()).limit(1))
    if row is None:
        which = f"{name!r} version {version}" if version is not None else repr(name)
        raise StrategyNotFound(f"you have no strategy {which}")
    return row


def versions(session: Session, owner_id: int, name: str) -> list[UserStrategy]:
    """Every live version of a strategy, newest first."""
    query = sa.select(UserStrategy).where(_live(owner_id, name))
    return list(session.scalars(query.order_by(UserStrategy.version.desc())))


def list_strategies(session: Session, viewer: Viewer, everyone: bool = False) -> list[UserStrategy]:
    """The latest version of each saved strategy: the viewer's own, or with ``everyone`` and
    an admin viewer, every user's."""
    latest = (
        sa.select(UserStrategy.owner_id, UserStrategy.name,
                  sa.func.max(UserStrategy.version).label("version"))  # fmt: skip
        .where(UserStrategy.name.is_not(None), UserStrategy.deleted_at.is_(None))
        .group_by(UserStrategy.owner_id, UserStrategy.name)
    )
    if not (everyone and viewer.is_admin):
        latest = latest.where(UserStrategy.owner_id == viewer.id)
    latest = latest.subquery()
    query = sa.select(UserStrategy).join(
        latest,
        sa.and_(
            UserStrategy.owner_id == latest.c.owner_id,
            UserStrategy.name == latest.c.name,
            UserStrategy.version == latest.c.version,
        ),
    )
    return list(session.scalars(query.order_by(UserStrategy.name, UserStrategy.owner_id)))


def delete_strategy(session: Session, owner_id: int, name: str) -> int:
    """Hide every version of the owner's strategy ``name``; return how many."""
    hidden = session.execute(
        sa.update(UserStrategy)
        .where(_live(owner_id, name))
        .values(deleted_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    ).rowcount
    if not hidden:
        raise StrategyNotFound(f"you have no strategy named {name!r}")
    return hidden


def get_visible_by_id(session: Session, viewer: Viewer, version_id: int) -> UserStrategy:
    """A version by id, deleted or not, if it is the viewer's (any, for an admin)."""
    row = session.get(UserStrategy, version_id)
    if row is None or not (viewer.is_admin or row.owner_id == viewer.id):
        raise StrategyNotFound(f"you have no strategy version with id {version_id}")
    return row


def get_by_id(session: Session, version_id: int) -> UserStrategy:
    """A version by id, deleted or not (a job's own source: internal use)."""
    row = session.get(UserStrategy, version_id)
    if row is None:
        raise StrategyNotFound(f"no strategy version with id {version_id}")
    return row
