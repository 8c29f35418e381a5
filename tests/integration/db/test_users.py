"""Accounts and API tokens, on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from quantgrid.db import users
from quantgrid.db.errors import UsernameTaken, UserNotFound
from quantgrid.db.models import ApiToken, Role
from quantgrid.errors import InvalidInput, NotFound


def test_password_is_hashed_and_checked(db, alice):
    with db.read() as s:
        stored = users.get_user(s, alice.id)
        assert "correct horse" not in stored.password_hash
        assert users.authenticate(s, "alice", "correct horse").id == alice.id
        assert users.authenticate(s, "alice", "wrong password") is None
        assert users.authenticate(s, "nobody", "correct horse") is None


def test_duplicate_and_invalid_users_are_refused(db, alice):
    with pytest.raises(UsernameTaken, match="alice"), db.write() as s:
        users.create_user(s, "alice", "another password")
    with pytest.raises(InvalidInput, match="at least 8"), db.write() as s:
        users.create_user(s, "carol", "short")
    with pytest.raises(InvalidInput, match="username"), db.write() as s:
        users.create_user(s, "has space", "long enough")
    with pytest.raises(InvalidInput, match="role"), db.write() as s:
        users.create_user(s, "carol", "long enough", role="superuser")


def test_inactive_user_cannot_sign_in(db, alice):
    with db.write() as s:
        users.set_active(s, alice.id, False)
    with db.read() as s:
        assert users.authenticate(s, "alice", "correct horse") is None


def test_role_and_password_changes(db, alice):
    with db.write() as s:
        users.set_role(s, alice.id, "admin")
        users.set_password(s, alice.id, "a new password")
    with db.read() as s:
        user = users.get_user_by_name(s, "alice")
        assert user.role == Role.ADMIN and user.is_admin
        assert users.authenticate(s, "alice", "a new password") is not None
        with pytest.raises(UserNotFound):
            users.get_user(s, 9999)


def test_token_is_stored_hashed_and_finds_its_user(db, alice):
    with db.write() as s:
        token, row = users.create_token(s, alice.id, "laptop")
    with db.write() as s:
        hashes = s.scalars(sa.select(ApiToken.token_hash)).all()
        assert token not in hashes and users.hash_token(token) in hashes
        assert users.user_for_token(s, token).id == alice.id
        assert users.user_for_token(s, token + "x") is None
        assert users.user_for_token(s, "") is None
    with db.read() as s:
        (listed,) = users.list_tokens(s, alice.id)
        assert listed.last_used_at is not None and listed.prefix == token[:12]


def test_a_token_used_within_the_minute_is_not_written_again(db, alice):
    """Most API requests reuse a token used moments ago: they must not send an UPDATE at all."""
    with db.write() as s:
        token, row = users.create_token(s, alice.id, "script")
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        sent.append(statement)

    def token_updates() -> int:
        """Check the token once; return how many UPDATEs of api_tokens that sent."""
        sent.clear()
        sa.event.listen(db.master, "before_cursor_execute", record)
        try:
            with db.write() as s:
                assert users.user_for_token(s, token).id == alice.id
        finally:
            sa.event.remove(db.master, "before_cursor_execute", record)
        return sum(1 for st in sent if st.lstrip().upper().startswith("UPDATE API_TOKENS"))

    assert token_updates() == 1  # never used: noted
    assert token_updates() == 0  # used just now
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    with db.write() as s:
        s.execute(sa.update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=long_ago))
    assert token_updates() == 1  # stale: noted again
    with db.read() as s:
        (listed,) = users.list_tokens(s, alice.id)
        assert listed.last_used_at > long_ago + timedelta(minutes=4)


def test_revoked_token_no_longer_works(db, alice, bob):
    with db.write() as s:
        token, row = users.create_token(s, alice.id, "ci")
    with pytest.raises(NotFound), db.write() as s:
        users.revoke_token(s, bob.id, row.id)  # not bob's token
    with db.write() as s:
        assert users.user_for_token(s, token) is not None
        users.revoke_token(s, alice.id, row.id)
    with db.write() as s:
        assert users.user_for_token(s, token) is None


def test_quota_overrides_are_stored(db, alice):
    with db.write() as s:
        users.set_quotas(s, alice.id, max_queued_jobs=3, max_sweep_size=None)
    with db.read() as s:
        user = users.get_user(s, alice.id)
        assert (user.max_queued_jobs, user.max_sweep_size) == (3, None)
