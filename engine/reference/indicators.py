"""Reference indicators: one window or one recursion step at a time, in plain Python/NumPy."""

from __future__ import annotations

import math

import numpy as np


def runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """Return the (start, stop) of each maximal run of True values."""
    out, start = [], None
    for i, ok in enumerate(valid):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            out.append((start, i))
            start = None
    if start is not None:
        out.append((start, len(valid)))
    return out


def _per_run(x: np.ndarray, fn) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.full(len(x), np.nan)
    for a, b in runs(~np.isnan(x)):
        out[a:b] = fn(x[a:b])
    return out


def _windows(x: np.ndarray, n: int, stat) -> np.ndarray:
    out = np.full(len(x), np.nan)
    for i in range(n - 1, len(x)):
        out[i] = stat(x[i - n + 1 : i + 1])
    return out


def sma(x, n: int) -> np.ndarray:
    return _per_run(x, lambda r: _windows(r, n, lambda w: math.fsum(w) / n))


def wma(x, n: int) -> np.ndarray:
    weights = np.arange(1, n + 1, dtype=np.float64)
    return _per_run(x, lambda r: _windows(r, n, lambda w: math.fsum(w * weights) / math.fsum(weights)))


def rolling_std(x, n: int) -> np.ndarray:
    def std(w):
        m = math.fsum(w) / n
        return math.sqrt(math.fsum((v - m) ** 2 for v in w) / n)

    return _per_run(x, lambda r: _windows(r, n, std))


def rolling_max(x, n: int) -> np.ndarray:
    return _per_run(x, lambda r: _windows(r, n, max))


def rolling_min(x, n: int) -> np.ndarray:
    return _per_run(x, lambda r: _windows(r, n, min))


def _ema_run(r: np.ndarray, n: int) -> np.ndarray:
    alpha = 2.0 / (n + 1.0)
    out = np.full(len(r), np.nan)
    e = None
    for i, v in enumerate(r):
        e = v if e is None else (1.0 - alpha) * e + alpha * v
        if i >= n - 1:
            out[i] = e
    return out


def ema(x, n: int) -> np.ndarray:
    return _per_run(x, lambda r: _ema_run(r, n))


def _rsi_run(r: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(r), np.nan)
    d = np.diff(r)
    if len(d) < n:
        return out
    gains, losses = np.clip(d, 0, None), np.clip(-d, 0, None)
    ag, al = math.fsum(gains[:n]) / n, math.fsum(losses[:n]) / n
    for j in range(n, len(d) + 1):
        if j > n:
            ag = (ag * (n - 1) + gains[j - 1]) / n
            al = (al * (n - 1) + losses[j - 1]) / n
        out[j] = 50.0 if ag + al == 0 else 100.0 * ag / (ag + al)
    return out


def rsi(x, n: int) -> np.ndarray:
    return _per_run(x, lambda r: _rsi_run(r, n))


def atr(high, low, close, n: int) -> np.ndarray:
    h, lo, c = (np.asarray(a, dtype=np.float64) for a in (high, low, close))
    out = np.full(len(c), np.nan)
    for a, b in runs(~(np.isnan(h) | np.isnan(lo) | np.isnan(c))):
        tr = [h[a] - lo[a]]
        for i in range(a + 1, b):
            tr.append(max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])))
        if len(tr) < n:
            continue
        value = math.fsum(tr[:n]) / n
        out[a + n - 1] = value
        for k in range(n, len(tr)):
            value = (value * (n - 1) + tr[k]) / n
            out[a + k] = value
    return out


def bollinger(x, n: int, k: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mid, sd = sma(x, n), rolling_std(x, n)
    return mid, mid + k * sd, mid - k * sd


def macd(x, fast: int, slow: int, signal: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    line = ema(x, fast) - ema(x, slow)
    sig = ema(line, signal)
    return line, sig, line - sig
