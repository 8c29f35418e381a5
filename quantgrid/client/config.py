"""Where ``quantgrid remote login`` keeps the server's URL and the token: a file only you can read.

``$XDG_CONFIG_HOME/quantgrid/remote.json`` (``~/.config/quantgrid/remote.json`` by default),
mode 0600 in a directory of mode 0700: the token is as good as a password.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from quantgrid.client.errors import NotConfigured


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "quantgrid" / "remote.json"


def save(url: str, token: str) -> Path:
    """Store ``url`` and ``token``; return the file's path."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)  # mkdir leaves an existing directory's mode as it was
    # Created 0600 (never readable by others, not even for a moment), and made 0600 if it existed.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"url": url, "token": token}, fh)
    return path


def load() -> tuple[str, str]:
    """The stored ``(url, token)``; NotConfigured when there are none."""
    try:
        data = json.loads(config_path().read_text())
        return data["url"], data["token"]
    except FileNotFoundError:
        raise NotConfigured() from None
    except (ValueError, KeyError, TypeError) as err:
        raise NotConfigured(f"{config_path()} is not valid ({err}): run `quantgrid remote login "
                            f"URL` again") from None


def forget() -> bool:
    """Delete the stored URL and token; return whether there were any."""
    try:
        config_path().unlink()
    except FileNotFoundError:
        return False
    return True
