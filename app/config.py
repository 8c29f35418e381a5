"""Map ``quantgrid.config.Settings`` onto Flask's configuration keys."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from quantgrid.config import Settings

logger = logging.getLogger(__name__)


def flask_config(settings: Settings) -> dict:
    """Return the Flask configuration for ``settings``."""
    return {
        "QG_SETTINGS": settings,
        "SECRET_KEY": settings.secret_key or persistent_secret_key(settings.var_dir),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": settings.session_cookie_secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": settings.session_cookie_secure,
        "MAX_CONTENT_LENGTH": settings.max_content_length,
        "PROXY_COUNT": settings.proxy_count,
        # A form left open for hours still submits; the token is tied to the session anyway.
        "WTF_CSRF_TIME_LIMIT": None,
        "JSON_SORT_KEYS": False,
    }


def persistent_secret_key(var_dir: Path) -> str:
    """Return the key kept in ``var_dir/secret_key``, creating it (mode 0600) on first use.

    The embedded default has no SECRET_KEY; a key generated once and kept on disk lets sessions
    survive restarts and is shared by every Gunicorn worker on the machine.
    """
    path = Path(var_dir) / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    tmp = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    try:
        os.link(tmp, path)  # atomic, and fails if another worker got there first: use theirs
    except FileExistsError:
        return path.read_text().strip()
    finally:
        tmp.unlink()
    logger.info("generated a session key in %s", path)
    return key
