"""The ``quantgrid`` command: one click group, one module per command family.

Errors a user can act on (a ``QuantGridError``, or the ``ValueError``/``TypeError`` that the
engine raises for bad input) become one line on stderr and the error's exit code; anything else
is a bug and keeps its traceback. Set ``QUANTGRID_DEBUG=1`` to see tracebacks for all errors.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from quantgrid.errors import InvalidInput, QuantGridError

# Each module defines ``commands``: the click commands or groups it adds to ``quantgrid``.
_COMMAND_MODULES = ("candles", "backtest", "strategies", "jobs", "users", "ops", "remote")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """QuantGrid: distributed backtesting."""


for _name in _COMMAND_MODULES:
    for _command in importlib.import_module(f"cli.{_name}").commands:
        cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, turning user-facing errors into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="quantgrid", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except (QuantGridError, ValueError, TypeError) as err:
        if os.environ.get("QUANTGRID_DEBUG"):
            raise
        code = err.exit_code if isinstance(err, QuantGridError) else InvalidInput.exit_code
        click.echo(f"error: {err}", err=True)
        sys.exit(code)
