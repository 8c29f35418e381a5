"""The embedded store never leaves half a series behind, and concurrent writers do not lose rows."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantgrid.candles import embedded
from quantgrid.candles.embedded import EmbeddedStore
from tests.support.candles import MINUTE, T0, assert_same, minutes


def test_a_write_that_dies_half_way_leaves_the_old_series_and_no_debris(tmp_path, monkeypatch):
    store = EmbeddedStore(tmp_path)
    old = minutes(1000)
    store.write("BTCUSDT", "1m", old)
    generation = store.generation("BTCUSDT")

    def dying_save(file, arr):
        file.write(b"\x93NUMPY half a file")
        raise OSError("disk full")

    monkeypatch.setattr(embedded.np, "save", dying_save)
    with pytest.raises(OSError, match="disk full"):
        store.write("BTCUSDT", "1m", minutes(500, start=T0 + 1000 * MINUTE))
    monkeypatch.undo()
    assert_same(store.read("BTCUSDT", "1m"), old)
    assert store.generation("BTCUSDT") == generation
    assert sorted(p.name for p in (tmp_path / "BTCUSDT").iterdir()) == [".lock", "1m.npy", "GENERATION"]


def test_a_stray_temporary_file_from_a_crashed_writer_is_removed_by_the_next_write(tmp_path):
    store = EmbeddedStore(tmp_path)
    store.write("BTCUSDT", "1m", minutes(10))
    stray = tmp_path / "BTCUSDT" / ".1m.npy.deadbeef.tmp"
    stray.write_bytes(b"junk")
    store.write("BTCUSDT", "1m", minutes(10, start=T0 + 10 * MINUTE))
    assert not stray.exists()
    assert len(store.read("BTCUSDT", "1m")) == 20


def test_concurrent_writers_of_one_symbol_lose_nothing(tmp_path):
    parts = [minutes(500, start=T0 + i * 500 * MINUTE, seed=i) for i in range(6)]
    threads = [
        threading.Thread(target=EmbeddedStore(tmp_path).write, args=("BTCUSDT", "1m", p)) for p in parts
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = EmbeddedStore(tmp_path).read("BTCUSDT", "1m")
    assert len(got) == 3000
    np.testing.assert_array_equal(got.close, np.concatenate([p.close for p in parts]))


def test_foreign_files_in_the_directory_are_ignored(tmp_path):
    store = EmbeddedStore(tmp_path)
    store.write("BTCUSDT", "1m", minutes(3))
    (tmp_path / "lowercase").mkdir()
    (tmp_path / "lowercase" / "1m.npy").write_bytes(b"")
    (tmp_path / "BTCUSDT" / "notes.npy").write_bytes(b"")
    assert [(s.symbol, s.timeframe) for s in store.symbols()] == [("BTCUSDT", "1m")]
    assert len(store.read("BTCUSDT", "1m")) == 3


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(1, 15)), min_size=1, max_size=6))
def test_any_sequence_of_overlapping_imports_equals_last_write_wins(tmp_path_factory, writes):
    """Re-imports merge by timestamp, the later write winning, never duplicating."""
    store = EmbeddedStore(tmp_path_factory.mktemp("merge"))
    expected: dict[int, float] = {}
    for k, (offset, n) in enumerate(writes):
        part = minutes(n, start=T0 + offset * MINUTE, seed=k, price=10.0 + k)
        store.write("BTCUSDT", "1m", part)
        expected.update(zip(part.time.tolist(), part.close.tolist(), strict=True))
    got = store.read("BTCUSDT", "1m", gaps="allow")
    assert got.time.tolist() == sorted(expected)
    assert got.close.tolist() == [expected[t] for t in sorted(expected)]


def test_resampling_ignores_foreign_files(tmp_path):
    store = EmbeddedStore(tmp_path)
    store.write("BTCUSDT", "1m", minutes(10))
    (tmp_path / "BTCUSDT" / "notes.npy").write_bytes(b"")
    assert len(store.read("BTCUSDT", "5m")) == 2
