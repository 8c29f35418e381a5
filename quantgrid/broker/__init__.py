"""QuantGrid's kombu transport on PostgreSQL (SKIP LOCKED, LISTEN/NOTIFY, leases, shared bindings).

Importing this package registers the ``qgpg`` scheme with kombu, so a Celery app whose module
imports it (and therefore ``celery -A``, its workers and Flower) accepts
``broker_url="qgpg+postgresql+psycopg2://user@host:5432/db"``. See docs/broker.md.
"""

from __future__ import annotations

from kombu.transport import TRANSPORT_ALIASES

from quantgrid.broker.cleanup import SweepResult, sweep, sweep_url
from quantgrid.broker.engine import SCHEME, sqlalchemy_url
from quantgrid.broker.enqueue import enqueue_in, publish_in_transaction

TRANSPORT_ALIASES.setdefault(SCHEME, "quantgrid.broker.transport:Transport")

__all__ = [
    "SCHEME",
    "SweepResult",
    "broker_url",
    "enqueue_in",
    "publish_in_transaction",
    "sweep",
    "sweep_url",
    "transport_options",
]


def broker_url(database_url: str) -> str:
    """Return the ``qgpg`` broker URL for a PostgreSQL SQLAlchemy URL (psycopg2 driver)."""
    return f"{SCHEME}+{sqlalchemy_url(database_url)}"


def transport_options(settings) -> dict:
    """Return Celery's ``broker_transport_options`` for ``qgpg`` from ``quantgrid.config``."""
    return {
        "lease_seconds": settings.broker_lease_seconds,
        "polling_interval": settings.broker_poll_seconds,
    }
