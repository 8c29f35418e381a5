"""Users and API tokens: every query about accounts lives here.

Passwords are hashed with ``werkzeug.security``; API tokens are random, shown once, and stored
only as their SHA-256, so a leaked database does not leak usable tokens.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from functools import cache

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from quantgrid.db.errors import UsernameTaken, UserNotFound
from quantgrid.db.models import ApiToken, Role, User
from quantgrid.errors import InvalidInput, NotFound

TOKEN_PREFIX = "qg_"
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD_LENGTH = 8
# last_used_at is written at most this often per token, so API calls are not all writes.
_TOUCH_EVERY = timedelta(minutes=1)


def create_user(
    session: Session, username: str, password: str, role: Role | str = Role.USER
) -> User:
    """Add a user with a hashed password; raise UsernameTaken or InvalidInput."""
    if not _USERNAME.match(username or ""):
        raise InvalidInput(
            "username must be 1-64 characters: letters, digits, '_', '.', '@' or '-'"
        )
    _check_password(password)
    try:
        role = Role(role)
    except ValueError:
        raise InvalidInput(f"role must be one of {', '.join(r.value for r in Role)}") from None
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise UsernameTaken(f"the username {username!r} is already taken")
    user = User(username=username, password_hash=generate_password_hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFound(f"no user with id {user_id}")
    return user


def get_user_by_name(session: Session, username: str) -> User:
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise UserNotFound(f"no user named {username!r}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(sa.select(User).order_by(User.username)))


@cache
def _dummy_hash() -> str:
    """A fixed hash to check when the user does not exist, so timing does not tell.

    Made on first use rather than at import: it is a scrypt hash (~0.1 s of CPU), and most
    processes that import this module (each CLI run, each Celery worker) sign nobody in.
    """
    return generate_password_hash("not a real password")


def authenticate(session: Session, username: str, password: str) -> User | None:
    """Return the active user whose password matches, else None."""
    # Made before the lookup, so the first sign-in of a process costs the same for every name.
    dummy = _dummy_hash()
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        check_password_hash(dummy, password or "")
        return None
    if not check_password_hash(user.password_hash, password or "") or not user.is_active:
        return None
    return user


def set_password(session: Session, user_id: int, password: str) -> None:
    _check_password(password)
    get_user(session, user_id).password_hash = generate_password_hash(password)


def set_role(session: Session, user_id: int, role: Role | str) -> None:
    get_user(session, user_id).role = Role(role)


def set_active(session: Session, user_id: int, active: bool) -> None:
    get_user(session, user_id).is_active = active


def set_quotas(
    session: Session,
    user_id: int,
    *,
    max_queued_jobs: int | None = None,
    max_sweep_size: int | None = None,
    max_candles_per_job: int | None = None,
) -> None:
    """Override the configured limits for one user (None restores the configured default)."""
    for name, value in (
        ("max_queued_jobs", max_queued_jobs),
        ("max_sweep_size", max_sweep_size),
        ("max_candles_per_job", max_candles_per_job),
    ):
        if value is not None and value < 0:
            raise InvalidInput(f"{name} must be 0 or more, got {value}")
    user = get_user(session, user_id)
    user.max_queued_jobs = max_queued_jobs
    user.max_sweep_size = max_sweep_size
    user.max_candles_per_job = max_candles_per_job


# -- API tokens ---------------------------------------------------------------------------------
def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user_id: int, name: str) -> tuple[str, ApiToken]:
    """Create a token for ``user_id``; return the token (shown once) and its row."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("a token needs a name of 1-100 characters")
    get_user(session, user_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user_id, name=name, token_hash=hash_token(token), prefix=token[:12])
    session.add(row)
    session.flush()
    return token, row


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    return list(
        session.scalars(
            sa.select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
        )
    )


def revoke_token(session: Session, user_id: int, token_id: int) -> None:
    """Revoke one of ``user_id``'s tokens; another user's token id is NotFound."""
    done = session.execute(
        sa.update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.user_id == user_id)
        .where(ApiToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    ).rowcount
    if not done:
        exists = session.scalar(
            sa.select(ApiToken.id).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
        )
        if exists is None:
            raise NotFound(f"no token with id {token_id}")


def user_for_token(session: Session, token: str) -> User | None:
    """Return the active user a live token belongs to (and note its use), else None."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    row = session.execute(
        sa.select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None or not row.User.is_active:
        return None
    now = datetime.now(UTC)
    last = row.ApiToken.last_used_at
    # The row is loaded: a token used within the minute (most requests) costs no UPDATE at all.
    # The same condition guards the UPDATE, so concurrent requests write it at most once.
    if last is None or last < now - _TOUCH_EVERY:
        stale = sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - _TOUCH_EVERY)
        session.execute(
            sa.update(ApiToken).where(ApiToken.id == row.ApiToken.id, stale).values(last_used_at=now)
        )
    return row.User
