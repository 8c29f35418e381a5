# cython: boundscheck=False, wraparound=False, cdivision=True
"""Signal loops. Call them through engine.signals; the codes are engine.signals' contract."""

import numpy as np

from libc.math cimport NAN

from engine_ext._types cimport _Roll, _roll_init, _roll_push

cdef signed char HOLD = 0
cdef signed char LONG = 1
cdef signed char SHORT = -1
cdef signed char FLAT = 2


cdef void _crossover_into(const double[::1] a, const double[::1] b, Py_ssize_t start,
                          signed char[::1] out) noexcept nogil:
    cdef Py_ssize_t i, size = a.shape[0]
    cdef double pa, pb, ca, cb
    for i in range(min(start, size)):
        out[i] = HOLD
    if start < 1:
        start = 1
        if size > 0:
            out[0] = HOLD
    for i in range(start, size):
        pa = a[i - 1]
        pb = b[i - 1]
        ca = a[i]
        cb = b[i]
        # Comparisons with NaN are false, so a NaN on either bar never makes a cross.
        # Branch-free: LONG (1) for an upward cross, SHORT (-1) for a downward one.
        out[i] = <signed char>((pa < pb) & (ca > cb)) - <signed char>((pa > pb) & (ca < cb))


def crossover(const double[::1] a, const double[::1] b, Py_ssize_t start):
    """LONG where a crosses above b (both comparisons strict), SHORT where below, else HOLD."""
    out = np.empty(a.shape[0], dtype=np.int8)
    cdef signed char[::1] o = out
    with nogil:
        _crossover_into(a, b, start, o)
    return out


cdef void _events_into(const unsigned char[::1] long_entry, const unsigned char[::1] short_entry,
                       const unsigned char[::1] long_exit, const unsigned char[::1] short_exit,
                       Py_ssize_t start, bint reenter, signed char[::1] out) noexcept nogil:
    cdef Py_ssize_t i, size = long_entry.shape[0]
    cdef signed char state = 0  # the position asked for so far: 1 long, -1 short, 0 flat
    for i in range(min(start, size)):
        out[i] = HOLD
    for i in range(start, size):
        if long_entry[i] and (reenter or state != 1):
            state = 1
            out[i] = LONG
        elif short_entry[i] and (reenter or state != -1):
            state = -1
            out[i] = SHORT
        elif (state == 1 and long_exit[i]) or (state == -1 and short_exit[i]):
            state = 0
            out[i] = FLAT
        else:
            out[i] = HOLD


def position_events(const unsigned char[::1] long_entry, const unsigned char[::1] short_entry,
                    const unsigned char[::1] long_exit, const unsigned char[::1] short_exit,
                    Py_ssize_t start, bint reenter=False):
    """Orders that fire when the wanted position changes, or on every entry with ``reenter``."""
    out = np.empty(long_entry.shape[0], dtype=np.int8)
    cdef signed char[::1] o = out
    with nogil:
        _events_into(long_entry, short_entry, long_exit, short_exit, start, reenter, o)
    return out


cdef void _sma_cross_into(const double[::1] x, Py_ssize_t fast, Py_ssize_t slow,
                          Py_ssize_t start, signed char[::1] out) noexcept nogil:
    # The two rolling means use the very arithmetic of indicators.sma (shared _roll_push), so
    # this equals crossover(sma(x, fast), sma(x, slow)) bit for bit, without the two arrays.
    cdef Py_ssize_t i, size = x.shape[0]
    cdef _Roll rf, rs
    cdef double pa = NAN, pb = NAN, ca, cb
    cdef signed char o
    if size == 0:
        return
    _roll_init(&rf, fast)
    _roll_init(&rs, slow)
    for i in range(size):
        ca = _roll_push(&rf, &x[0], i)
        cb = _roll_push(&rs, &x[0], i)
        # Branch-free: LONG (1) for an upward cross, SHORT (-1) for a downward one.
        o = <signed char>((pa < pb) & (ca > cb)) - <signed char>((pa > pb) & (ca < cb))
        out[i] = o if i >= start else HOLD
        pa = ca
        pb = cb


def sma_cross(const double[::1] x, Py_ssize_t fast, Py_ssize_t slow, Py_ssize_t start):
    """crossover(sma(x, fast), sma(x, slow), start) in one pass, without intermediate arrays."""
    out = np.empty(x.shape[0], dtype=np.int8)
    cdef signed char[::1] o = out
    with nogil:
        _sma_cross_into(x, fast, slow, start, o)
    return out
