# Shared kernel pieces, inlined into every .pyx that cimports them.

from libc.math cimport NAN, fabs


cdef struct _Roll:
    # State of a rolling mean over n values. The sum is updated with one addition per bar and
    # recomputed exactly (compensated) every max(1024, n) bars, so its error never exceeds that
    # of summing one window naively, even over millions of bars. ``same`` counts the run of
    # identical values ending here, so a flat window returns that value exactly (pandas does
    # the same; otherwise two SMAs of a flat price can differ by an ulp and "cross").
    Py_ssize_t n
    Py_ssize_t count
    Py_ssize_t same
    Py_ssize_t left
    double s
    double prev


cdef inline void _roll_init(_Roll* r, Py_ssize_t n) noexcept nogil:
    r.n = n
    r.count = 0
    r.same = 0
    r.left = n if n > 1024 else 1024
    r.s = 0.0
    r.prev = 0.0


cdef inline double _exact_sum(const double* x, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    # Neumaier's compensated sum.
    cdef double s = 0.0, c = 0.0, t, v
    cdef Py_ssize_t j
    for j in range(start, stop):
        v = x[j]
        t = s + v
        if fabs(s) >= fabs(v):
            c += (s - t) + v
        else:
            c += (v - t) + s
        s = t
    return s + c


cdef inline double _roll_push(_Roll* r, const double* x, Py_ssize_t i) noexcept nogil:
    """Add x[i] (dropping x[i - n]) and return the mean of the window, NaN while warming up."""
    cdef double v = x[i]
    if v != v:
        _roll_init(r, r.n)
        return NAN
    if r.count > 0 and v == r.prev:
        r.same += 1
    else:
        r.same = 1
    r.prev = v
    r.count += 1
    if r.count <= r.n:
        r.s += v
        if r.count < r.n:
            return NAN
        r.s = _exact_sum(x, i + 1 - r.n, i + 1)
    else:
        r.left -= 1
        if r.left == 0:
            r.left = r.n if r.n > 1024 else 1024
            r.s = _exact_sum(x, i + 1 - r.n, i + 1)
        else:
            r.s += v - x[i - r.n]
    if r.same >= r.n:
        return v
    return r.s / r.n
