"""Line charts as inline SVG, drawn on the server: the tearsheet's equity and drawdown.

A tearsheet is one file that opens without a network, so its charts cannot be the page's
lightweight-charts canvases; an SVG path needs no script at all. Long series are cut down to
about ``MAX_POINTS`` points keeping each bucket's lowest and highest value (in time order), so a
drawdown's bottom or a spike survives the downsampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_POINTS = 2_000


@dataclass(frozen=True)
class LineChart:
    """One series ready for an ``<svg>``: its path, the viewBox size and the axis extremes."""

    path: str  # the ``d`` of a <path>; empty when there is nothing to draw
    width: int
    height: int
    points: int  # points in the path, after downsampling
    x_min: int | None  # the first and last x (the caller's unit, e.g. ns)
    x_max: int | None
    y_min: float | None
    y_max: float | None
    zero_y: float | None  # the y coordinate of value 0 when it lies inside the range


def downsample(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS
               ) -> tuple[np.ndarray, np.ndarray]:
    """Return at most ``max_points`` of the finite points of ``(x, y)``: per bucket of
    consecutive points its minimum and maximum, in their order; first and last point kept."""
    if max_points < 4:
        raise ValueError(f"max_points must be 4 or more, got {max_points}")
    x, y = np.asarray(x), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-d arrays of one length, got shapes {x.shape} and "
                         f"{y.shape}")
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    n = len(y)
    if n <= max_points:
        return x, y
    buckets = (max_points - 2) // 2
    edges = np.linspace(1, n - 1, buckets + 1).astype(np.int64)  # the inner points, split
    chosen = [0]
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if hi <= lo:
            continue
        part = y[lo:hi]
        chosen.extend(sorted({lo + int(np.argmin(part)), lo + int(np.argmax(part))}))
    chosen.append(n - 1)
    idx = np.asarray(chosen, dtype=np.int64)
    return x[idx], y[idx]


def line_chart(x: np.ndarray, y: np.ndarray, *, width: int = 1000, height: int = 240,
               max_points: int = MAX_POINTS) -> LineChart:
    """Scale ``(x, y)`` (x increasing) into a ``width`` x ``height`` box (y up) as an SVG path."""
    xs, ys = downsample(x, y, max_points)
    if len(ys) == 0:
        return LineChart("", width, height, 0, None, None, None, None, None)
    x0, x1 = float(xs[0]), float(xs[-1])
    y0, y1 = float(ys.min()), float(ys.max())
    span_x = (x1 - x0) or 1.0
    span_y = (y1 - y0) or 1.0
    px = (xs.astype(np.float64) - x0) / span_x * width
    py = height - (ys - y0) / span_y * height
    path = "M" + "L".join(f"{a:.1f},{b:.1f}" for a, b in zip(px.tolist(), py.tolist(),
                                                                 strict=True))
    zero = height - (0.0 - y0) / span_y * height if y0 <= 0.0 <= y1 else None
    return LineChart(path, width, height, len(ys), int(xs[0]), int(xs[-1]), y0, y1,
                     None if zero is None else round(zero, 1))
