"""Click parameter types shared by the commands."""

from __future__ import annotations

import click

from quantgrid.db.models import MAX_ID

# A row id (job, sweep, token): larger ones would overflow the database's integer in the query.
ROW_ID = click.IntRange(1, MAX_ID)
