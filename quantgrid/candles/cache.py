"""A worker host's local candle cache, shared by its processes, bounded in bytes.

A sweep runs hundreds of jobs on the same (symbol, timeframe, range). The first process that
asks loads it from the store and writes it to ``CANDLE_CACHE_DIR`` as one ``.npy`` file (written
beside its final name and renamed, so no reader sees half a file); every later read on that host,
in any process, maps the file read-only (the page cache holds one copy for all six pool
processes). A per-entry file lock makes concurrent misses load once: the others wait and then map
what the first wrote.

Invalidation works across hosts: each file name carries the symbol's generation stamp, which the
store changes on every write or delete of that symbol (one cheap query per read), so a re-import
anywhere makes every host's copy a miss. Stale files of an entry are removed when it is reloaded;
the least recently used files go when the directory exceeds its byte budget.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
import uuid
from pathlib import Path

import numpy as np
from prometheus_client import Counter

from engine.candles import FIELDS, Candles
from quantgrid.candles.errors import CandleStoreUnavailable
from quantgrid.candles.store import CandleStore, check_gaps, from_trusted, to_ns
from quantgrid.candles.symbols import validate_symbol, validate_timeframe
from quantgrid.errors import InvalidInput

logger = logging.getLogger(__name__)

CACHE_HITS = Counter("quantgrid_candle_cache_hits_total", "Candle reads served from the local cache")
CACHE_MISSES = Counter("quantgrid_candle_cache_misses_total", "Candle reads loaded from the candle store")

_process_stats = {"hits": 0, "misses": 0}


def cache_stats() -> dict[str, int]:
    """Return this process's cache hits and misses (all caches)."""
    return dict(_process_stats)


class CachedStore(CandleStore):
    """Wrap a store so that reads go through the local cache; everything else goes straight through."""

    def __init__(self, store: CandleStore, directory: str | os.PathLike, max_bytes: int) -> None:
        self.store = store
        self.name = f"{store.name}+cache"
        self.directory = Path(directory)
        self.max_bytes = int(max_bytes)
        self.hits = 0
        self.misses = 0
        self._identity = _identity(store)

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses}

    # -- the cached read -------------------------------------------------------------------------

    def read(self, symbol, timeframe, start=None, end=None, *, gaps="raise") -> Candles:
        symbol = validate_symbol(symbol)
        tf = validate_timeframe(timeframe)
        if gaps not in ("raise", "allow"):
            raise InvalidInput(f"gaps must be 'raise' or 'allow', not {gaps!r}")
        lo, hi = to_ns(start), to_ns(end)
        key = hashlib.sha256(f"{self._identity}|{symbol}|{tf.text}|{lo}|{hi}".encode()).hexdigest()[:32]
        try:
            generation = self.store.generation(symbol)
        except CandleStoreUnavailable:
            # The store is down: a copy cached here is the best there is (at worst it misses a
            # re-import made just before the outage); without one, the caller retries later.
            candles = self._newest(key)
            if candles is None:
                raise
            logger.warning("candle store unavailable; serving %s %s from the local cache", symbol, tf.text)
            if gaps == "raise":
                check_gaps(symbol, tf, candles)
            return candles
        path = self.directory / f"{key}.{generation}.npy"
        candles = self._map(path)
        if candles is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            with _locked(self.directory / f".{key}.lock"):
                candles = self._map(path)  # another process may have loaded it meanwhile
                if candles is None:
                    candles = self._load(symbol, tf.text, lo, hi, key, path)
        if gaps == "raise":
            check_gaps(symbol, tf, candles)
        return candles

    def _map(self, path: Path) -> Candles | None:
        try:
            data = np.load(path, mmap_mode="r")
        except (FileNotFoundError, ValueError):
            return None
        _touch(path)
        self._count(hit=True)
        return from_trusted(
            np.asarray(data[0]), {f: np.asarray(data[k + 1]).view(np.float64) for k, f in enumerate(FIELDS)}
        )

    def _newest(self, key: str) -> Candles | None:
        """Map the most recently used cached copy of entry ``key``, whatever its generation."""
        copies = []
        for p in self.directory.glob(f"{key}.*.npy"):
            with contextlib.suppress(FileNotFoundError):
                copies.append((p.stat().st_mtime_ns, p))
        for _, path in sorted(copies, reverse=True):
            candles = self._map(path)
            if candles is not None:
                return candles
        return None

    def _load(self, symbol, timeframe, lo, hi, key: str, path: Path) -> Candles:
        self._count(hit=False)
        candles = self.store.read(symbol, timeframe, lo, hi, gaps="allow")
        size = 6 * 8 * len(candles) + 128
        # Other generations of this entry, and temp files of a process that died loading it
        # (we hold the entry's lock, so no live writer owns one).
        for stale in (*self.directory.glob(f"{key}.*.npy"), *self.directory.glob(f".{key}.*.tmp")):
            stale.unlink(missing_ok=True)
        if size > self.max_bytes:
            return candles  # larger than the whole budget: serve it, keep nothing
        packed = np.empty((6, len(candles)), dtype=np.int64)
        packed[0] = candles.time
        for k, f in enumerate(FIELDS):
            packed[k + 1] = getattr(candles, f).view(np.int64)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as f:
                np.save(f, packed)
            os.replace(tmp, path)
        except OSError as err:
            # A full or read-only disk costs the cache, not the job: serve what was loaded.
            logger.warning("could not cache %s %s in %s: %s", symbol, timeframe, self.directory, err)
            return candles
        finally:
            tmp.unlink(missing_ok=True)
        _touch(path)
        self._evict(keep=path)
        return candles

    def _evict(self, keep: Path) -> None:
        """Delete least recently used entries until the directory fits in ``max_bytes``."""
        with _locked(self.directory / ".evict.lock"):
            entries = []
            for p in self.directory.glob("*.npy"):
                try:
                    st = p.stat()
                except FileNotFoundError:
                    continue
                entries.append((st.st_mtime_ns, st.st_size, p))
            total = sum(e[1] for e in entries)
            for _, size, p in sorted(entries):
                if total <= self.max_bytes:
                    break
                if p == keep:
                    continue
                p.unlink(missing_ok=True)  # processes mapping it keep their pages
                total -= size

    def clear(self) -> None:
        """Delete every cached entry (the counts stay)."""
        for p in self.directory.glob("*.npy"):
            p.unlink(missing_ok=True)

    def _count(self, hit: bool) -> None:
        if hit:
            self.hits += 1
            _process_stats["hits"] += 1
            CACHE_HITS.inc()
        else:
            self.misses += 1
            _process_stats["misses"] += 1
            CACHE_MISSES.inc()

    # -- everything else goes to the store -------------------------------------------------------

    def write(self, symbol, timeframe, candles, progress=None) -> int:
        return self.store.write(symbol, timeframe, candles, progress)

    def _read(self, symbol, tf, start, end):
        return self.store._read(symbol, tf, start, end)

    def _read_resampled(self, symbol, source, tf, start, end):
        return self.store._read_resampled(symbol, source, tf, start, end)

    def symbols(self):
        return self.store.symbols()

    def timeframes(self, symbol):
        return self.store.timeframes(symbol)

    def range(self, symbol, timeframe):
        return self.store.range(symbol, timeframe)

    def delete(self, symbol, timeframe=None, start=None, end=None) -> None:
        self.store.delete(symbol, timeframe, start, end)

    def generation(self, symbol):
        return self.store.generation(symbol)

    def inventory_stamp(self):
        return self.store.inventory_stamp()

    def close(self) -> None:
        self.store.close()


def _identity(store: CandleStore) -> str:
    """Tell stores apart so that two of them never share cache entries."""
    parts = [type(store).__name__]
    for attr in ("url", "db", "bucket", "org", "root"):
        if hasattr(store, attr):
            parts.append(str(getattr(store, attr)))
    return "|".join(parts)


def _touch(path: Path) -> None:
    """Mark ``path`` used now: mtime is the LRU clock (atime is often not kept).

    An explicit ns timestamp, because UTIME_NOW uses the kernel's coarse clock and entries used
    within the same few milliseconds would tie.
    """
    now = time.time_ns()
    with contextlib.suppress(OSError):
        os.utime(path, ns=(now, now))


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
