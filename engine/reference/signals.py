"""Reference signal loops, one bar at a time."""

from __future__ import annotations

import numpy as np

from engine.signals import FLAT, HOLD, LONG, SHORT


def crossover(a, b, start: int = 0) -> np.ndarray:
    out = np.full(len(a), HOLD, dtype=np.int8)
    for i in range(max(start, 1), len(a)):
        if a[i - 1] < b[i - 1] and a[i] > b[i]:
            out[i] = LONG
        elif a[i - 1] > b[i - 1] and a[i] < b[i]:
            out[i] = SHORT
    return out


def position_events(long_entry, short_entry, long_exit, short_exit, start: int = 0,
                    reenter: bool = False):
    out = np.full(len(long_entry), HOLD, dtype=np.int8)
    state = 0
    for i in range(start, len(long_entry)):
        if long_entry[i] and (reenter or state != 1):
            out[i], state = LONG, 1
        elif short_entry[i] and (reenter or state != -1):
            out[i], state = SHORT, -1
        elif (state == 1 and long_exit[i]) or (state == -1 and short_exit[i]):
            out[i], state = FLAT, 0
    return out
