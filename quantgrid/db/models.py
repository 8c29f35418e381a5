"""The job tables: users, API tokens, backtests, sweeps and their chunks, results.

Created only by the Alembic migrations (``alembic/versions/0001_jobs.py``); a test checks that the
migrations and these models agree. Types are portable so the same migration runs on SQLite (the
embedded default) and PostgreSQL: JSON is ``sa.JSON``, enums are VARCHAR with a CHECK constraint.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from quantgrid.db.base import Base


class Role(enum.StrEnum):
    USER = "user"
    ADMIN = "admin"
    DATA = "data"  # may also upload candles (an admin may too)


# Who may write candles from the web or the API (the CLI runs with the operator's rights).
CANDLE_UPLOADERS = frozenset({Role.ADMIN, Role.DATA})


class Status(enum.StrEnum):
    """Where a backtest, a sweep or a sweep chunk is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


# The largest id the tables' Integer keys hold (PostgreSQL's integer; SQLite's is wider, but one
# bound for both keeps the API's answers the same): callers refuse larger ids before a query.
MAX_ID = 2**31 - 1

UNFINISHED = (Status.QUEUED, Status.RUNNING)
FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)


class UTCDateTime(sa.TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite hands back naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("datetimes stored in the job tables must be timezone-aware")
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _enum(cls: type[enum.Enum], name: str) -> sa.Enum:
    return sa.Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


def _now() -> sa.FetchedValue:
    return sa.text("CURRENT_TIMESTAMP")


class _Model(Base):
    """Fetch server defaults (created_at) on INSERT, so rows are complete after a flush."""

    __abstract__ = True
    __mapper_args__ = {"eager_defaults": True}


class User(_Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"), default=Role.USER)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    # Per-user quota overrides; NULL means the configured default (quantgrid.config.Settings).
    max_queued_jobs: Mapped[int | None] = mapped_column(sa.Integer)
    max_sweep_size: Mapped[int | None] = mapped_column(sa.Integer)
    max_candles_per_job: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=_now())
    # The master's WAL position after this user's last write through the API
    # (quantgrid.db.session: read-your-writes for clients without a session cookie).
    last_write_lsn: Mapped[str | None] = mapped_column(sa.String(32))

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


class ApiToken(_Model):
    """A bearer token; only the SHA-256 of the token is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The first characters of the token, so a user can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(sa.String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=_now())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserStrategy(_Model):
    """One version of a strategy a user wrote in the strategy language (docs/strategy-language.md).

    A saved strategy is every row of one ``(owner_id, name)``; each change adds a version.
    Source sent inline with a job is kept as a row without a name (one per owner and source),
    so every job of a user strategy points at the exact source it ran. Deleting a strategy
    hides its versions (``deleted_at``); the jobs that ran them still show their source.
    """

    __tablename__ = "user_strategies"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str | None] = mapped_column(sa.String(64))
    version: Mapped[int] = mapped_column(sa.Integer)
    source: Mapped[str] = mapped_column(sa.Text)
    source_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=_now())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("owner_id", "name", "version", name="uq_user_strategies_version"),
        sa.Index("ix_user_strategies_owner_id_source_hash", "owner_id", "source_hash"),
    )


class Sweep(_Model):
    """A parameter grid over one strategy, symbol and range, evaluated in chunks.

    The ``n_*`` columns count combinations (not chunks) per status; they move only in the same
    guarded UPDATE that moves a chunk, so they always add up to ``total``.
    """

    __tablename__ = "sweeps"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[Status] = mapped_column(_enum(Status, "sweep_status"), default=Status.QUEUED)
    strategy: Mapped[str] = mapped_column(sa.String(64))
    grid: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    symbol: Mapped[str] = mapped_column(sa.String(64))
    timeframe: Mapped[str] = mapped_column(sa.String(16))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settings: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    metric: Mapped[str] = mapped_column(sa.String(32))
    maximize: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    total: Mapped[int] = mapped_column(sa.Integer)
    chunk_size: Mapped[int] = mapped_column(sa.Integer)
    n_queued: Mapped[int] = mapped_column(sa.Integer, default=0)
    n_running: Mapped[int] = mapped_column(sa.Integer, default=0)
    n_succeeded: Mapped[int] = mapped_column(sa.Integer, default=0)
    n_failed: Mapped[int] = mapped_column(sa.Integer, default=0)
    n_cancelled: Mapped[int] = mapped_column(sa.Integer, default=0)
    best_params: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    best_value: Mapped[float | None] = mapped_column(sa.Float)
    best_index: Mapped[int | None] = mapped_column(sa.Integer)
    error: Mapped[str | None] = mapped_column(sa.Text)
    engine_version: Mapped[str | None] = mapped_column(sa.String(32))
    candles_fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    # Derived from the submitting request's X-Request-Id: a submission NGINX retried on another
    # API instance finds the sweep the first attempt created (backtests use their task_id).
    request_key: Mapped[str | None] = mapped_column(sa.String(64))
    # The user strategy version this sweep runs (None: ``strategy`` names a built-in).
    strategy_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_strategies.id", ondelete="RESTRICT")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=_now())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.Index("ix_sweeps_owner_id_id", "owner_id", "id"),
        sa.Index("ix_sweeps_status", "status"),
        sa.Index("ix_sweeps_request_key", "request_key"),
    )

    @property
    def progress(self) -> float:
        done = self.n_succeeded + self.n_failed + self.n_cancelled
        return done / self.total if self.total else 1.0


class SweepChunk(_Model):
    """Combinations ``[first, last)`` of a sweep's grid, and their metrics once evaluated."""

    __tablename__ = "sweep_chunks"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    sweep_id: Mapped[int] = mapped_column(sa.ForeignKey("sweeps.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(sa.Integer)
    first: Mapped[int] = mapped_column(sa.Integer)
    last: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[Status] = mapped_column(_enum(Status, "chunk_status"), default=Status.QUEUED)
    # The parameter sets of combinations first..last-1, so a chunk is evaluated on its own.
    params: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    worker: Mapped[str | None] = mapped_column(sa.String(255))
    task_id: Mapped[str | None] = mapped_column(sa.String(64))
    # {metric name: [value per combination]} in grid order; NaN is stored as null.
    metrics: Mapped[dict[str, list[float | None]] | None] = mapped_column(sa.JSON)
    # The research statistics of each combination (engine.sweep.RESEARCH_COLUMNS), a matrix in
    # grid order encoded by quantgrid.db.codec.encode_matrix; None before the chunk succeeds and
    # for chunks evaluated before they were recorded.
    research: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    error: Mapped[str | None] = mapped_column(sa.Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("sweep_id", "index", name="uq_sweep_chunks_sweep_id_index"),
        sa.Index("ix_sweep_chunks_status", "status"),
    )

    @property
    def size(self) -> int:
        return self.last - self.first


class Backtest(_Model):
    __tablename__ = "backtests"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[Status] = mapped_column(_enum(Status, "backtest_status"), default=Status.QUEUED)
    strategy: Mapped[str] = mapped_column(sa.String(64))
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    symbol: Mapped[str] = mapped_column(sa.String(64))
    timeframe: Mapped[str] = mapped_column(sa.String(16))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Cash, commission, slippage, sizing and stops: the simulator's configuration.
    settings: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=_now())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    worker: Mapped[str | None] = mapped_column(sa.String(255))
    task_id: Mapped[str | None] = mapped_column(sa.String(64))
    progress: Mapped[float] = mapped_column(sa.Float, default=0.0, server_default="0")
    error: Mapped[str | None] = mapped_column(sa.Text)
    sweep_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sweeps.id", ondelete="SET NULL"))
    # The fingerprint of the result this backtest points at (its own, or a reused identical one).
    result_fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    # The user strategy version this backtest runs (None: ``strategy`` names a built-in).
    strategy_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_strategies.id", ondelete="RESTRICT")
    )

    __table_args__ = (
        sa.Index("ix_backtests_owner_id_id", "owner_id", "id"),
        sa.Index("ix_backtests_status", "status"),
        sa.Index("ix_backtests_sweep_id", "sweep_id"),
        sa.Index("ix_backtests_task_id", "task_id"),
    )


class Result(_Model):
    """What a backtest produced, stored compactly and keyed for reuse.

    ``fingerprint`` = sha256 of (``params_hash``, ``candles_fingerprint``, ``engine_version``):
    identical submissions share one row. ``backtest_id`` is the backtest that produced it; both
    are unique, so a redelivered task can never store a second result.
    """

    __tablename__ = "results"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    backtest_id: Mapped[int] = mapped_column(
        sa.ForeignKey("backtests.id", ondelete="CASCADE"), unique=True
    )
    fingerprint: Mapped[str] = mapped_column(sa.String(64), unique=True)
    params_hash: Mapped[str] = mapped_column(sa.String(64))
    candles_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    engine_version: Mapped[str] = mapped_column(sa.String(32))
    metrics: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    n_points: Mapped[int] = mapped_column(sa.Integer)
    # zlib of delta-encoded int64 ns timestamps, and of float64 equity values (see codec.py).
    equity_time: Mapped[bytes] = mapped_column(sa.LargeBinary)
    equity_value: Mapped[bytes] = mapped_column(sa.LargeBinary)
    n_trades: Mapped[int] = mapped_column(sa.Integer)
    # zlib of the trades as columnar JSON (see codec.py).
    trades: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=_now())

    __table_args__ = (sa.Index("ix_results_params_hash", "params_hash"),)
