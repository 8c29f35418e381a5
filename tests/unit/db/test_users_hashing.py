"""Password hashing costs nothing at import, and an unknown name still costs a hash check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from quantgrid.db import users

ROOT = Path(__file__).resolve().parents[3]


def test_importing_the_users_module_computes_no_hash():
    # In a fresh interpreter: this one has imported the module already.
    code = (
        "import werkzeug.security as ws\n"
        "made = []\n"
        "real = ws.generate_password_hash\n"
        "ws.generate_password_hash = lambda *a, **k: made.append(a) or real(*a, **k)\n"
        "import quantgrid.db.users\n"
        "print(len(made))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60)  # fmt: skip
    assert out.stdout.strip() == "0", out.stdout + out.stderr


def test_an_unknown_name_is_checked_against_a_hash_all_the_same(monkeypatch):
    checked = []
    monkeypatch.setattr(users, "check_password_hash", lambda h, p: checked.append(h) or False)
    nobody = SimpleNamespace(scalar=lambda _query: None)  # a session that finds no such user
    assert users.authenticate(nobody, "nobody", "a password") is None
    assert checked == [users._dummy_hash()]
