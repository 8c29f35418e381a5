# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The fused backtest loop: fills, stops, equity and every metric, in one pass over the bars.

``run`` is called by ``engine.simulator`` (one backtest, recording the equity curve and the
trades) and by ``engine.sweep`` (many signal arrays over the same candles, recording nothing but
one row of metrics each). The Python front owns all validation; the rules are written down in
docs/semantics.md and mirrored line by line by ``engine.reference.simulator``.
"""

import numpy as np

cimport numpy as cnp
from libc.float cimport DBL_EPSILON
from libc.math cimport (INFINITY, M_LN2, NAN, copysign, exp, fabs, floor, fmax, fmod, frexp, isfinite,
                        isnan, log, pow, sqrt)

cnp.import_array()

cdef extern from *:
    """
    #define QG_PREFETCH(p) __builtin_prefetch((const void *)(p))
    """
    void QG_PREFETCH(const void *p) noexcept nogil

# Sizing modes, directions and exit reasons; engine/simulator.py holds the same numbers.
cdef enum:
    SIZE_ALL_IN = 0
    SIZE_EQUITY_FRACTION = 1
    SIZE_CASH = 2
    SIZE_UNITS = 3

cdef enum:
    EXIT_SIGNAL = 0
    EXIT_STOP_LOSS = 1
    EXIT_TAKE_PROFIT = 2
    EXIT_TRAILING_STOP = 3
    EXIT_END_OF_DATA = 4
    EXIT_BANKRUPTCY = 5

# Metric columns, in engine.metrics.METRIC_KEYS order.
cdef enum:
    M_EQUITY_FINAL = 0
    M_EQUITY_PEAK = 1
    M_RETURN = 2
    M_BUY_HOLD = 3
    M_RETURN_ANN = 4
    M_VOLATILITY_ANN = 5
    M_CAGR = 6
    M_SHARPE = 7
    M_SORTINO = 8
    M_CALMAR = 9
    M_MAX_DD = 10
    M_AVG_DD = 11
    M_MAX_DD_DURATION = 12
    M_AVG_DD_DURATION = 13
    M_EXPOSURE = 14
    M_TRADES = 15
    M_WIN_RATE = 16
    M_BEST_TRADE = 17
    M_WORST_TRADE = 18
    M_AVG_TRADE = 19
    M_MAX_TRADE_DURATION = 20
    M_AVG_TRADE_DURATION = 21
    M_PROFIT_FACTOR = 22
    M_EXPECTANCY = 23
    M_SQN = 24
    M_KELLY = 25
    M_COMMISSIONS = 26
    M_OPEN_TRADES = 27
    N_METRICS = 28

N_METRIC_COLUMNS = N_METRICS

# Research statistics of the per-period returns, one row per set (engine.sweep.RESEARCH_COLUMNS):
# count, mean and the central moment sums M2, M3, M4 (Welford / Terriberry), then per block of
# the bar range the count, sum and sum of squares of the returns whose period ends in the block.
cdef enum:
    R_COUNT = 0
    R_MEAN = 1
    R_M2 = 2
    R_M3 = 3
    R_M4 = 4
    R_BLOCKS = 16
    R_BLOCK_N = 5
    R_BLOCK_S1 = R_BLOCK_N + R_BLOCKS
    R_BLOCK_S2 = R_BLOCK_S1 + R_BLOCKS
    N_RESEARCH = R_BLOCK_S2 + R_BLOCKS

N_RESEARCH_COLUMNS = N_RESEARCH
RESEARCH_BLOCKS = R_BLOCKS

ctypedef struct Config:
    double cash
    double commission
    double fixed_fee
    double slippage
    int sizing
    double size_value
    bint fractional
    bint allow_long
    bint allow_short
    bint fill_close
    double stop_loss
    double take_profit
    double trailing_stop
    bint has_exits
    Py_ssize_t start
    double periods_per_year
    double years
    Py_ssize_t buy_hold_bar

ctypedef struct Position:
    double size            # signed units; 0 when flat
    double entry_price
    double entry_fee
    Py_ssize_t entry_bar
    double best            # best price since entry, for the trailing stop
    double sl_level        # NaN when off
    double tp_level

ctypedef struct Stats:
    # equity curve
    bint curve_finite      # no equity was NaN or infinite (else no metric comes from the curve)
    double first_equity
    double peak
    double seg_min         # lowest equity since the peak
    double max_dd
    Py_ssize_t dd_prev     # last bar whose drawdown is exactly 0
    double dd_cur_max
    double dd_n
    double dd_sum_peak
    double dd_max_dur
    double dd_sum_dur
    # returns per calendar period (day, week, month, year)
    bint have_prev_period
    double prev_period_equity
    double r_n
    double r_mean
    double r_m2
    double r_m3
    double r_m4
    double *research       # the set's research row, or NULL (single backtests)
    Py_ssize_t n_bars
    double r_sum_log
    bint r_log_bad
    double r_sum_neg2
    # closed trades
    double t_n
    double t_wins
    double t_sum_ret
    double t_sum_pos_ret
    double t_sum_neg_ret
    double t_best
    double t_worst
    double t_prod          # product of (1 + return), kept in [0.5, 1) by frexp
    double t_prod_exp      # ... times 2 ** t_prod_exp
    bint t_log_bad
    double t_pnl_shift     # the first PnL; sums of shifted PnLs keep the variance accurate
    double t_pnl_s1
    double t_pnl_s2
    double t_win_pnl
    double t_loss_pnl
    double t_losses
    double t_max_dur
    double t_sum_dur
    double t_fees
    double covered_bars
    Py_ssize_t last_covered

# One trade, laid out as engine.simulator.TRADE_DTYPE (a packed NumPy record).
ctypedef packed struct TradeRec:
    long long entry_bar
    long long exit_bar
    long long entry_time
    long long exit_time
    double entry_price
    double exit_price
    double size
    double pnl
    double return_pct
    double fees
    signed char exit_reason

ctypedef struct Record:
    bint on
    Py_ssize_t n
    TradeRec *trades


cdef inline void _record(Record *rec, Py_ssize_t entry_bar, Py_ssize_t exit_bar,
                         const long long *time, double entry_price, double exit_price,
                         double size, double pnl, double ret, double fees,
                         int reason) noexcept nogil:
    cdef TradeRec *t = &rec.trades[rec.n]
    t.entry_bar = entry_bar
    t.exit_bar = exit_bar
    t.entry_time = time[entry_bar]
    t.exit_time = time[exit_bar]
    t.entry_price = entry_price
    t.exit_price = exit_price
    t.size = size
    t.pnl = pnl
    t.return_pct = ret
    t.fees = fees
    t.exit_reason = <signed char>reason
    rec.n += 1


cdef inline double _py_floordiv(double vx, double wx) noexcept nogil:
    """Python's float ``//`` exactly (floatobject.c), so all-in sizes match backtesting.py."""
    cdef double mod = fmod(vx, wx)
    cdef double div = (vx - mod) / wx
    cdef double floordiv
    if mod:
        if (wx < 0) != (mod < 0):
            mod += wx
            div -= 1.0
    if div:
        floordiv = floor(div)
        if div - floordiv > 0.5:
            floordiv += 1.0
    else:
        floordiv = copysign(0.0, vx / wx)
    return floordiv


cdef inline void _close_trade(Config *cfg, Position *pos, Stats *st, Record *rec,
                              double *cash, double raw_price, Py_ssize_t bar,
                              const long long *time, int reason) noexcept nogil:
    cdef double size = pos.size
    cdef double px, fee, fees, pnl, ret, dur, d, absz
    cdef int e
    cdef Py_ssize_t first
    # The exit sells a long and buys back a short; slippage works against us either way.
    px = raw_price * (1.0 - cfg.slippage) if size > 0 else raw_price * (1.0 + cfg.slippage)
    absz = size if size > 0 else -size
    fee = cfg.fixed_fee + absz * px * cfg.commission
    cash[0] += size * (px - pos.entry_price) - fee
    fees = fee + pos.entry_fee
    pnl = size * (px - pos.entry_price) - fees
    ret = copysign(1.0, size) * (px / pos.entry_price - 1.0) - fees / (absz * pos.entry_price)
    if rec.on:
        _record(rec, pos.entry_bar, bar, time, pos.entry_price, px, size, pnl, ret, fees, reason)
    # closed-trade statistics (backtesting.py's definitions)
    # Selects rather than branches: whether a trade wins is a coin flip the CPU cannot predict.
    st.t_n += 1.0
    st.t_wins += 1.0 if pnl > 0 else 0.0
    st.t_win_pnl += pnl if pnl > 0 else 0.0
    st.t_losses += 1.0 if pnl < 0 else 0.0
    st.t_loss_pnl += pnl if pnl < 0 else 0.0
    st.t_sum_ret += ret
    st.t_sum_pos_ret += ret if ret > 0 else 0.0
    st.t_sum_neg_ret += ret if ret < 0 else 0.0
    st.t_best = ret if ret > st.t_best else st.t_best
    st.t_worst = ret if ret < st.t_worst else st.t_worst
    if ret + 1.0 <= 0:
        st.t_log_bad = True
    else:
        # a product, renormalized now and then, instead of a log per trade
        st.t_prod *= ret + 1.0
        if not (1e-100 < st.t_prod < 1e100):
            st.t_prod = frexp(st.t_prod, &e)
            st.t_prod_exp += e
    if st.t_n == 1.0:
        st.t_pnl_shift = pnl
    d = pnl - st.t_pnl_shift
    st.t_pnl_s1 += d
    st.t_pnl_s2 += d * d
    dur = <double>(time[bar] - time[pos.entry_bar])
    st.t_sum_dur += dur
    st.t_max_dur = dur if dur > st.t_max_dur else st.t_max_dur
    st.t_fees += fees
    first = pos.entry_bar if pos.entry_bar > st.last_covered else st.last_covered + 1
    if bar >= first:
        st.covered_bars += <double>(bar - first + 1)
    st.last_covered = bar
    pos.size = 0.0


cdef inline void _open_trade(Config *cfg, Position *pos, double *cash, double direction,
                             double raw_price, Py_ssize_t bar) noexcept nogil:
    cdef double px = raw_price * (1.0 + direction * cfg.slippage)
    cdef double units, budget, s, per_unit
    # Flat here: equity is the cash.
    if cfg.sizing == SIZE_ALL_IN:
        # backtesting.py: size = (margin_available * leverage * (1 - eps)) // (price + commission
        # of a (1 - eps)-sized order / (1 - eps)); the same float operations, in the same order.
        s = 1.0 - DBL_EPSILON
        budget = cash[0] if cash[0] > 0 else 0.0
        per_unit = px + (cfg.fixed_fee + s * px * cfg.commission) / s
        if cfg.fractional:
            units = budget * 1.0 * s / per_unit
        else:
            units = _py_floordiv(budget * 1.0 * s, per_unit)
    elif cfg.sizing == SIZE_UNITS:
        units = cfg.size_value
    else:
        if cfg.sizing == SIZE_EQUITY_FRACTION:
            budget = cash[0] * cfg.size_value
        else:
            budget = cfg.size_value if cfg.size_value < cash[0] else cash[0]
        units = (budget - cfg.fixed_fee) / (px * (1.0 + cfg.commission))
        if not cfg.fractional:
            units = floor(units)
    # Nothing to buy (cannot afford one unit), or more units than a float holds (a price so
    # small next to the cash that the division overflows): either way, no trade.
    if not 0.0 < units < INFINITY:
        return
    pos.entry_fee = cfg.fixed_fee + units * px * cfg.commission
    cash[0] -= pos.entry_fee
    pos.size = direction * units
    pos.entry_price = px
    pos.entry_bar = bar
    pos.best = px
    pos.sl_level = px * (1.0 - direction * cfg.stop_loss) if cfg.stop_loss > 0 else NAN
    pos.tp_level = px * (1.0 + direction * cfg.take_profit) if cfg.take_profit > 0 else NAN


cdef inline void _execute(Config *cfg, Position *pos, Stats *st, Record *rec, double *cash,
                          signed char sig, double price, Py_ssize_t bar,
                          const long long *time) noexcept nogil:
    if sig == 0:
        return
    if pos.size != 0:
        _close_trade(cfg, pos, st, rec, cash, price, bar, time, EXIT_SIGNAL)
    if sig == 1 and cfg.allow_long:
        _open_trade(cfg, pos, cash, 1.0, price, bar)
    elif sig == -1 and cfg.allow_short:
        _open_trade(cfg, pos, cash, -1.0, price, bar)


cdef inline void _check_exits(Config *cfg, Position *pos, Stats *st, Record *rec, double *cash,
                              double o, double h, double l, Py_ssize_t bar,
                              const long long *time) noexcept nogil:
    """Stops first (pessimistic when a bar touches both), a gap through a level fills at the open."""
    cdef double stop = pos.sl_level
    cdef double trail
    cdef int reason = EXIT_STOP_LOSS
    if pos.size > 0:
        if cfg.trailing_stop > 0:
            trail = pos.best * (1.0 - cfg.trailing_stop)
            if isnan(stop) or trail > stop:
                stop = trail
                reason = EXIT_TRAILING_STOP
        if not isnan(stop) and l <= stop:
            _close_trade(cfg, pos, st, rec, cash, o if o < stop else stop, bar, time, reason)
        elif not isnan(pos.tp_level) and h >= pos.tp_level:
            _close_trade(cfg, pos, st, rec, cash, o if o > pos.tp_level else pos.tp_level,
                         bar, time, EXIT_TAKE_PROFIT)
        elif h > pos.best:
            pos.best = h
    else:
        if cfg.trailing_stop > 0:
            trail = pos.best * (1.0 + cfg.trailing_stop)
            if isnan(stop) or trail < stop:
                stop = trail
                reason = EXIT_TRAILING_STOP
        if not isnan(stop) and h >= stop:
            _close_trade(cfg, pos, st, rec, cash, o if o > stop else stop, bar, time, reason)
        elif not isnan(pos.tp_level) and l <= pos.tp_level:
            _close_trade(cfg, pos, st, rec, cash, o if o < pos.tp_level else pos.tp_level,
                         bar, time, EXIT_TAKE_PROFIT)
        elif l < pos.best:
            pos.best = l


cdef inline void _observe_equity(Stats *st, double equity, Py_ssize_t i, bint period_end,
                                 const long long *time) noexcept nogil:
    cdef double r, delta, n1, dn, dn2, term1
    cdef Py_ssize_t b
    # Every equity that is not finite comes here: NaN and +inf fail the caller's `equity < peak`,
    # and -inf is never recorded (equity <= 0 is bankruptcy, which records 0).
    if not isfinite(equity):
        st.curve_finite = False
    if i == 0:
        st.first_equity = equity
        st.peak = equity
        st.seg_min = equity
    # Drawdown periods as backtesting.py's compute_drawdown_duration_peaks: a period runs from a
    # bar at a new peak (drawdown exactly 0) to the next such bar, or to the last bar. The
    # drawdown 1 - equity / peak is largest at the lowest equity under one peak, so it is
    # computed once per peak, not once per bar.
    if equity >= st.peak:
        _close_segment(st)
        if i > st.dd_prev + 1:
            st.dd_n += 1.0
            st.dd_sum_peak += st.dd_cur_max
            _dd_period(st, <double>(time[i] - time[st.dd_prev]))
        st.peak = equity
        st.seg_min = equity
        st.dd_prev = i
        st.dd_cur_max = 0.0
    elif equity < st.seg_min:
        st.seg_min = equity
    if period_end:
        if st.have_prev_period:
            r = equity / st.prev_period_equity - 1.0
            if not isnan(r):
                n1 = st.r_n
                st.r_n += 1.0
                delta = r - st.r_mean
                # Higher moments by Terriberry's update (from the old M2 and M3); the mean and M2
                # keep Welford's form, whose bits the sharpe metric has always had.
                dn = delta / st.r_n
                dn2 = dn * dn
                term1 = delta * dn * n1
                st.r_m4 += (term1 * dn2 * (st.r_n * st.r_n - 3.0 * st.r_n + 3.0)
                            + 6.0 * dn2 * st.r_m2 - 4.0 * dn * st.r_m3)
                st.r_m3 += term1 * dn * (st.r_n - 2.0) - 3.0 * dn * st.r_m2
                st.r_mean += dn
                st.r_m2 += delta * (r - st.r_mean)
                if st.research != NULL:
                    # the block of the bar that ends the period: blocks cut the bar range into
                    # R_BLOCKS parts by bar index, the same for every set of the sweep
                    b = (i * R_BLOCKS) // st.n_bars
                    st.research[R_BLOCK_N + b] += 1.0
                    st.research[R_BLOCK_S1 + b] += r
                    st.research[R_BLOCK_S2 + b] += r * r
                if r + 1.0 <= 0:
                    st.r_log_bad = True
                else:
                    st.r_sum_log += log(r + 1.0)
                if r < 0:
                    st.r_sum_neg2 += r * r
        st.have_prev_period = True
        st.prev_period_equity = equity


cdef inline void _close_segment(Stats *st) noexcept nogil:
    cdef double dd
    if st.seg_min < st.peak:
        dd = 1.0 - st.seg_min / st.peak
        if dd > st.dd_cur_max:
            st.dd_cur_max = dd
        if dd > st.max_dd:
            st.max_dd = dd


cdef inline void _dd_period(Stats *st, double duration) noexcept nogil:
    st.dd_sum_dur += duration
    if duration > st.dd_max_dur:
        st.dd_max_dur = duration


cdef inline void _curve_metrics(Config *cfg, Stats *st, double last_equity,
                                double *out) noexcept nogil:
    cdef double g, ann, var, vol, nan = NAN
    out[M_EQUITY_FINAL] = last_equity
    out[M_EQUITY_PEAK] = st.peak
    out[M_RETURN] = (last_equity - st.first_equity) / st.first_equity * 100.0
    # per-period returns: geometric mean, compounded to a year
    if st.r_n == 0:
        g = nan
    elif st.r_log_bad:
        g = 0.0
    else:
        g = exp(st.r_sum_log / st.r_n) - 1.0
    ann = pow(1.0 + g, cfg.periods_per_year) - 1.0
    var = st.r_m2 / (st.r_n - 1.0) if st.r_n > 1 else nan
    vol = sqrt(pow(var + (1.0 + g) * (1.0 + g), cfg.periods_per_year)
               - pow(1.0 + g, 2.0 * cfg.periods_per_year))
    out[M_RETURN_ANN] = ann * 100.0
    out[M_VOLATILITY_ANN] = vol * 100.0
    if cfg.years > 0:
        out[M_CAGR] = (pow(last_equity / st.first_equity, 1.0 / cfg.years) - 1.0) * 100.0
    out[M_SHARPE] = (ann * 100.0) / (vol * 100.0) if vol * 100.0 != 0 else nan
    if st.r_n > 0:
        out[M_SORTINO] = ann / (sqrt(st.r_sum_neg2 / st.r_n) * sqrt(cfg.periods_per_year))
    out[M_CALMAR] = ann / st.max_dd if st.max_dd != 0 else nan
    out[M_MAX_DD] = -st.max_dd * 100.0
    if st.dd_n > 0:
        out[M_AVG_DD] = -(st.dd_sum_peak / st.dd_n) * 100.0
        out[M_MAX_DD_DURATION] = st.dd_max_dur / 1e9
        out[M_AVG_DD_DURATION] = st.dd_sum_dur / st.dd_n / 1e9
    elif st.max_dd > 0:
        # No drawdown period is complete, so the only drawdown is on the last bar: backtesting.py
        # averages it alone (its durations degenerate there; ours stay NaN, docs/semantics.md).
        out[M_AVG_DD] = -st.max_dd * 100.0


cdef void _finalize(Config *cfg, Stats *st, Py_ssize_t n, double last_equity, double last_close,
                    const double[::1] close, bint open_trade, double *out) noexcept nogil:
    cdef Py_ssize_t k
    cdef double win_rate, sd, mean
    for k in range(N_METRICS):
        out[k] = NAN
    out[M_TRADES] = st.t_n
    out[M_OPEN_TRADES] = 1.0 if open_trade else 0.0
    out[M_COMMISSIONS] = st.t_fees
    if n == 0:
        return
    out[M_BUY_HOLD] = (last_close - close[cfg.buy_hold_bar]) / close[cfg.buy_hold_bar] * 100.0
    if st.curve_finite:
        # an overflowed curve (an equity of NaN or inf) gives no number: they stay NaN
        _curve_metrics(cfg, st, last_equity, out)
    out[M_EXPOSURE] = st.covered_bars / <double>n * 100.0
    if st.t_n > 0:
        win_rate = st.t_wins / st.t_n
        out[M_WIN_RATE] = win_rate * 100.0
        out[M_BEST_TRADE] = st.t_best * 100.0
        out[M_WORST_TRADE] = st.t_worst * 100.0
        out[M_AVG_TRADE] = 0.0 if st.t_log_bad else (
            exp((log(st.t_prod) + st.t_prod_exp * M_LN2) / st.t_n) - 1.0) * 100.0
        out[M_MAX_TRADE_DURATION] = st.t_max_dur / 1e9
        out[M_AVG_TRADE_DURATION] = st.t_sum_dur / st.t_n / 1e9
        out[M_EXPECTANCY] = st.t_sum_ret / st.t_n * 100.0
        if st.t_n > 1:
            sd = sqrt(fmax(st.t_pnl_s2 - st.t_pnl_s1 * st.t_pnl_s1 / st.t_n, 0.0) / (st.t_n - 1.0))
            mean = st.t_pnl_shift + st.t_pnl_s1 / st.t_n
            # a spread at rounding level (equal PnLs) is no spread: SQN is undefined
            if sd > 1e-9 * fabs(mean):
                out[M_SQN] = sqrt(st.t_n) * mean / sd
        if st.t_wins > 0 and st.t_losses > 0:
            out[M_KELLY] = win_rate - (1.0 - win_rate) / (
                (st.t_win_pnl / st.t_wins) / (-st.t_loss_pnl / st.t_losses))
    if st.t_sum_neg_ret != 0:
        out[M_PROFIT_FACTOR] = st.t_sum_pos_ret / (-st.t_sum_neg_ret)


cdef void _run(Config *cfg, const long long[::1] time_, const double[::1] open_,
               const double[::1] high, const double[::1] low, const double[::1] close,
               const signed char[::1] signals, const unsigned char[::1] period_end,
               double *equity_out, Record *rec, Position *pos, double *metrics,
               double *research) noexcept nogil:
    cdef Py_ssize_t n = close.shape[0]
    cdef Py_ssize_t i
    cdef double cash = cfg.cash
    cdef double equity = cash
    cdef signed char pending = 0
    cdef bint bankrupt = False
    cdef Stats st
    # helpers take a plain pointer: passing a memoryview to a function costs atomic refcounts
    cdef const long long *time = &time_[0] if n > 0 else NULL
    # the running peak and lowest equity under it, in registers (mirrored into st)
    cdef double peak = -INFINITY
    cdef double seg_min = INFINITY
    cdef bint fill_close = cfg.fill_close
    cdef bint has_exits = cfg.has_exits
    cdef Py_ssize_t start = cfg.start
    memset_stats(&st)
    if research != NULL:
        for i in range(N_RESEARCH):
            research[i] = 0.0
        st.research = research
        st.n_bars = n
    pos.size = 0.0
    pos.entry_price = 0.0
    for i in range(n):
        if (i & 7) == 0 and i + 64 < n:
            # trades read open and time at scattered bars; stream them into the cache ahead
            QG_PREFETCH(&time[i + 64])
            QG_PREFETCH(&open_[i + 64])
        if bankrupt:
            equity = 0.0
        else:
            if fill_close:
                if has_exits and pos.size != 0 and pos.entry_bar < i:
                    _check_exits(cfg, pos, &st, rec, &cash, open_[i], high[i], low[i], i, time)
                if i >= start and signals[i] != 0:
                    _execute(cfg, pos, &st, rec, &cash, signals[i], close[i], i, time)
            else:
                if pending != 0:
                    _execute(cfg, pos, &st, rec, &cash, pending, open_[i], i, time)
                    pending = 0
                if has_exits and pos.size != 0:
                    _check_exits(cfg, pos, &st, rec, &cash, open_[i], high[i], low[i], i, time)
                if i >= start:
                    pending = signals[i]
            # flat: size is 0 and the last entry price finite, so this is exactly the cash
            equity = cash + pos.size * (close[i] - pos.entry_price)
            if equity <= 0:
                # Out of money (backtesting.py's rule): close at this close, stop trading.
                if pos.size != 0:
                    _close_trade(cfg, pos, &st, rec, &cash, close[i], i, time, EXIT_BANKRUPTCY)
                cash = 0.0
                equity = 0.0
                bankrupt = True
        if equity_out != NULL:
            equity_out[i] = equity
        if equity < peak and not period_end[i]:
            # the common bar: below the peak, not the end of a period (a select, not a branch:
            # whether a bar makes a new low is unpredictable)
            seg_min = equity if equity < seg_min else seg_min
        else:
            st.seg_min = seg_min
            _observe_equity(&st, equity, i, period_end[i], time)
            seg_min = st.seg_min
            peak = st.peak
    st.seg_min = seg_min
    _close_segment(&st)
    if n > 0 and n - 1 > st.dd_prev + 1:
        # the drawdown period still open at the last bar ends there
        st.dd_n += 1.0
        st.dd_sum_peak += st.dd_cur_max
        _dd_period(&st, <double>(time[n - 1] - time[st.dd_prev]))
    _finalize(cfg, &st, n, equity, close[n - 1] if n > 0 else NAN, close, pos.size != 0, metrics)
    if research != NULL:
        research[R_COUNT] = st.r_n
        research[R_MEAN] = st.r_mean
        research[R_M2] = st.r_m2
        research[R_M3] = st.r_m3
        research[R_M4] = st.r_m4


cdef inline void memset_stats(Stats *st) noexcept nogil:
    st.curve_finite = True
    st.first_equity = NAN
    st.peak = -INFINITY
    st.seg_min = INFINITY
    st.max_dd = 0.0
    st.dd_prev = 0
    st.dd_cur_max = 0.0
    st.dd_n = 0.0
    st.dd_sum_peak = 0.0
    st.dd_max_dur = 0.0
    st.dd_sum_dur = 0.0
    st.have_prev_period = False
    st.prev_period_equity = NAN
    st.r_n = 0.0
    st.r_mean = 0.0
    st.r_m2 = 0.0
    st.r_m3 = 0.0
    st.r_m4 = 0.0
    st.research = NULL
    st.n_bars = 0
    st.r_sum_log = 0.0
    st.r_log_bad = False
    st.r_sum_neg2 = 0.0
    st.t_n = 0.0
    st.t_wins = 0.0
    st.t_sum_ret = 0.0
    st.t_sum_pos_ret = 0.0
    st.t_sum_neg_ret = 0.0
    st.t_best = -INFINITY
    st.t_worst = INFINITY
    st.t_prod = 1.0
    st.t_prod_exp = 0.0
    st.t_log_bad = False
    st.t_pnl_shift = 0.0
    st.t_pnl_s1 = 0.0
    st.t_pnl_s2 = 0.0
    st.t_win_pnl = 0.0
    st.t_loss_pnl = 0.0
    st.t_losses = 0.0
    st.t_max_dur = -INFINITY
    st.t_sum_dur = 0.0
    st.t_fees = 0.0
    st.covered_bars = 0.0
    st.last_covered = -1


cdef Config _config(dict c):
    cdef Config cfg
    cfg.cash = c["cash"]
    cfg.commission = c["commission"]
    cfg.fixed_fee = c["fixed_fee"]
    cfg.slippage = c["slippage"]
    cfg.sizing = c["sizing"]
    cfg.size_value = c["size_value"]
    cfg.fractional = c["fractional"]
    cfg.allow_long = c["allow_long"]
    cfg.allow_short = c["allow_short"]
    cfg.fill_close = c["fill_close"]
    cfg.stop_loss = c["stop_loss"]
    cfg.take_profit = c["take_profit"]
    cfg.trailing_stop = c["trailing_stop"]
    cfg.has_exits = cfg.stop_loss > 0 or cfg.take_profit > 0 or cfg.trailing_stop > 0
    cfg.start = c["start"]
    cfg.periods_per_year = c["periods_per_year"]
    cfg.years = c["years"]
    cfg.buy_hold_bar = c["buy_hold_bar"]
    return cfg


def simulate(dict config, const long long[::1] time, const double[::1] open_,
             const double[::1] high, const double[::1] low, const double[::1] close,
             const signed char[::1] signals, const unsigned char[::1] period_end,
             cnp.ndarray trades):
    """Run one backtest, writing trades into ``trades`` (TRADE_DTYPE, long enough for all).

    Return (equity, number of trades written, metrics row).
    """
    cdef Config cfg = _config(config)
    cdef Py_ssize_t n = close.shape[0]
    cdef Position pos
    cdef Record rec
    cdef cnp.ndarray[double, ndim=1] equity = np.empty(n, dtype=np.float64)
    cdef cnp.ndarray[double, ndim=1] metrics = np.empty(N_METRICS, dtype=np.float64)
    if trades.ndim != 1 or trades.itemsize != sizeof(TradeRec) or not trades.flags.c_contiguous:
        raise TypeError("trades must be a contiguous one-dimensional TRADE_DTYPE array")
    rec.on = True
    rec.n = 0
    rec.trades = <TradeRec *>cnp.PyArray_DATA(trades)
    with nogil:
        _run(&cfg, time, open_, high, low, close, signals, period_end,
             &equity[0] if n > 0 else NULL, &rec, &pos, &metrics[0], NULL)
        if pos.size != 0:
            # Still open: marked to the last close, entry fee paid, no exit fee (not traded).
            _record(&rec, pos.entry_bar, n - 1, &time[0], pos.entry_price, close[n - 1], pos.size,
                    pos.size * (close[n - 1] - pos.entry_price) - pos.entry_fee,
                    copysign(1.0, pos.size) * (close[n - 1] / pos.entry_price - 1.0)
                    - pos.entry_fee / (abs(pos.size) * pos.entry_price),
                    pos.entry_fee, EXIT_END_OF_DATA)
    return equity, rec.n, metrics


def sweep(dict config, const long long[::1] time, const double[::1] open_,
          const double[::1] high, const double[::1] low, const double[::1] close,
          const signed char[:, ::1] signals, const long long[::1] starts,
          const unsigned char[::1] period_end, double[:, ::1] out, double[:, ::1] research):
    """Run one backtest per row of ``signals`` over the same candles, recording nothing but metrics.

    Row ``i`` places its first order on bar ``starts[i]`` (its strategy's warm-up) and writes its
    metrics row into ``out[i]`` and the research statistics of its per-period returns into
    ``research[i]`` (N_RESEARCH_COLUMNS): one call and one loop without the GIL for the whole
    block of parameter sets, no equity curve or trade list built.
    """
    cdef Config cfg = _config(config)
    cdef Position pos
    cdef Record rec
    cdef Py_ssize_t i, m = signals.shape[0]
    if signals.shape[1] != close.shape[0] or starts.shape[0] != m or out.shape[0] != m \
            or out.shape[1] != N_METRICS or research.shape[0] != m \
            or research.shape[1] != N_RESEARCH:
        raise ValueError("signals must be (sets, bars), starts (sets,), out (sets, metrics) and "
                         "research (sets, research columns)")
    rec.on = False
    rec.n = 0
    with nogil:
        for i in range(m):
            cfg.start = starts[i]
            cfg.buy_hold_bar = starts[i] - 1 if starts[i] > 0 else 0
            _run(&cfg, time, open_, high, low, close, signals[i], period_end, NULL, &rec, &pos,
                 &out[i, 0], &research[i, 0])


def day_calendar(const long long[::1] time):
    """Flag the last bar of each UTC day and count bars on Saturdays and Sundays, in one pass."""
    cdef Py_ssize_t n = time.shape[0]
    cdef Py_ssize_t i
    cdef long long day_ns = 86_400_000_000_000
    cdef long long day, next_boundary = 0
    cdef Py_ssize_t weekend = 0
    cdef bint is_weekend = False
    cdef cnp.ndarray[unsigned char, ndim=1] ends = np.zeros(n, dtype=np.uint8)
    cdef unsigned char[::1] e = ends
    with nogil:
        for i in range(n):
            if i == 0 or time[i] >= next_boundary:
                # a new day: one division per day, not per bar (floor division for pre-1970)
                day = time[i] // day_ns
                if time[i] % day_ns != 0 and time[i] < 0:
                    day -= 1
                next_boundary = (day + 1) * day_ns
                # 1970-01-01 was a Thursday; Monday is 0
                is_weekend = ((day + 3) % 7 + 7) % 7 >= 5
                if i > 0:
                    e[i - 1] = 1
            if is_weekend:
                weekend += 1
        if n > 0:
            e[n - 1] = 1
    return ends, weekend
