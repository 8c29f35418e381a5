"""Import a CSV file of candles into the store: the one path the CLI and the web upload share.

The guarantees (``quantgrid candles import``, the upload page): the symbol, the timeframe and
every line of the file are checked, bars on the timeframe's boundaries included, before anything
is written; a bad file raises ``CandleFileError`` listing its bad lines and leaves the store as it
was. Rows already stored at the same timestamps are replaced (an import is idempotent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from quantgrid.candles.csvfile import Source, read_csv
from quantgrid.candles.store import CandleStore, fmt_ns
from quantgrid.candles.symbols import validate_symbol, validate_timeframe


@dataclass(frozen=True)
class Imported:
    """What an import stored: the series, how many rows, and its first and last bar (ns, UTC)."""

    symbol: str
    timeframe: str
    rows: int
    first: int
    last: int

    def summary(self) -> str:
        return (f"imported {self.rows} {self.symbol} {self.timeframe} candles from "
                f"{fmt_ns(self.first)} to {fmt_ns(self.last)}")


def import_csv(store: CandleStore, source: Source, symbol: str, timeframe: str,
               progress: Callable[[int], object] | None = None, *,
               on_read: Callable[[int], object] | None = None) -> Imported:
    """Check ``source`` wholly, then write it as ``symbol``/``timeframe`` into ``store``.

    ``on_read`` is called with the number of rows once they passed every check (the CLI sizes
    its progress bar with it); ``progress`` with each batch of rows the store wrote. A process
    that serves an ``Inventory`` of ``store`` invalidates it afterwards.
    """
    symbol, tf = validate_symbol(symbol), validate_timeframe(timeframe)
    candles = read_csv(source, tf)
    if on_read is not None:
        on_read(len(candles))
    rows = store.write(symbol, tf.text, candles, progress=progress)
    return Imported(symbol, tf.text, int(rows), int(candles.time[0]), int(candles.time[-1]))
