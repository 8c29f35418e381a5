"""Flask CLI commands (the `quantgrid` CLI is the main one; this only exposes the routes)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("openapi")
@with_appcontext
def openapi_command() -> None:
    """Print the OpenAPI document of /api/v1."""
    import json

    from app.api.openapi import document

    click.echo(json.dumps(document(), indent=2))
    current_app.logger.debug("printed the OpenAPI document")


commands = [openapi_command]
