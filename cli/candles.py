"""``quantgrid candles import|generate|list|export|delete``: fill and inspect the candle store."""

from __future__ import annotations

import sys

import click
from tqdm import tqdm

from quantgrid.candles.csvfile import write_csv
from quantgrid.candles.factory import open_store
from quantgrid.candles.generate import generate as generate_candles
from quantgrid.candles.importing import import_csv
from quantgrid.candles.store import fmt_ns
from quantgrid.candles.symbols import validate_symbol, validate_timeframe
from quantgrid.config import Settings


def _store():
    return open_store(Settings.from_env(), cache=False)


def _write(store, symbol: str, timeframe: str, candles, label: str) -> None:
    with tqdm(total=len(candles), unit=" candles", unit_scale=True, desc=label, file=sys.stderr,
              mininterval=0.5, leave=True) as bar:
        store.write(symbol, timeframe, candles, progress=bar.update)


@click.group("candles")
def candles() -> None:
    """Import, generate, list, export and delete OHLCV candles."""


@candles.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--symbol", required=True, help="e.g. BTCUSDT")
@click.option("--timeframe", required=True, help="the file's bar length, e.g. 1m")
def import_(file: str, symbol: str, timeframe: str) -> None:
    """Import a CSV file; rows already stored at the same timestamps are replaced.

    Every line is checked before anything is written: a bad line is reported with its number
    and nothing is stored.
    """
    bars = []  # the progress bar, shown once the file passed every check (a bad file: none)

    def checked(rows: int) -> None:
        bars.append(tqdm(total=rows, unit=" candles", unit_scale=True, file=sys.stderr,
                         desc=f"import {symbol} {timeframe}", mininterval=0.5, leave=True))

    try:
        with _store() as store:
            done = import_csv(store, sys.stdin if file == "-" else file, symbol, timeframe,
                              progress=lambda n: bars[0].update(n), on_read=checked)
    finally:
        for bar in bars:
            bar.close()
    click.echo(done.summary())


@candles.command("generate")
@click.option("--symbol", default="DEMO", show_default=True)
@click.option("--timeframe", default="1m", show_default=True)
@click.option("--bars", default=100_000, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--start", default="2020-01-01T00:00:00Z", show_default=True)
@click.option("--price", default=100.0, show_default=True, type=click.FloatRange(min=0, min_open=True))
def generate(symbol: str, timeframe: str, bars: int, seed: int, start: str, price: float) -> None:
    """Store a realistic random walk (the demo's and the benchmarks' data)."""
    symbol, tf = validate_symbol(symbol), validate_timeframe(timeframe)
    data = generate_candles(bars, timeframe=tf.text, seed=seed, start=start, price=price)
    with _store() as store:
        _write(store, symbol, tf.text, data, f"generate {symbol} {tf}")
    click.echo(f"generated {bars} {symbol} {tf} candles from {fmt_ns(data.time[0])} to {fmt_ns(data.time[-1])}")


@candles.command("list")
def list_() -> None:
    """List stored series: symbol, timeframe, first, last, count."""
    with _store() as store:
        series = store.symbols()
    if not series:
        click.echo("no candles stored", err=True)
        return
    click.echo(f"{'symbol':<16} {'timeframe':<9} {'first':<20} {'last':<20} {'count':>10}")
    for s in series:
        click.echo(f"{s.symbol:<16} {s.timeframe:<9} {fmt_ns(s.first):<20} {fmt_ns(s.last):<20} {s.count:>10}")


@candles.command("export")
@click.option("--symbol", required=True)
@click.option("--timeframe", required=True, help="stored, or coarser than stored (resampled)")
@click.option("--start", default=None, help="inclusive, ISO 8601")
@click.option("--end", default=None, help="exclusive, ISO 8601")
@click.option("--output", "-o", default="-", type=click.Path(dir_okay=False, allow_dash=True), show_default=True)
@click.option("--allow-gaps", is_flag=True, help="export even if bars are missing inside the range")
def export(symbol, timeframe, start, end, output, allow_gaps) -> None:
    """Write candles as CSV (time,open,high,low,close,volume; ISO 8601 UTC)."""
    with _store() as store:
        data = store.read(symbol, timeframe, start, end, gaps="allow" if allow_gaps else "raise")
    write_csv(data, sys.stdout if output == "-" else output)
    if output != "-":
        click.echo(f"exported {len(data)} candles to {output}", err=True)


@candles.command("delete")
@click.option("--symbol", required=True)
@click.option("--timeframe", default=None, help="only this timeframe (default: all)")
@click.option("--start", default=None, help="inclusive, ISO 8601")
@click.option("--end", default=None, help="exclusive, ISO 8601")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def delete(symbol, timeframe, start, end, yes) -> None:
    """Delete a symbol's candles (all, one timeframe, or a range)."""
    symbol = validate_symbol(symbol)
    if timeframe is not None:
        validate_timeframe(timeframe)
    what = f"{symbol} {timeframe or 'all timeframes'}"
    if start or end:
        what += f" from {start or 'the start'} to {end or 'the end'}"
    if not yes:
        click.confirm(f"delete {what}?", abort=True, err=True)
    with _store() as store:
        store.delete(symbol, timeframe, start, end)
    click.echo(f"deleted {what}")


commands = [candles]
