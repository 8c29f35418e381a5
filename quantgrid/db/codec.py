"""Compact, lossless encodings of equity curves and trades for the ``results`` table.

- Equity timestamps: int64 nanoseconds, delta-encoded (regular bars become one repeated value),
  then zlib. Equity values: float64 little-endian, then zlib. A year of minute bars (525,600
  points) takes a few MB raw and far less stored; nothing is downsampled, so a result can be
  reproduced bit for bit.
- Trades: columnar JSON (one list per field) compressed with zlib.
- Matrices (a sweep chunk's research statistics, one row per parameter set): the column count as
  a little-endian uint32, then float64 little-endian values row by row, then zlib; NaN and
  infinities are kept as they are.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

_LEVEL = 6


def encode_equity(time_ns, values) -> tuple[bytes, bytes, int]:
    """Return ``(time_blob, value_blob, n_points)`` for an equity curve."""
    t = np.ascontiguousarray(time_ns, dtype=np.int64)
    v = np.ascontiguousarray(values, dtype=np.float64)
    if t.ndim != 1 or v.shape != t.shape:
        raise ValueError(
            f"equity time and values must be 1-D of one length, got {t.shape} and {v.shape}"
        )
    deltas = np.diff(t, prepend=np.int64(0)) if len(t) else t
    return (
        zlib.compress(deltas.astype("<i8").tobytes(), _LEVEL),
        zlib.compress(v.astype("<f8").tobytes(), _LEVEL),
        len(t),
    )


def decode_equity(time_blob: bytes, value_blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(time_ns int64, values float64)`` from :func:`encode_equity`'s blobs."""
    deltas = np.frombuffer(zlib.decompress(time_blob), dtype="<i8")
    values = np.frombuffer(zlib.decompress(value_blob), dtype="<f8").astype(np.float64)
    return np.cumsum(deltas, dtype=np.int64), values


def encode_trades(
    trades: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
) -> tuple[bytes, int]:
    """Return ``(blob, n_trades)`` for trades given as rows (dicts) or as columns."""
    if isinstance(trades, Mapping):
        columns = {str(k): _plain_column(v) for k, v in trades.items()}
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"trade columns differ in length: {sorted(lengths)}")
        n = lengths.pop() if lengths else 0
    else:
        rows = list(trades)
        names: list[str] = []
        for row in rows:
            names.extend(k for k in row if k not in names)
        columns = {k: [_plain(row.get(k)) for row in rows] for k in names}
        n = len(rows)
    payload = json.dumps({"n": n, "columns": columns}, separators=(",", ":"), allow_nan=False)
    return zlib.compress(payload.encode(), _LEVEL), n


def decode_trades(blob: bytes) -> list[dict[str, Any]]:
    """Return the trades as rows (dicts with the same keys they were stored with)."""
    payload = json.loads(zlib.decompress(blob))
    columns: dict[str, list[Any]] = payload["columns"]
    return [{k: col[i] for k, col in columns.items()} for i in range(payload["n"])]


def decode_trade_columns(blob: bytes) -> dict[str, list[Any]]:
    """Return the trades as columns (one list per field)."""
    return json.loads(zlib.decompress(blob))["columns"]


def encode_matrix(matrix) -> bytes:
    """Return a blob holding a 2-D float64 matrix bit for bit."""
    m = np.ascontiguousarray(matrix, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"a matrix must be 2-D, got shape {m.shape}")
    header = np.array([m.shape[1]], dtype="<u4").tobytes()
    return zlib.compress(header + m.astype("<f8").tobytes(), _LEVEL)


def decode_matrix(blob: bytes) -> np.ndarray:
    """Return the float64 matrix of :func:`encode_matrix`'s blob."""
    raw = zlib.decompress(blob)
    columns = int(np.frombuffer(raw[:4], dtype="<u4")[0])
    values = np.frombuffer(raw[4:], dtype="<f8").astype(np.float64)
    return values.reshape(-1, columns) if columns else values.reshape(0, 0)


def plain_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Make metrics JSON-safe: numpy scalars to Python, NaN and infinities to None."""
    return {str(k): _plain(v) for k, v in metrics.items()}


def _plain_column(values) -> list[Any]:
    """A column as JSON-safe values; numeric arrays are converted whole, not value by value."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iub":
        return values.tolist()
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        finite = np.isfinite(values)
        if finite.all():
            return values.tolist()
        return [x if ok else None for x, ok in zip(values.tolist(), finite.tolist(), strict=True)]
    return [_plain(x) for x in _tolist(values)]


def _tolist(values) -> list[Any]:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.ndarray):
        return [_plain(x) for x in value.tolist()]
    return value
