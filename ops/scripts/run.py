"""``make run``: set up the embedded default and start the service with honcho.

    python ops/scripts/run.py prepare   # migrations, demo candles, demo user (each only once)
    python ops/scripts/run.py start     # prepare, then exec honcho on Procfile.embedded

The embedded default needs no server: jobs in SQLite, kombu's ``sqla+sqlite`` broker and the
embedded candle store, all under ``QUANTGRID_VAR_DIR`` (``var/``). ``start`` replaces itself with
honcho, so Ctrl-C (SIGINT) or SIGTERM reaches honcho, which stops every process it started.
The demo user's password is generated, printed once and stored only as a hash.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from quantgrid.config import Settings  # noqa: E402

BIN = Path(sys.executable).parent
PROCFILE = ROOT / "Procfile.embedded"
DEMO_SYMBOL, DEMO_TIMEFRAME = "DEMO", "1m"
DEMO_START = "2024-01-01T00:00:00Z"
DEMO_BARS = 91 * 24 * 60  # a quarter of minute bars: the README's example range and more
DEMO_USER = "demo"


def _check_embedded(settings: Settings) -> None:
    if not settings.database_url.startswith("sqlite"):
        raise SystemExit(
            "run.py: DATABASE_URL points at a server; `make run` is the embedded default "
            "(unset DATABASE_URL, or use `make cluster` for the PostgreSQL topology)"
        )


def migrate(settings: Settings) -> None:
    """The Procfile's ``release`` step: ``alembic upgrade head``."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(BIN / "alembic"), "upgrade", "head"], cwd=ROOT, check=True)


def demo_candles(settings: Settings, bars: int = DEMO_BARS) -> bool:
    """Generate the demo series unless it is stored; return whether it was generated."""
    from quantgrid.candles.factory import open_store

    store = open_store(settings)
    try:
        stored = any(
            s.symbol == DEMO_SYMBOL and s.timeframe == DEMO_TIMEFRAME for s in store.symbols()
        )
    finally:
        close = getattr(store, "close", None)
        if close:
            close()
    if stored:
        print(f"demo candles: {DEMO_SYMBOL} {DEMO_TIMEFRAME} already stored")
        return False
    subprocess.run(
        [str(BIN / "quantgrid"), "candles", "generate", "--symbol", DEMO_SYMBOL,
         "--timeframe", DEMO_TIMEFRAME, "--bars", str(bars), "--start", DEMO_START],
        cwd=ROOT, check=True,
    )  # fmt: skip
    return True


def demo_user(settings: Settings) -> str | None:
    """Create the demo account when there is no account; return its one-time password."""
    from quantgrid.db import users
    from quantgrid.db.session import Database

    db = Database.from_settings(settings)
    try:
        with db.write() as s:
            if users.list_users(s):
                return None
            password = secrets.token_urlsafe(12)
            users.create_user(s, DEMO_USER, password)
    finally:
        db.dispose()
    return password


def prepare(settings: Settings, bars: int = DEMO_BARS) -> None:
    _check_embedded(settings)
    migrate(settings)
    demo_candles(settings, bars)
    password = demo_user(settings)
    if password:
        print(f"demo user: {DEMO_USER} / {password}  (shown once; only its hash is stored)")
    else:
        print(
            "accounts exist; add one with `.venv/bin/quantgrid users create NAME` "
            "(API tokens: `.venv/bin/quantgrid tokens create NAME --name laptop`)"
        )


def start(settings: Settings) -> None:
    """Exec honcho on Procfile.embedded with the web app bound to QUANTGRID_HOST:QUANTGRID_PORT."""
    env = {
        **os.environ,
        "QUANTGRID_VAR_DIR": str(settings.var_dir),
        "GUNICORN_BIND": f"{settings.web_host}:{settings.web_port}",
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }
    print(f"QuantGrid: http://{settings.web_host}:{settings.web_port}/  (Ctrl-C stops everything)")
    sys.stdout.flush()
    honcho = str(BIN / "honcho")
    os.execve(honcho, [honcho, "-f", str(PROCFILE), "-d", str(ROOT), "start"], env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["prepare", "start"])
    parser.add_argument("--bars", type=int, default=DEMO_BARS, help="demo candles to generate")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    settings = Settings.from_env()
    prepare(settings, args.bars)
    if args.command == "start":
        start(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
