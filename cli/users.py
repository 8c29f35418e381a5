"""``quantgrid users ...`` and ``quantgrid tokens ...``: accounts and API tokens."""

from __future__ import annotations

import click

from cli.types import ROW_ID
from quantgrid.config import Settings
from quantgrid.db import users as repo
from quantgrid.db.models import Role
from quantgrid.db.session import Database


def _db() -> Database:
    return Database.from_settings(Settings.from_env())


@click.group("users")
def users_group() -> None:
    """Create and list web/API accounts."""


@users_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), default="user")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              envvar="QUANTGRID_PASSWORD", help="Prompted for when not given (or QUANTGRID_PASSWORD).")
def create_user(username: str, role: str, password: str) -> None:
    """Create an account (the password is stored hashed)."""
    with _db().write() as s:
        user = repo.create_user(s, username, password, role)
        click.echo(f"created user {user.username} (id {user.id}, {role})")


@users_group.command("list")
def list_users() -> None:
    """List accounts."""
    with _db().read() as s:
        for u in repo.list_users(s):
            state = "active" if u.is_active else "disabled"
            click.echo(f"{u.id}\t{u.username}\t{u.role}\t{state}")


@users_group.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice([r.value for r in Role]))
def set_role(username: str, role: str) -> None:
    """Make an account a user or an admin."""
    with _db().write() as s:
        repo.set_role(s, repo.get_user_by_name(s, username).id, role)
    click.echo(f"{username} is now {role}")


@click.group("tokens")
def tokens_group() -> None:
    """Create, list and revoke API tokens."""


@tokens_group.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for.")
def create_token(username: str, name: str) -> None:
    """Create a token and print it (it is shown only this once)."""
    with _db().write() as s:
        token, row = repo.create_token(s, repo.get_user_by_name(s, username).id, name)
    click.echo(token)
    click.echo(f"token id {row.id} for {username}; store it now, it cannot be shown again",
               err=True)


@tokens_group.command("list")
@click.argument("username")
def list_tokens(username: str) -> None:
    """List a user's tokens (prefix only)."""
    with _db().read() as s:
        for t in repo.list_tokens(s, repo.get_user_by_name(s, username).id):
            state = "revoked" if t.revoked_at else "active"
            click.echo(f"{t.id}\t{t.prefix}…\t{t.name}\t{state}")


@tokens_group.command("revoke")
@click.argument("username")
@click.argument("token_id", type=ROW_ID)
def revoke_token(username: str, token_id: int) -> None:
    """Revoke one of a user's tokens."""
    with _db().write() as s:
        repo.revoke_token(s, repo.get_user_by_name(s, username).id, token_id)
    click.echo(f"revoked token {token_id}")


commands = [users_group, tokens_group]
