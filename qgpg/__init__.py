"""QuantGrid's kombu transport on PostgreSQL (SKIP LOCKED, LISTEN/NOTIFY, leases, shared bindings).

Importing this package registers the ``qgpg`` scheme with kombu, so a Celery app whose module
imports it (and therefore ``celery -A``, its workers and Flower) accepts
``broker_url="qgpg+postgresql+psycopg2://user@host:5432/db"``. See docs/broker.md.
"""

from __future__ import annotations

from kombu.transport import TRANSPORT_ALIASES

from qgpg.cleanup import Cleanup, clean_up, clean_up_url
from qgpg.engine import SCHEME, SCHEMES, sqlalchemy_url
from qgpg.enqueue import enqueue_in, publish_in_transaction

for _scheme in SCHEMES:
    TRANSPORT_ALIASES.setdefault(_scheme, "qgpg.transport:Transport")

__all__ = [
    "SCHEME",
    "Cleanup",
    "broker_url",
    "enqueue_in",
    "publish_in_transaction",
    "clean_up",
    "clean_up_url",
]


def broker_url(database_url: str) -> str:
    """Return the ``qgpg`` broker URL for a PostgreSQL SQLAlchemy URL (psycopg2 driver)."""
    return f"{SCHEME}+{sqlalchemy_url(database_url)}"

