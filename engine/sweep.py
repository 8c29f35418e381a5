"""Parameter sweeps: many parameter sets of one strategy over the same candles, one metrics row each.

The candles are checked and their calendar computed once; the sets' signals come from the
strategy's ``signals_many`` (indicators shared across sets) in blocks of rows, and one kernel call
per block simulates every set of it and computes its metrics in one pass, without building an
equity curve or trade list.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from engine import strategies
from engine.candles import Candles
from engine.metrics import HIGHER_IS_BETTER, METRIC_KEYS, as_dict, json_safe
from engine.simulator import SimConfig, prepare
from engine.strategies.base import Strategy
from engine_ext import simulate as _k

MAX_COMBINATIONS = 1_000_000
# The signals of one kernel call: int8 rows of one byte per bar, at most this many bytes (64 sets
# of a million bars); more at once would only cost memory.
BLOCK_BYTES = 64 * 1024 * 1024
MAX_MAGNITUDE_DIGITS = 15  # grid values below 1e16 in magnitude
# A random search gives up when its draws keep hitting invalid or repeated combinations: after
# this many draws per trial asked for (a space mostly of invalid sets should be narrowed).
MAX_DRAWS_PER_TRIAL = 20

# Research statistics per set (SweepResult.research), from the per-period returns the sharpe
# metric uses: their count, mean and central moment sums M2..M4 (M_k = sum (r - mean)^k), then
# for each of RESEARCH_BLOCKS equal blocks of the bar range the count, sum and sum of squares of
# the returns whose period ends in it (bar i is in block i * RESEARCH_BLOCKS // bars).
RESEARCH_BLOCKS = _k.RESEARCH_BLOCKS
RESEARCH_COLUMNS: tuple[str, ...] = (
    "count", "mean", "m2", "m3", "m4",
    *(f"block_count_{b}" for b in range(RESEARCH_BLOCKS)),
    *(f"block_sum_{b}" for b in range(RESEARCH_BLOCKS)),
    *(f"block_sum_sq_{b}" for b in range(RESEARCH_BLOCKS)),
)
assert len(RESEARCH_COLUMNS) == _k.N_RESEARCH_COLUMNS


class ParamGrid(list):
    """The parameter sets of a grid (a list of dicts), and how many combinations were dropped."""

    def __init__(self, sets: list[dict[str, Any]], dropped: int = 0, reason: str | None = None):
        super().__init__(sets)
        self.dropped = dropped
        self.drop_reason = reason  # the first rejection, as an example for the user


@dataclass(frozen=True, eq=False)
class SweepResult:
    """A params table and a float64 metrics matrix, one row per parameter set.

    ``research`` holds each set's research statistics (RESEARCH_COLUMNS), for the Deflated
    Sharpe Ratio and the PBO of the sweep; they are not metrics (not compared with
    backtesting.py, not shown as columns).
    """

    strategy: str
    params: list[dict[str, int | float]]
    metrics: np.ndarray = field(repr=False)
    research: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))
    columns: tuple[str, ...] = METRIC_KEYS

    def column(self, name: str) -> np.ndarray:
        """Return one metric for every parameter set."""
        return self.metrics[:, _metric_index(name)]

    def ranked(self, by: str = "sharpe", descending: bool | None = None) -> np.ndarray:
        """Return row indices, best first by ``by`` (NaN last); higher is better unless stated."""
        values = self.column(by)
        descending = by in HIGHER_IS_BETTER if descending is None else descending
        key = np.where(np.isnan(values), np.inf, -values if descending else values)
        return np.argsort(key, kind="stable")

    def rows(self, order: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """Return params and metrics as one flat dict per set (in ``order`` if given)."""
        order = range(len(self.params)) if order is None else order
        return [{**self.params[i], **as_dict(self.metrics[i])} for i in order]

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "columns": list(self.columns),
            "params": [dict(p) for p in self.params],
            "metrics": [json_safe(as_dict(row)) for row in self.metrics],
        }


def run_sweep(
    candles: Candles,
    strategy: str | Strategy,
    param_sets: Sequence[Mapping[str, object]],
    config: SimConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Backtest every parameter set of ``strategy`` (a name or a Strategy).

    ``progress(done, total)`` is called after each block of sets.
    """
    config = SimConfig() if config is None else config
    strategy = strategies.resolve(strategy)
    if not len(param_sets):
        raise ValueError("the sweep has no parameter sets; give at least one (e.g. -g fast=5:50:5)")
    validated = [strategy.validate(p) for p in param_sets]
    configs = [strategy.configure(config, p) for p in validated]
    prep = prepare(candles, config, 0)
    out = np.empty((len(validated), len(METRIC_KEYS)), dtype=np.float64)
    research = np.empty((len(validated), len(RESEARCH_COLUMNS)), dtype=np.float64)
    total, n = len(validated), len(candles)
    signals = strategy.signals_many(candles, validated)
    rows = max(1, BLOCK_BYTES // max(n, 1))
    for first in range(0, total, rows):
        block = validated[first : first + rows]
        sig = np.empty((len(block), n), dtype=np.int8)
        for row, orders in zip(sig, itertools.islice(signals, len(block)), strict=True):
            row[:] = orders
        starts = np.array([min(strategy.warmup(p), n) for p in block], dtype=np.int64)
        groups = _by_config(configs[first : first + len(block)])
        for cfg, idx in groups:
            args = {**prep.args, **cfg.kernel_args()}
            if len(groups) == 1:  # the usual case: the block as it is, without copies
                _k.sweep(args, candles.time, candles.open, candles.high, candles.low,
                         candles.close, sig, starts, prep.calendar.period_end,
                         out[first : first + len(block)], research[first : first + len(block)])
            else:
                part = np.empty((len(idx), len(METRIC_KEYS)), dtype=np.float64)
                part_research = np.empty((len(idx), len(RESEARCH_COLUMNS)), dtype=np.float64)
                _k.sweep(args, candles.time, candles.open, candles.high, candles.low,
                         candles.close, sig[idx], starts[idx], prep.calendar.period_end, part,
                         part_research)
                out[first + idx] = part
                research[first + idx] = part_research
        if progress is not None:
            progress(first + len(block), total)
    return SweepResult(strategy=strategy.name, params=validated, metrics=out, research=research)


def _by_config(configs: list[SimConfig]) -> list[tuple[SimConfig, np.ndarray]]:
    """The rows of each distinct configuration (sets whose strategy declares stops that depend
    on its parameters are simulated with different settings; one kernel call per setting)."""
    rows: dict[SimConfig, list[int]] = {}
    for i, cfg in enumerate(configs):
        rows.setdefault(cfg, []).append(i)
    return [(cfg, np.array(idx, dtype=np.intp)) for cfg, idx in rows.items()]


def parse_grid(
    specs: Sequence[str],
    strategy: str | Strategy | None = None,
    max_combinations: int = MAX_COMBINATIONS,
) -> ParamGrid:
    """Expand ``name=start:stop:step`` ranges and ``name=a,b,c`` lists into parameter sets.

    A range includes ``stop`` when it lands on it (``5:20:5`` is 5, 10, 15, 20). With a
    strategy (a name or a Strategy), each value is checked alone first (an out-of-bounds value is an error), then
    combinations the strategy rejects as a whole (such as fast >= slow) are dropped and counted.
    A grid of more than ``max_combinations`` sets (before dropping) is refused before it is
    expanded.
    """
    axes = _axes(specs, max_combinations)
    size = _size(axes)
    if size > max_combinations:
        raise ValueError(
            f"the grid has {size:,} combinations, more than {max_combinations:,}; use larger steps"
        )
    if strategy is None:
        return ParamGrid([dict(zip(axes, values, strict=True))
                          for values in itertools.product(*axes.values())])
    strategy = strategies.resolve(strategy)
    coerced = _coerced(axes, strategy)
    # Every value already passed its own checks, so with the base class's validate only the
    # constraints are left per combination (a 1,000,000-set grid in seconds, not a minute).
    plain = type(strategy).validate is Strategy.validate
    defaults = strategy.defaults()
    kept, dropped, reason = [], 0, None
    for values in itertools.product(*coerced.values()):
        combo = {**defaults, **dict(zip(coerced, values, strict=True))}
        if plain:
            if all(combo[a] < combo[b] for a, b in strategy.constraints):
                kept.append(combo)
                continue
            if reason is not None:  # validate would only repeat a message we already have
                dropped += 1
                continue
        try:
            kept.append(strategy.validate(combo))
        except ValueError as err:
            dropped += 1
            reason = reason or str(err)
    if not kept:
        raise ValueError(f"every one of the {size} combinations is invalid, e.g.: {reason}")
    return ParamGrid(kept, dropped, reason)


def sample_grid(
    specs: Sequence[str],
    strategy: str | Strategy,
    trials: int,
    seed: int,
    max_values: int = MAX_COMBINATIONS,
) -> ParamGrid:
    """Random search: ``trials`` distinct valid parameter sets drawn uniformly from the grid's
    space, without expanding it (a space of 10**12 combinations is as cheap as one of 100).

    The same specs, strategy, trials and seed give the same sets in the same order. Draws the
    strategy rejects (such as fast >= slow) are drawn again; ``dropped`` counts them. A space
    with no more combinations than ``trials`` is refused: search it whole as a grid.
    """
    if trials < 1:
        raise ValueError("give at least 1 trial")
    axes = _axes(specs, max_values)
    size = _size(axes)
    if size <= trials:
        raise ValueError(f"the grid has only {size:,} combinations, no more than the {trials:,}"
                         " trials asked for; search it whole (a grid search)")  # fmt: skip
    strategy = strategies.resolve(strategy)
    coerced = _coerced(axes, strategy)
    defaults = strategy.defaults()
    rng = random.Random(seed)
    seen: set[int] = set()
    kept, dropped, reason = [], 0, None
    for _ in range(max(trials * MAX_DRAWS_PER_TRIAL, 1000)):
        index = rng.randrange(size)
        if index in seen:
            continue
        seen.add(index)
        try:
            kept.append(strategy.validate({**defaults, **_combination(coerced, index)}))
        except ValueError as err:
            dropped += 1
            reason = reason or str(err)
            continue
        if len(kept) == trials:
            return ParamGrid(kept, dropped, reason)
    raise ValueError(f"only {len(kept):,} of the {trials:,} trials drew a valid combination"
                     f" ({dropped:,} draws were invalid, e.g.: {reason}); narrow the ranges"
                     " so that most combinations are valid")  # fmt: skip


def _combination(axes: dict[str, list[int | float]], index: int) -> dict[str, int | float]:
    """The ``index``-th combination of ``axes`` in itertools.product order (mixed radix)."""
    values = {}
    for name, axis in reversed(axes.items()):
        index, k = divmod(index, len(axis))
        values[name] = axis[k]
    return {name: values[name] for name in axes}


def _axes(specs: Sequence[str], max_values: int) -> dict[str, list[int | float]]:
    axes: dict[str, list[int | float]] = {}
    for spec in specs:
        name, values = _parse_axis(spec, max_values)
        if name in axes:
            raise ValueError(f"parameter {name!r} appears twice in the grid; give it once")
        axes[name] = values
    if not axes:
        raise ValueError("the grid is empty; give at least one -g name=start:stop:step")
    return axes


def _size(axes: dict[str, list[int | float]]) -> int:
    return math.prod(len(v) for v in axes.values())


def _coerced(axes: dict[str, list[int | float]], strategy: Strategy) -> dict[str, list]:
    """Each axis's values as the strategy's parameter takes them (an unknown parameter or a
    value out of its bounds is a ValueError naming it)."""
    by_name = {p.name: p for p in strategy.params}
    coerced: dict[str, list[int | float]] = {}
    for name, values in axes.items():
        if name not in by_name:
            known = ", ".join(by_name) or "none"
            raise ValueError(f"unknown parameter {name!r} for strategy {strategy.name!r}; expected: {known}")
        try:
            coerced[name] = [by_name[name].coerce(v) for v in values]
        except (TypeError, ValueError) as err:
            bad = next(v for v in values if not _coerces(by_name[name], v))
            raise ValueError(f"grid value {name}={bad}: {err}") from None
    return coerced


def _coerces(param, value) -> bool:
    try:
        param.coerce(value)
    except (TypeError, ValueError):
        return False
    return True


def _parse_axis(spec: str, max_values: int = MAX_COMBINATIONS) -> tuple[str, list[int | float]]:
    name, sep, body = str(spec).partition("=")
    name, body = name.strip(), body.strip()
    if not sep or not name or not body:
        raise ValueError(
            f"grid {spec!r} must look like name=start:stop:step or name=a,b,c (e.g. fast=5:50:5)"
        )
    if ":" in body:
        parts = body.split(":")
        if len(parts) != 3:
            raise ValueError(f"grid {spec!r}: a range is start:stop:step, e.g. {name}=5:50:5")
        start, stop, step = (_number(spec, p) for p in parts)
        if step <= 0:
            raise ValueError(f"grid {spec!r}: the step must be positive")
        if stop < start:
            raise ValueError(f"grid {spec!r}: stop ({stop}) is below start ({start})")
        try:
            count = int((stop - start) / step) + 1
        except ArithmeticError:  # the quotient overflows Decimal's exponent range
            raise ValueError(
                f"grid {spec!r} has more than {max_values:,} values; use a larger step"
            ) from None
        if count > max_values:
            raise ValueError(
                f"grid {spec!r} has {count:,} values, more than {max_values:,}; use a larger step"
            )
        decimals = [start + k * step for k in range(count)]
        is_int = all(p == p.to_integral_value() for p in (start, step))
    else:
        decimals = [_number(spec, p) for p in body.split(",")]
        is_int = all(d == d.to_integral_value() and "." not in str(d) and "e" not in str(d).lower()
                     for d in decimals)
        if len(set(decimals)) != len(decimals):
            raise ValueError(f"grid {spec!r} lists a value twice")
    values = [int(d) if is_int else float(d) for d in decimals]
    return name, values


def _number(spec: str, text: str) -> Decimal:
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"grid {spec!r}: {text.strip()!r} is not a number") from None
    if not d.is_finite():
        raise ValueError(f"grid {spec!r}: {text.strip()!r} is not a finite number")
    # Far beyond any parameter's bounds, and the arithmetic on such numbers (a million-digit
    # integer from 1e999999) would be slow or overflow: refuse before anything is expanded.
    if d and d.adjusted() > MAX_MAGNITUDE_DIGITS:
        raise ValueError(f"grid {spec!r}: {text.strip()!r} is too large a number")
    return d


def _metric_index(name: str) -> int:
    try:
        return METRIC_KEYS.index(name)
    except ValueError:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRIC_KEYS)}") from None
