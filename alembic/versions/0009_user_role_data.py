"""users.role: a third role, "data", for users who may upload candles (an admin may too).

The role is a non-native enum (VARCHAR with a CHECK constraint, models._enum), so the constraint
is replaced; batch mode rebuilds the table on SQLite, which cannot alter a constraint.

Revision ID: 0009_user_role_data
Revises: 0008_sweep_chunk_research
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0009_user_role_data"
down_revision = "0008_sweep_chunk_research"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("user_role", type_="check")
        batch.create_check_constraint("user_role", "role IN ('user', 'admin', 'data')")


def downgrade() -> None:
    # A data user becomes a plain user: the old constraint has no room for the role.
    op.execute("UPDATE users SET role = 'user' WHERE role = 'data'")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("user_role", type_="check")
        batch.create_check_constraint("user_role", "role IN ('user', 'admin')")
