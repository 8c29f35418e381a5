"""Who owns and who looks: the viewer protocol and the lock that serialises one owner's writes."""

from __future__ import annotations

from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quantgrid.db.models import User
from quantgrid.errors import InvalidInput


class Viewer(Protocol):
    """Who is looking: a user sees their own jobs and strategies, an admin sees everyone's."""

    id: int

    @property
    def is_admin(self) -> bool: ...


def lock_user(session: Session, user_id: int) -> User:
    """Lock the user's row (PostgreSQL) so concurrent submissions see each other's counts."""
    user = session.scalar(
        sa.select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if user is None:
        raise InvalidInput(f"no user with id {user_id}")
    return user
