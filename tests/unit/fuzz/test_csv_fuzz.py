"""The CSV importer on arbitrary input: a clean ``InvalidInput`` with a message, or good candles.

Three families of input: arbitrary bytes; CSV-shaped text built from a random header and random
cells (numbers, huge numbers, NaN/inf, odd timestamps, BOMs, other delimiters); and valid
candles written in several layouts, which must come back exactly.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.candles import Candles
from quantgrid.candles.csvfile import read_csv, write_csv
from quantgrid.errors import InvalidInput

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


class _Stream(io.BytesIO):
    """An upload as a web server hands it over: readable once, not seekable."""

    name = "upload.csv"

    def seekable(self) -> bool:
        return False


def _read_all_ways(data: bytes, tmp_path) -> list[Candles | InvalidInput]:
    """Read ``data`` from a path, a seekable file and a stream; return each outcome."""
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    outcomes = []
    for source in (path, io.BytesIO(data), _Stream(data)):
        try:
            outcomes.append(read_csv(source))
        except InvalidInput as err:
            assert str(err).strip(), "an error must carry a message"
            assert "Traceback" not in str(err)
            outcomes.append(err)
    return outcomes


def _assert_sound(candles: Candles) -> None:
    """What the engine relies on: sorted unique times and consistent, finite, positive prices."""
    assert isinstance(candles, Candles) and len(candles) > 0
    assert candles.time.dtype == np.int64
    assert np.all(np.diff(candles.time) > 0)
    for field in ("open", "high", "low", "close", "volume"):
        assert np.all(np.isfinite(getattr(candles, field))), field
    assert np.all(candles.high >= candles.low) and np.all(candles.low > 0)
    assert np.all((candles.open >= candles.low) & (candles.open <= candles.high))
    assert np.all((candles.close >= candles.low) & (candles.close <= candles.high))
    assert np.all(candles.volume >= 0)


def _check(data: bytes, tmp_path) -> None:
    outcomes = _read_all_ways(data, tmp_path)
    for out in outcomes:
        if isinstance(out, Candles):
            _assert_sound(out)
    # A readable file reads the same whichever way it is opened.
    good = [o for o in outcomes if isinstance(o, Candles)]
    for other in good[1:]:
        assert np.array_equal(other.time, good[0].time)


@FUZZ
@given(data=st.binary(max_size=600))
@example(data=b"")
@example(data=b"\xef\xbb\xbf")
@example(data=b"\xff\xfe\x00t\x00i\x00m\x00e")
@example(data=b"time,open,high,low,close\n")
@example(data=b"\x00\x00\x00\n1,2,3,4,5\n")
def test_arbitrary_bytes_are_refused_cleanly_or_read_soundly(data, tmp_path):
    _check(data, tmp_path)


_HEADERS = ["time", "timestamp", "Date", "date", "Time", "datetime", "open_time", "",
            "open", "Open", "high", "low", "close", "volume", "o", "h", "l", "c", "v", "x"]
_CELLS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "nan", "NaN", "inf", "-inf", "1e308", "1e309", "-0", "0x10",
                     "2024-01-01", "2024-01-01T00:00:00Z", "2024-02-30", "0001-01-01",
                     "9999-12-31T23:59:59", "1970-01-01T00:00:00+14:00", "1700000000",
                     "1700000000000", "1700000000000000000", "99999999999999999999",
                     "\"1,5\"", "'", "\"", "\ufeff", "NULL", "; DROP TABLE users; --"]),
    st.text(max_size=12),
)


@st.composite
def _csv_like(draw) -> bytes:
    delimiter = draw(st.sampled_from([",", ",", ",", ";", "\t", "|"]))
    header = draw(st.lists(st.sampled_from(_HEADERS), min_size=0, max_size=7))
    width = draw(st.integers(1, 8))
    rows = draw(st.lists(st.lists(_CELLS, min_size=width, max_size=width), max_size=8))
    lines = ([delimiter.join(header)] if header else []) + [delimiter.join(r) for r in rows]
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    bom = draw(st.sampled_from(["", "", "\ufeff"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "latin-1", "utf-16"]))
    return (bom + eol.join(lines) + eol).encode(encoding, errors="replace")


@FUZZ
@given(data=_csv_like())
@example(data=b"time,open,high,low,close\n1e400,1,1,1,1\n")
@example(data=b"time,open,high,low,close\n-99999999999999999999,1,1,1,1\n")
@example(data=b"time,open,high,low,close\n0001-01-01,1,1,1,1\n")
@example(data=b"time,open,high,low,close\n9999-12-31,1,1,1,1\n")
@example(data=b"time,open,high,low,close\n2024-01-01,1e309,1,1,1\n")
@example(data=b"time;open;high;low;close\n2024-01-01;1;1;1;1\n")
@example(data=b"1700000000,1,1,1,1\n1700000060000,1,1,1,1\n")
@example(data=b"time,open,high,low,close\nnan,1,1,1,1\n")
@example(data=b"time,open,high,low,close\n1.5,1,1,1,1\n")
def test_malformed_csv_is_refused_cleanly_or_read_soundly(data, tmp_path):
    _check(data, tmp_path)


# -- valid candles in several layouts must read back exactly -----------------------------------
_PRICE = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)


@st.composite
def _candles(draw) -> Candles:
    n = draw(st.integers(1, 20))
    # From 1973-03-03: before it, epoch milliseconds look like seconds (a documented limit).
    start = draw(st.integers(10**8, 4_000_000_000)) * 10**9
    steps = draw(st.lists(st.integers(1, 10**6), min_size=n - 1, max_size=n - 1))
    time = start + np.cumsum([0, *steps], dtype=np.int64) * 10**9
    rows = []
    for _ in range(n):
        a, b, c, d = sorted(draw(st.lists(_PRICE, min_size=4, max_size=4)))
        open_, close = draw(st.permutations([b, c]))
        rows.append((open_, d, a, close, draw(st.floats(0, 1e12))))
    o, h, lo, c, v = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
    return Candles.from_arrays(time, o, h, lo, c, v)


def _layouts(candles: Candles) -> dict[str, bytes]:
    stamps = pd.to_datetime(candles.time, utc=True)
    cols = {"open": candles.open, "high": candles.high, "low": candles.low,
            "close": candles.close, "volume": candles.volume}
    out = {}
    text = io.StringIO()
    write_csv(candles, text)
    out["write_csv"] = text.getvalue().encode()
    out["bom_epoch_seconds"] = ("\ufeff" + pd.DataFrame(
        {"Timestamp": candles.time // 10**9, **cols}).to_csv(index=False)).encode()
    out["epoch_ms_no_header"] = pd.DataFrame(
        {"t": candles.time // 10**6, **cols}).to_csv(index=False, header=False).encode()
    out["offset_iso"] = pd.DataFrame(
        {"datetime": stamps.tz_convert("Asia/Kolkata").map(lambda t: t.isoformat()), **cols}
    ).to_csv(index=False, lineterminator="\r\n").encode()
    out["pandas_index"] = pd.DataFrame(cols, index=stamps.tz_localize(None)).to_csv().encode()
    return out


@settings(max_examples=60, deadline=None)
@given(candles=_candles())
def test_valid_candles_read_back_exactly_from_every_layout(candles, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("layouts")
    for layout, data in _layouts(candles).items():
        path = tmp / f"{layout}.csv"
        path.write_bytes(data)
        got = read_csv(path)
        assert np.array_equal(got.time, candles.time), layout
        for field in ("open", "high", "low", "close", "volume"):
            assert np.allclose(getattr(got, field), getattr(candles, field), rtol=1e-15,
                               atol=0), (layout, field)
        assert math.isclose(float(got.volume.sum()), float(candles.volume.sum()), rel_tol=1e-12)
