"""Candle store benchmark: import rate, and 1M-candle loads from InfluxDB cold, the cache warm, a plain .npy.

Starts its own influxd (tests/support/influx.py), imports 1,000,000 generated one-minute candles,
then times each load route in a fresh process (so one route's memory and caches do not help the
next) and reports seconds and peak memory (growth of the process's peak RSS, VmHWM, during the load,
against the 48 MB that the six arrays take). Every route ends with the same six numpy arrays.

    .venv/bin/python bench/candles.py [--bars 1000000]

Targets (issue 3): cold >= 2x faster than the v1 client's DataFrameClient.query, peak memory under
3x the arrays, warm within 2x of the .npy memmap ceiling, 1h resampled on the server.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from engine.candles import FIELDS  # noqa: E402

SYMBOL, TF = "DEMO", "1m"


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def _reset_peak() -> float:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS and return that RSS in MB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS")


def _touch(arrays) -> float:
    """One full pass over every array, so lazily mapped routes pay for their pages too."""
    return float(sum(np.asarray(a, dtype=np.float64).sum() for a in arrays))


def child(route: str, url: str, db: str, work: Path) -> dict:
    """Run one load route in this (fresh) process; return seconds, rows and peak RSS growth."""
    from quantgrid.candles.cache import CachedStore
    from quantgrid.candles.influx_v1 import InfluxStore

    store = InfluxStore(url, db)
    if route == "dataframe":
        from influxdb import DataFrameClient

        host, port = url.split("//")[1].split(":")
        client = DataFrameClient(host=host, port=int(port), database=db)
    base = _reset_peak()
    t0 = time.perf_counter()
    if route == "ours":
        c = store.read(SYMBOL, TF)
        arrays = [c.time, *(getattr(c, f) for f in FIELDS)]
    elif route == "dataframe":
        frames = client.query(
            "SELECT open, high, low, close, volume FROM candles WHERE symbol = $symbol AND timeframe = $tf",
            bind_params={"symbol": SYMBOL, "tf": TF},
        )
        df = frames["candles"]
        arrays = [df.index.asi8.copy(), *(df[f].to_numpy(dtype=np.float64) for f in FIELDS)]
    elif route == "warm":
        cache = CachedStore(store, work / "cache", 10**10)
        c = cache.read(SYMBOL, TF)
        assert cache.stats() == {"hits": 1, "misses": 0}, cache.stats()
        arrays = [c.time, *(getattr(c, f) for f in FIELDS)]
    elif route == "npy":
        data = np.load(work / "ceiling.npy", mmap_mode="r")
        arrays = [data[0], *(data[k + 1].view(np.float64) for k in range(5))]
    elif route == "resample_server":
        c = store.read(SYMBOL, "1h")
        arrays = [c.time, *(getattr(c, f) for f in FIELDS)]
    elif route == "resample_local":
        from quantgrid.candles.resample import resample
        from quantgrid.candles.symbols import Timeframe

        c = resample(store.read(SYMBOL, TF), Timeframe.parse("1m"), Timeframe.parse("1h"))
        arrays = [c.time, *(getattr(c, f) for f in FIELDS)]
    else:
        raise SystemExit(f"unknown route {route}")
    checksum = _touch(arrays)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": len(arrays[0]), "peak_mb": _status_mb("VmHWM") - base, "checksum": checksum}


def run_child(route: str, url: str, db: str, work: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", route, "--url", url, "--db", db, "--work", str(work)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--child")
    parser.add_argument("--url")
    parser.add_argument("--db")
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.url, args.db, args.work)))
        return

    from quantgrid.candles.cache import CachedStore
    from quantgrid.candles.generate import generate
    from quantgrid.candles.influx_v1 import InfluxStore
    from tests.support.influx import InfluxServer

    with tempfile.TemporaryDirectory(prefix="qg-bench-candles-") as tmp, InfluxServer(Path(tmp) / "influxd") as server:
        work = Path(tmp)
        db = "bench"
        store = InfluxStore(server.url, db)
        data = generate(args.bars, timeframe=TF, seed=42)
        nbytes = data.nbytes
        print(f"influxd {server.url}, {args.bars:,} {TF} candles = {nbytes / 1e6:.0f} MB of arrays; "
              f"2 shared cores, so figures are noisy")

        t0 = time.perf_counter()
        store.write(SYMBOL, TF, data)
        t_import = time.perf_counter() - t0
        print(f"import (validate + line protocol + POST in 25k batches): {t_import:.2f} s = "
              f"{args.bars / t_import:,.0f} points/s")
        # Let the server snapshot its write cache to TSM, as it would have long since in production.
        time.sleep(15)

        packed = np.empty((6, len(data)), dtype=np.int64)
        packed[0] = data.time
        for k, f in enumerate(FIELDS):
            packed[k + 1] = getattr(data, f).view(np.int64)
        np.save(work / "ceiling.npy", packed)
        del packed
        CachedStore(store, work / "cache", 10**10).read(SYMBOL, TF)  # fill the cache (the cold load)

        results = {}
        for route in ("ours", "dataframe", "warm", "npy", "resample_server", "resample_local"):
            results[route] = run_child(route, server.url, db, work)
        expected = _touch([data.time, *(getattr(data, f) for f in FIELDS)])
        for route in ("ours", "warm", "npy"):
            assert results[route]["rows"] == args.bars and results[route]["checksum"] == expected, route

        def line(label, r):
            mult = r["peak_mb"] * 1e6 / nbytes
            return f"  {label:<46} {r['seconds']:7.3f} s   peak +{r['peak_mb']:6.0f} MB ({mult:4.1f}x arrays)"

        print(f"load {args.bars:,} candles into numpy:")
        print(line("InfluxDB cold, v1 DataFrameClient.query", results["dataframe"]))
        print(line("InfluxDB cold, ours (chunked CSV -> arrays)", results["ours"]))
        print(line("local cache warm (memmap + one full pass)", results["warm"]))
        print(line("plain .npy memmap (+ one full pass), ceiling", results["npy"]))
        print("1h bars from the stored 1m:")
        print(line(f"server GROUP BY time(1h) -> {results['resample_server']['rows']} bars", results["resample_server"]))
        print(line("fetch 1m + resample locally", results["resample_local"]))
        speedup = results["dataframe"]["seconds"] / results["ours"]["seconds"]
        warm_ratio = results["warm"]["seconds"] / results["npy"]["seconds"]
        peak = results["ours"]["peak_mb"] * 1e6 / nbytes
        print("targets:")
        print(f"  cold vs DataFrameClient: {speedup:.1f}x faster (target >= 2x) {'OK' if speedup >= 2 else 'MISSED'}")
        print(f"  cold peak memory: {peak:.1f}x the arrays (target < 3x) {'OK' if peak < 3 else 'MISSED'}")
        print(f"  warm vs .npy ceiling: {warm_ratio:.2f}x (target <= 2x) {'OK' if warm_ratio <= 2 else 'MISSED'}")
        store.close()


if __name__ == "__main__":
    main()
