"""Options shared by the local and the remote ``backtest`` and ``sweep`` commands."""

from __future__ import annotations

from collections.abc import Callable

import click

from engine.simulator import DIRECTIONS, FILLS, SIZINGS
from quantgrid.errors import InvalidInput
from quantgrid.jobs.spec import search_method


def sim_options(command: Callable) -> Callable:
    """Add one option per SimConfig field."""
    options = [
        click.option("--cash", type=float, default=10_000.0, show_default=True,
                     help="Starting equity."),
        click.option("--commission", type=float, default=0.0, show_default=True,
                     help="Fraction of traded value per entry and per exit (0.002 = 0.2 %)."),
        click.option("--fixed-fee", type=float, default=0.0, show_default=True,
                     help="Cash charged per order."),
        click.option("--slippage", type=float, default=0.0, show_default=True,
                     help="Fraction; buys fill higher and sells lower by it."),
        click.option("--sizing", type=click.Choice(SIZINGS), default="all_in", show_default=True,
                     help="all_in: whole equity as backtesting.py sizes it (a --fixed-fee counts "
                          "per unit there; --sizing equity_fraction --size 1 charges it once); "
                          "others need --size."),
        click.option("--size", type=float, default=None,
                     help="Equity fraction, cash amount or units, per --sizing."),
        click.option("--fractional/--whole", default=False, show_default=True,
                     help="Allow fractional units."),
        click.option("--direction", type=click.Choice(DIRECTIONS), default="both",
                     show_default=True, help="Trade long, short or both."),
        click.option("--fill", type=click.Choice(FILLS), default="next_open", show_default=True,
                     help="Fill at the next bar's open, or at this bar's close."),
        click.option("--stop-loss", type=float, default=None,
                     help="Fraction of the entry price, e.g. 0.05."),
        click.option("--take-profit", type=float, default=None,
                     help="Fraction of the entry price, e.g. 0.1."),
        click.option("--trailing-stop", type=float, default=None,
                     help="Fraction of the best price since entry."),
    ]
    return _with(command, options)


def _with(command: Callable, options: list[Callable]) -> Callable:
    """``command`` with ``options`` applied, in the order listed (as stacked decorators would)."""
    for option in reversed(options):
        command = option(command)
    return command


def strategy_options(command: Callable) -> Callable:
    command = click.option(
        "--strategy-file", type=click.Path(dir_okay=False),
        help="A strategy written in the strategy language (docs/strategy-language.md).",
    )(command)
    return click.option("--strategy", help="A built-in strategy's name, e.g. sma_cross.")(command)


def search_options(command: Callable) -> Callable:
    """--search grid|random, --trials and --seed (checked by quantgrid.jobs.spec.search_method)."""
    options = [
        click.option("--search", type=click.Choice(["grid", "random"]), default="grid",
                     show_default=True,
                     help="grid: every combination; random: --trials combinations drawn from "
                          "the grid's space, which may be far larger than a grid can be."),
        click.option("--trials", type=int, default=None,
                     help="A random search's number of combinations."),
        click.option("--seed", type=int, default=None,
                     help="A random search's seed (omitted: one is chosen and printed)."),
    ]
    return _with(command, options)


def search_of(search: str, trials: int | None, seed: int | None) -> dict:
    """The checked search options as the job spec takes them (InvalidInput when bad)."""
    errors: dict[str, str] = {}
    method = search_method({"search": search, "trials": trials, "seed": seed}, errors)
    if errors:
        name, message = next(iter(errors.items()))
        raise InvalidInput(f"--{name}: {message}")
    return method


def check_one_strategy(name: str | None, path: str | None) -> None:
    """Exactly one of --strategy and --strategy-file."""
    if (name is None) == (path is None):
        raise InvalidInput("give either --strategy NAME or --strategy-file FILE")


def parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("fast=10", ...)`` (-p or -g values) as ``{"fast": "10", ...}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InvalidInput(f"parameter {pair!r} must look like name=value, e.g. -p fast=10")
        out[name.strip()] = value.strip()
    return out
