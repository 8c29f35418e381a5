"""The embedded candle store: one ``.npy`` file per series, no server (the default for ``make run``).

Format, chosen by measuring 1M one-minute candles on this machine (docs/candles.md): a single
``(6, n)`` int64 ``.npy`` file per (symbol, timeframe), row 0 the time in ns and rows 1-5 the
float64 prices and volume stored bit for bit. ``np.load(mmap_mode="r")`` plus a copy of a range
takes about 0.01 s for 1M rows, against about 0.075 s for the same data in Parquet, and a range read
only touches the pages it needs (the time row is binary-searched). One file per series also makes
every change a single atomic ``os.replace``: a writer builds the new file beside the old one and
renames it over; a crash leaves the old file (plus a stray temporary file that the next write of
that series removes), never half a series. Readers holding the old mapping keep a consistent view.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from pathlib import Path

import numpy as np

from engine.candles import FIELDS, Candles
from quantgrid.candles.errors import CandlesNotFound
from quantgrid.candles.resample import resample
from quantgrid.candles.store import (
    CandleStore,
    SeriesInfo,
    combined_stamp,
    empty_candles,
    from_trusted,
    to_ns,
    validate_for_write,
)
from quantgrid.candles.symbols import Timeframe, validate_symbol, validate_timeframe


class EmbeddedStore(CandleStore):
    """Candles in ``root/<SYMBOL>/<timeframe>.npy``; a per-symbol file lock serialises writers."""

    name = "embedded"

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    # -- writing ---------------------------------------------------------------------------------

    def write(self, symbol: str, timeframe: str, candles: Candles, progress=None) -> int:
        symbol = validate_symbol(symbol)
        tf = validate_timeframe(timeframe)
        validate_for_write(candles, tf)
        with self._locked(symbol):
            path = self._path(symbol, tf.text)
            old = _load(path)
            new = _pack(candles)
            _save(path, new if old is None else _merge(old, new))
            self._bump(symbol)
        if progress is not None:
            progress(len(candles))
        return len(candles)

    def delete(self, symbol, timeframe=None, start=None, end=None) -> None:
        symbol = validate_symbol(symbol)
        tfs = [validate_timeframe(timeframe).text] if timeframe is not None else None
        lo, hi = to_ns(start), to_ns(end)
        with self._locked(symbol):
            paths = [self._path(symbol, t) for t in tfs] if tfs else sorted(self._dir(symbol).glob("*.npy"))
            existing = [p for p in paths if p.exists()]
            if not existing:
                raise CandlesNotFound(f"no {symbol} {timeframe or ''} candles are stored".replace("  ", " "))
            for path in existing:
                if lo is None and hi is None:
                    path.unlink()
                    continue
                data = _load(path)
                t = data[0]
                doomed = np.ones(len(t), dtype=bool)
                if lo is not None:
                    doomed &= t >= lo
                if hi is not None:
                    doomed &= t < hi
                keep = ~doomed
                if keep.all():
                    continue
                if keep.any():
                    _save(path, np.ascontiguousarray(data[:, keep]))
                else:
                    path.unlink()
            self._bump(symbol)

    # -- reading ---------------------------------------------------------------------------------

    def _read(self, symbol, tf, start, end) -> Candles:
        data = _load(self._path(symbol, tf.text))
        if data is None:
            return empty_candles()
        t = data[0]
        i = 0 if start is None else int(np.searchsorted(t, start, side="left"))
        j = len(t) if end is None else int(np.searchsorted(t, end, side="left"))
        part = np.array(data[:, i:j])  # one copy out of the mapping
        return from_trusted(part[0], {f: part[k + 1].view(np.float64) for k, f in enumerate(FIELDS)})

    def _read_resampled(self, symbol, source, tf, start, end) -> Candles:
        return resample(self._read(symbol, source, start, end), source, tf)

    def symbols(self) -> list[SeriesInfo]:
        out = []
        if not self.root.is_dir():
            return out
        for sym_dir in sorted(self.root.iterdir()):
            if not sym_dir.is_dir() or not _valid_symbol(sym_dir.name):
                continue
            for path in sorted(sym_dir.glob("*.npy")):
                tf = path.stem
                if not _valid_timeframe(tf):
                    continue
                data = _load(path)
                if data is None or data.shape[1] == 0:
                    continue
                out.append(SeriesInfo(sym_dir.name, tf, int(data[0, 0]), int(data[0, -1]), data.shape[1]))
        out.sort(key=lambda s: (s.symbol, Timeframe.parse(s.timeframe).ns))
        return out

    def timeframes(self, symbol: str) -> list[str]:
        symbol = validate_symbol(symbol)
        if not self._dir(symbol).is_dir():
            return []
        return [p.stem for p in self._dir(symbol).glob("*.npy") if _valid_timeframe(p.stem)]

    def generation(self, symbol: str) -> str:
        symbol = validate_symbol(symbol)
        try:
            return (self._dir(symbol) / "GENERATION").read_text().strip()
        except FileNotFoundError:
            return "none"

    def inventory_stamp(self) -> str:
        if not self.root.is_dir():
            return combined_stamp(())
        return combined_stamp(
            (d.name, self.generation(d.name)) for d in self.root.iterdir() if d.is_dir() and _valid_symbol(d.name)
        )

    # -- files -----------------------------------------------------------------------------------

    def _dir(self, symbol: str) -> Path:
        return self.root / symbol

    def _path(self, symbol: str, tf: str) -> Path:
        return self._dir(symbol) / f"{tf}.npy"

    def _bump(self, symbol: str) -> None:
        _atomic_write(self._dir(symbol) / "GENERATION", uuid.uuid4().hex.encode())

    @contextlib.contextmanager
    def _locked(self, symbol: str):
        d = self._dir(symbol)
        d.mkdir(parents=True, exist_ok=True)
        with open(d / ".lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                # Only a writer that crashed leaves these: every live writer waits for this lock.
                for stray in d.glob(".*.tmp"):
                    stray.unlink(missing_ok=True)
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


def _valid_symbol(name: str) -> bool:
    try:
        validate_symbol(name)
        return True
    except ValueError:
        return False


def _valid_timeframe(text: str) -> bool:
    try:
        Timeframe.parse(text)
        return True
    except ValueError:
        return False


def _pack(candles: Candles) -> np.ndarray:
    out = np.empty((6, len(candles)), dtype=np.int64)
    out[0] = candles.time
    for k, f in enumerate(FIELDS):
        out[k + 1] = getattr(candles, f).view(np.int64)
    return out


def _merge(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Union by timestamp; rows of ``new`` replace rows of ``old`` with the same timestamp."""
    ot, nt = old[0], new[0]
    if ot.size == 0:
        return new
    if nt[0] > ot[-1]:
        return np.concatenate([old, new], axis=1)
    pos = np.clip(np.searchsorted(nt, ot), 0, len(nt) - 1)
    keep = nt[pos] != ot
    merged = np.concatenate([old[:, keep], new], axis=1)
    order = np.argsort(merged[0], kind="stable")
    return np.ascontiguousarray(merged[:, order])


def _load(path: Path) -> np.ndarray | None:
    try:
        return np.load(path, mmap_mode="r")
    except FileNotFoundError:
        return None
    except ValueError:  # an empty file maps to nothing
        return np.empty((6, 0), dtype=np.int64)


def _save(path: Path, data: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.save(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
