"""Engines and URLs of the qgpg broker: one autocommit pool per process and database."""

from __future__ import annotations

import os
import threading

import sqlalchemy as sa
from sqlalchemy.engine import make_url

SCHEME = "qgpg"
# Every scheme that names the transport. kombu splits the first URL of a failover list at "+"
# (transport "qgpg", the rest is the database URL) but parses each alternate whole when it
# switches to it (``Connection.switch``), so there the whole scheme names the transport.
SCHEMES = (SCHEME, f"{SCHEME}+postgresql", f"{SCHEME}+postgresql+psycopg2")

_engines: dict[tuple, sa.engine.Engine] = {}
_engines_lock = threading.Lock()


def sqlalchemy_url(hostname: str) -> str:
    """Turn the part of a broker URL after ``qgpg+`` (or a ``qgpg://`` URL) into a psycopg2 URL."""
    if hostname.startswith(f"{SCHEME}://"):
        hostname = "postgresql+psycopg2://" + hostname[len(SCHEME) + 3 :]
    url = make_url(hostname)
    if url.get_backend_name() != "postgresql":
        raise ValueError(
            f"the {SCHEME} broker needs PostgreSQL, got {url.drivername!r}; "
            "use sqla+sqlite:///... for the embedded broker"
        )
    if url.drivername == "postgresql":
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which is not a dependency.
        url = url.set(drivername="postgresql+psycopg2")
    return url.render_as_string(hide_password=False)


def client_url(client) -> str:
    """The psycopg2 URL of kombu connection ``client``: the rest of its URL after ``qgpg+`` (or
    its ``qgpg://`` URL), or, after a failover, the parts kombu parsed out of the alternate."""
    hostname = client.hostname or ""
    if "://" in hostname:
        return sqlalchemy_url(hostname)
    scheme = client.transport_cls if isinstance(client.transport_cls, str) else SCHEME
    url = sa.engine.URL.create(
        scheme.partition("+")[2] or "postgresql+psycopg2",
        username=client.userid or None,
        password=client.password or None,
        host=hostname or None,
        port=client.port or None,
        database=client.virtual_host or None,
    )
    return sqlalchemy_url(url.render_as_string(hide_password=False))


def engine_for(url: str, options: dict | None = None) -> sa.engine.Engine:
    """Return this process's engine for ``url`` (a forked child builds its own, never reusing
    the parent's sockets; psycopg2 only closes a connection in the process that opened it)."""
    options = dict(options or {})
    key = (os.getpid(), url, tuple(sorted(options.items())))
    engine = _engines.get(key)
    if engine is None:
        with _engines_lock:
            engine = _engines.get(key)
            if engine is None:
                options.setdefault("pool_size", 4)
                options.setdefault("max_overflow", 16)
                # Every statement here is a single, self-contained one: autocommit saves the
                # BEGIN and COMMIT round trips.
                engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", **options)
                sa.event.listen(engine, "connect", _tune_session)
                _engines[key] = engine
    return engine


def _tune_session(dbapi_connection, _record) -> None:
    # A queue table's head is a trail of dead index entries until VACUUM. A plain index scan
    # marks them dead as it passes (later scans skip them); a bitmap scan, which the planner
    # picks on stale statistics, never does and re-reads all of them on every dequeue.
    with dbapi_connection.cursor() as cur:
        cur.execute("SET enable_bitmapscan = off")


def dispose(url: str) -> None:
    """Close this process's pooled connections to ``url``."""
    with _engines_lock:
        for key in [key for key in _engines if key[0] == os.getpid() and key[1] == url]:
            _engines.pop(key).dispose()
