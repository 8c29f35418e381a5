"""``quantgrid strategies``: check a strategy written in the strategy language.

``quantgrid backtest`` and ``quantgrid sweep`` run one with ``--strategy-file``
(docs/strategy-language.md).
"""

from __future__ import annotations

import click

from engine.lang import LIMITS
from engine.strategies import Strategy
from quantgrid.errors import InvalidInput
from quantgrid.jobs.strategies import InvalidStrategySource, check_source


def load_strategy_file(path: str) -> Strategy:
    """Compile the strategy in file ``path`` (named after the file); InvalidInput if it has
    mistakes (the first, with its line and column) or cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInput(f"cannot read the strategy file {path}: {err}") from None
    name = click.format_filename(path).rsplit("/", 1)[-1].rsplit(".", 1)[0] or "custom"
    return check_source(source, LIMITS["source_chars"], name)


@click.group("strategies")
def strategies() -> None:
    """Strategies written in the strategy language."""


@strategies.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
def check(path: str) -> None:
    """Check a strategy file: its parameters, or each mistake as FILE:LINE:COLUMN: message."""
    try:
        strategy = load_strategy_file(path)
    except InvalidStrategySource as err:
        for p in err.problems:
            click.echo(f"{path}:{p['line']}:{p['column']}: {p['message']}", err=True)
        raise SystemExit(err.exit_code) from None
    click.echo(f"{path}: ok, {strategy.description or strategy.name}")
    for p in strategy.params:
        click.echo(f"  {p.name}: {p.type.__name__} = {p.default} ({p.min}..{p.max})"
                   + (f"  {p.description}" if p.description else ""))  # fmt: skip


commands = [strategies]
