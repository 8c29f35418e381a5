# cython: boundscheck=False, wraparound=False, cdivision=True
"""Indicator kernels. Call them through engine.indicators, which validates the inputs.

NaN policy (the same for every kernel): each maximal run of non-NaN values is an independent
series. A NaN bar outputs NaN and resets every rolling window and recursive state, so the bars
after it warm up again exactly as at the start of the input.
"""

import numpy as np

from libc.math cimport NAN, fabs, sqrt

from engine_ext._types cimport _Roll, _roll_init, _roll_push


cdef inline bint _isnan(double v) noexcept nogil:
    return v != v


cdef void _sma_into(const double[::1] x, Py_ssize_t n, double[::1] out) noexcept nogil:
    cdef Py_ssize_t i, size = x.shape[0]
    cdef _Roll r
    if size == 0:
        return
    _roll_init(&r, n)
    for i in range(size):
        out[i] = _roll_push(&r, &x[0], i)


cdef void _ema_into(const double[::1] x, Py_ssize_t n, double[::1] out) noexcept nogil:
    cdef Py_ssize_t i, size = x.shape[0], count = 0
    cdef double v, e = 0.0
    cdef double alpha = 2.0 / (n + 1.0)
    cdef double beta = 1.0 - alpha
    for i in range(size):
        v = x[i]
        if _isnan(v):
            count = 0
            out[i] = NAN
            continue
        if count == 0:
            e = v
        elif v != e:  # keeps a flat series exactly flat
            e = beta * e + alpha * v
        count += 1
        out[i] = e if count >= n else NAN


cdef inline void _wma_sums(const double* x, Py_ssize_t start, Py_ssize_t n,
                           double* plain, double* weighted) noexcept nogil:
    # The window x[start:start+n] summed plainly and with weights 1..n (oldest to newest).
    cdef Py_ssize_t j
    cdef double s = 0.0, w = 0.0
    for j in range(n):
        s += x[start + j]
        w += (j + 1) * x[start + j]
    plain[0] = s
    weighted[0] = w


cdef void _wma_into(const double[::1] x, Py_ssize_t n, double[::1] out) noexcept nogil:
    # Running sums: a new bar adds n * v to the weighted sum and every older bar loses one
    # weight, i.e. the window's plain sum before the bar. Both sums are recomputed exactly every
    # max(1024, n) bars so that rounding never accumulates; a flat window returns its value
    # exactly (as the SMA does).
    cdef Py_ssize_t i, size = x.shape[0], count = 0, same = 0, left = 0
    cdef Py_ssize_t period = n if n > 1024 else 1024
    cdef double v, prev = 0.0, s = 0.0, w = 0.0
    cdef double denom = n * (n + 1.0) / 2.0
    for i in range(size):
        v = x[i]
        if _isnan(v):
            count = 0
            same = 0
            out[i] = NAN
            continue
        if count > 0 and v == prev:
            same += 1
        else:
            same = 1
        prev = v
        count += 1
        if count < n:
            out[i] = NAN
            continue
        left -= 1
        if count == n or left <= 0:
            _wma_sums(&x[0], i + 1 - n, n, &s, &w)
            left = period
        else:
            w += n * v - s
            s += v - x[i - n]
        out[i] = v if same >= n else w / denom


cdef inline double _rsi_value(double gain, double loss) noexcept nogil:
    if gain + loss == 0.0:
        return 50.0  # no movement at all in the window: neutral
    return 100.0 * gain / (gain + loss)


cdef void _rsi_into(const double[::1] x, Py_ssize_t n, double[::1] out) noexcept nogil:
    cdef Py_ssize_t i, size = x.shape[0], count = 0
    cdef double v, d, g, l, prev = 0.0, ag = 0.0, al = 0.0
    for i in range(size):
        v = x[i]
        if _isnan(v):
            count = 0
            out[i] = NAN
            continue
        if count == 0:
            prev = v
            count = 1
            ag = 0.0
            al = 0.0
            out[i] = NAN
            continue
        d = v - prev
        prev = v
        g = d if d > 0.0 else 0.0
        l = -d if d < 0.0 else 0.0
        count += 1
        if count <= n:  # the first n changes are averaged plainly (Wilder's seed)
            ag += g
            al += l
            out[i] = NAN
        elif count == n + 1:
            ag = (ag + g) / n
            al = (al + l) / n
            out[i] = _rsi_value(ag, al)
        else:
            ag = (ag * (n - 1) + g) / n
            al = (al * (n - 1) + l) / n
            out[i] = _rsi_value(ag, al)


cdef void _atr_into(const double[::1] high, const double[::1] low, const double[::1] close,
                    Py_ssize_t n, double[::1] out) noexcept nogil:
    cdef Py_ssize_t i, size = close.shape[0], count = 0
    cdef double h, lo, cl, tr, a, b, pc = 0.0, atr = 0.0
    for i in range(size):
        h = high[i]
        lo = low[i]
        cl = close[i]
        if _isnan(h) or _isnan(lo) or _isnan(cl):
            count = 0
            out[i] = NAN
            continue
        tr = h - lo
        if count > 0:
            a = fabs(h - pc)
            b = fabs(lo - pc)
            if a > tr:
                tr = a
            if b > tr:
                tr = b
        pc = cl
        count += 1
        if count < n:
            atr = atr + tr if count > 1 else tr
            out[i] = NAN
        elif count == n:
            atr = (atr + tr if count > 1 else tr) / n
            out[i] = atr
        else:
            atr = (atr * (n - 1) + tr) / n
            out[i] = atr


cdef inline void _exact_moments(const double* x, Py_ssize_t start, Py_ssize_t stop,
                                double* mean, double* ssq) noexcept nogil:
    # Two passes: the mean, then the squared deviations from it.
    cdef Py_ssize_t j
    cdef double m = 0.0, q = 0.0, d
    for j in range(start, stop):
        m += x[j]
    m /= (stop - start)
    for j in range(start, stop):
        d = x[j] - m
        q += d * d
    mean[0] = m
    ssq[0] = q


cdef void _std_into(const double[::1] x, Py_ssize_t n, double[::1] out) noexcept nogil:
    # Welford's running mean and sum of squared deviations; once the window is full each bar
    # replaces the oldest value in one update. The update loses precision when the deviations
    # are small next to the values (prices), so mean and sum of squares are recomputed exactly
    # every max(128, n) bars (every bar for windows of up to 16). Population standard deviation (ddof=0), Bollinger's definition.
    cdef Py_ssize_t i, size = x.shape[0], count = 0, same = 0, left = 0
    cdef Py_ssize_t period = n if n > 128 else 128
    cdef double v, old, delta, new_mean, prev = 0.0, mean = 0.0, ssq = 0.0
    cdef double inv_n = 1.0 / n
    for i in range(size):
        v = x[i]
        if _isnan(v):
            count = 0
            same = 0
            mean = 0.0
            ssq = 0.0
            out[i] = NAN
            continue
        if count > 0 and v == prev:
            same += 1
        else:
            same = 1
        prev = v
        count += 1
        if count < n:
            delta = v - mean
            mean += delta / count
            ssq += delta * (v - mean)
            out[i] = NAN
            continue
        if count == n:
            _exact_moments(&x[0], i + 1 - n, i + 1, &mean, &ssq)
            left = period
        else:
            left -= 1
            if left == 0 or n <= 16:  # short windows: the exact sums cost little
                _exact_moments(&x[0], i + 1 - n, i + 1, &mean, &ssq)
                left = period
            else:
                old = x[i - n]
                delta = v - old
                new_mean = mean + delta * inv_n
                ssq += delta * ((v - new_mean) + (old - mean))
                mean = new_mean
        if same >= n or ssq <= 0.0:
            out[i] = 0.0
        else:
            out[i] = sqrt(ssq * inv_n)


cdef inline double _pick(double a, double b, bint want_max) noexcept nogil:
    if want_max:
        return a if a >= b else b
    return a if a <= b else b


cdef void _extreme_run(const double* x, Py_ssize_t a, Py_ssize_t b, Py_ssize_t n,
                       bint want_max, double* tail, double* out) noexcept nogil:
    # van Herk / Gil-Werman on the NaN-free run x[a:b]: cut it into blocks of n bars; tail[i]
    # is the extreme from i to the end of its block, ``head`` the extreme from the start of
    # i's block to i. A window [i-n+1, i] spans at most two blocks, so its extreme is
    # pick(tail[i-n+1], head). Three comparisons a bar, no data-dependent branches.
    cdef Py_ssize_t i, j, k, block_end
    cdef double head = 0.0
    for i in range(a, min(a + n - 1, b)):
        out[i] = NAN
    if b - a < n:
        return
    i = a
    while i < b:
        block_end = min(i + n, b)
        tail[block_end - 1] = x[block_end - 1]
        j = block_end - 2
        while j >= i:
            tail[j] = _pick(x[j], tail[j + 1], want_max)
            j -= 1
        i = block_end
    k = 0  # position of i in its block
    for i in range(a, b):
        if k == 0:
            head = x[i]
        else:
            head = _pick(head, x[i], want_max)
        k += 1
        if k == n:
            k = 0
        if i - a >= n - 1:
            out[i] = _pick(tail[i - n + 1], head, want_max)


cdef void _extreme_into(const double[::1] x, Py_ssize_t n, bint want_max,
                        double[::1] tail, double[::1] out) noexcept nogil:
    cdef Py_ssize_t i, size = x.shape[0], run_start = 0
    if size == 0:
        return
    for i in range(size + 1):
        if i == size or _isnan(x[i]):
            if i > run_start:
                _extreme_run(&x[0], run_start, i, n, want_max, &tail[0], &out[0])
            if i < size:
                out[i] = NAN
            run_start = i + 1


def sma(const double[::1] x, Py_ssize_t n):
    """Simple moving average over ``n`` bars."""
    out = np.empty(x.shape[0], dtype=np.float64)
    cdef double[::1] o = out
    with nogil:
        _sma_into(x, n, o)
    return out


def ema(const double[::1] x, Py_ssize_t n):
    """Exponential moving average, alpha = 2 / (n + 1), seeded with the first value."""
    out = np.empty(x.shape[0], dtype=np.float64)
    cdef double[::1] o = out
    with nogil:
        _ema_into(x, n, o)
    return out


def wma(const double[::1] x, Py_ssize_t n):
    """Linearly weighted moving average over ``n`` bars, the newest weighing ``n``."""
    out = np.empty(x.shape[0], dtype=np.float64)
    cdef double[::1] o = out
    with nogil:
        _wma_into(x, n, o)
    return out


def rsi(const double[::1] x, Py_ssize_t n):
    """Wilder's RSI over ``n`` changes."""
    out = np.empty(x.shape[0], dtype=np.float64)
    cdef double[::1] o = out
    with nogil:
        _rsi_into(x, n, o)
    return out


def atr(const double[::1] high, const double[::1] low, const double[::1] close, Py_ssize_t n):
    """Wilder's average true range over ``n`` bars."""
    out = np.empty(close.shape[0], dtype=np.float64)
    cdef double[::1] o = out
    with nogil:
        _atr_into(high, low, close, n, o)
    return out


def rolling_std(const double[::1] x, Py_ssize_t n):
    """Population standard deviation (ddof=0) over ``n`` bars."""
    out = np.empty(x.shape[0], dtype=np.float64)
    cdef double[::1] o = out
    with nogil:
        _std_into(x, n, o)
    return out


def bollinger(const double[::1] x, Py_ssize_t n, double k):
    """Return (middle, upper, lower): SMA(n) and SMA(n) ± k population standard deviations."""
    cdef Py_ssize_t i, size = x.shape[0]
    mid = np.empty(size, dtype=np.float64)
    upper = np.empty(size, dtype=np.float64)
    lower = np.empty(size, dtype=np.float64)
    cdef double[::1] m = mid
    cdef double[::1] u = upper
    cdef double[::1] lo = lower
    cdef double d
    with nogil:
        _sma_into(x, n, m)
        _std_into(x, n, u)
        for i in range(size):
            d = k * u[i]
            u[i] = m[i] + d
            lo[i] = m[i] - d
    return mid, upper, lower


def _extreme(const double[::1] x, Py_ssize_t n, bint want_max):
    cdef Py_ssize_t size = x.shape[0]
    out = np.empty(size, dtype=np.float64)
    tail_arr = np.empty(size, dtype=np.float64)
    cdef double[::1] o = out
    cdef double[::1] tail = tail_arr
    with nogil:
        _extreme_into(x, n, want_max, tail, o)
    return out


def rolling_max(const double[::1] x, Py_ssize_t n):
    """Highest value over ``n`` bars, this bar included."""
    return _extreme(x, n, True)


def rolling_min(const double[::1] x, Py_ssize_t n):
    """Lowest value over ``n`` bars, this bar included."""
    return _extreme(x, n, False)


def macd(const double[::1] x, Py_ssize_t fast, Py_ssize_t slow, Py_ssize_t signal):
    """Return (line, signal, histogram): EMA(fast) - EMA(slow), its EMA(signal), their difference."""
    cdef Py_ssize_t i, size = x.shape[0]
    line = np.empty(size, dtype=np.float64)
    sig = np.empty(size, dtype=np.float64)
    hist = np.empty(size, dtype=np.float64)
    cdef double[::1] ln = line
    cdef double[::1] sg = sig
    cdef double[::1] hs = hist
    with nogil:
        _ema_into(x, fast, ln)
        _ema_into(x, slow, hs)
        for i in range(size):
            ln[i] = ln[i] - hs[i]
        _ema_into(ln, signal, sg)
        for i in range(size):
            hs[i] = ln[i] - sg[i]
    return line, sig, hist
