"""What a job asks for, checked once: a submitted backtest or sweep (a form or a JSON body)
turned into a ``JobSpec`` (and, for a sweep, its expanded grid).

This is the one parse-and-validate path: the forms, the API and the CLI call it, and the job
service and the data layer take what it returns as it is. Every mistake is reported by field
(``params.fast``, ``settings.cash``, ``grid.slow``, ...), so a form and the API say the same.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from engine.metrics import METRIC_KEYS
from engine.simulator import SimConfig
from engine.strategies import Strategy
from engine.sweep import ParamGrid, parse_grid, sample_grid
from quantgrid.candles.store import finest_divisor
from quantgrid.db.backtests import JobSpec
from quantgrid.errors import InvalidInput
from quantgrid.jobs.strategies import Chosen, InvalidStrategySource, builtin
from quantgrid.timeframes import OFFERED, Timeframe

SETTINGS_DEFAULTS = dataclasses.asdict(SimConfig())
_FLOAT_SETTINGS = ("cash", "commission", "fixed_fee", "slippage")
_OPTIONAL_FLOAT_SETTINGS = ("size", "stop_loss", "take_profit", "trailing_stop")
_CHOICE_SETTINGS = ("sizing", "direction", "fill")
# The most combinations (before invalid ones are dropped) a web request may expand: a grid is
# built in the request, so this bounds its time and memory (about a second and 30 MB) whatever
# is posted. Users' quotas (QUOTA_MAX_SWEEP_SIZE, 50,000 by default) apply after dropping.
MAX_GRID_COMBINATIONS = 250_000
MAX_SEED = 2**53 - 1  # a random search's seed: the largest whole number JSON carries exactly everywhere
# Resolves the strategy a request names (see quantgrid.jobs.strategies).
Chooser = Callable[[Mapping[str, Any]], Chosen]


class FormInvalid(InvalidInput):
    """Some fields are not valid."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        name, message = next(iter(fields.items()))
        super().__init__(f"{name}: {message}" if len(fields) == 1 else
                         f"{len(fields)} fields are not valid; {name}: {message}")


def series_choices(inventory) -> dict[str, dict[str, Any]]:
    """``{symbol: {"timeframes": [...], "first": ns, "last": ns, "ranges": {tf: (first, last)}}}``
    from what the store holds (``inventory``: a ``quantgrid.candles.inventory.Inventory``, cached
    per process). A timeframe that is not stored spans what the store resamples it from."""
    out: dict[str, dict[str, Any]] = {}
    for info in inventory.series():
        entry = out.setdefault(
            info.symbol, {"stored": [], "first": info.first, "last": info.last, "ranges": {}}
        )
        entry["stored"].append(info.timeframe)
        entry["first"] = min(entry["first"], info.first)
        entry["last"] = max(entry["last"], info.last)
        entry["ranges"][info.timeframe] = (info.first, info.last)
    for entry in out.values():
        finest = min(Timeframe.parse(tf) for tf in entry["stored"])
        offered = {tf for tf in OFFERED if finest.divides(Timeframe.parse(tf))}
        offered.update(entry["stored"])
        entry["timeframes"] = sorted(offered, key=Timeframe.parse)
        by_tf = {Timeframe.parse(tf): span for tf, span in entry["ranges"].items()}
        for tf in entry["timeframes"]:
            if tf not in entry["ranges"]:
                source = finest_divisor(Timeframe.parse(tf), entry["stored"])
                entry["ranges"][tf] = by_tf.get(source, (entry["first"], entry["last"]))
    return out


def parse_when(value: Any, field: str, errors: dict[str, str]) -> datetime | None:
    if value in (None, ""):
        errors[field] = "give a date (YYYY-MM-DD) or a date and time"
        return None
    if not isinstance(value, str):
        errors[field] = f"must be a date string like 2024-01-31, got {value!r}"
        return None
    try:
        if len(value.strip()) == 10:
            parsed = datetime.combine(date.fromisoformat(value.strip()), datetime.min.time())
        else:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        errors[field] = f"{value!r} is not a date; write it like 2024-01-31 or 2024-01-31T12:00Z"
        return None
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is a year 0 in UTC
        errors[field] = f"{value!r} is out of range once converted to UTC; give a year from 1 to 9999"
        return None


def parse_settings(raw: Any, errors: dict[str, str]) -> dict[str, Any]:
    """Check the simulator settings; return them complete (defaults filled)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        errors["settings"] = "must be an object of simulator settings"
        return dict(SETTINGS_DEFAULTS)
    unknown = sorted(set(raw) - set(SETTINGS_DEFAULTS))
    if unknown:
        errors[f"settings.{unknown[0]}"] = (
            f"unknown setting; known: {', '.join(SETTINGS_DEFAULTS)}"
        )
    out = dict(SETTINGS_DEFAULTS)
    for name in _FLOAT_SETTINGS + _OPTIONAL_FLOAT_SETTINGS:
        if name not in raw:
            continue
        value = raw[name]
        if value in (None, "") and name in _OPTIONAL_FLOAT_SETTINGS:
            out[name] = None
            continue
        number = _number(value)
        if number is None:
            errors[f"settings.{name}"] = f"must be a number, got {value!r}"
        else:
            out[name] = number
    for name in _CHOICE_SETTINGS:
        if name in raw and raw[name] not in (None, ""):
            out[name] = raw[name]
    if "fractional" in raw:
        value = raw["fractional"]
        if isinstance(value, bool):
            out["fractional"] = value
        elif value in ("on", "true", "1", "yes"):
            out["fractional"] = True
        elif value in ("", "off", "false", "0", "no"):
            out["fractional"] = False
        else:
            errors["settings.fractional"] = f"must be true or false, got {value!r}"
    if not any(k.startswith("settings") for k in errors):
        try:
            SimConfig(**out)
        except (TypeError, ValueError) as err:
            message = str(err)
            name = next((n for n in SETTINGS_DEFAULTS if message.startswith(n)), None)
            errors[f"settings.{name}" if name else "settings"] = message
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out and out not in (float("inf"), float("-inf")) else None


def _common(data: Mapping[str, Any], inventory, errors: dict[str, str], choose: Chooser):
    """Check what a backtest and a sweep share; a strategy source with mistakes raises
    InvalidStrategySource (its problems by line and column) rather than a field error."""
    chosen = None
    try:
        chosen = choose(data)
    except InvalidStrategySource:
        raise
    except InvalidInput as err:
        errors["source" if data.get("source") is not None else "strategy"] = err.message
    where, unknown = _series_fields(data, series_choices(inventory))
    if unknown:  # the cached inventory may predate an import: ask the store before refusing
        inventory.invalidate()
        where, _ = _series_fields(data, series_choices(inventory))
    symbol, timeframe, start, end, where_errors = where
    errors.update(where_errors)
    settings = parse_settings(data.get("settings"), errors)
    return chosen, symbol, timeframe, start, end, settings


def _spec(chosen: Chosen, symbol, timeframe, start, end, params, settings) -> JobSpec:
    return JobSpec(chosen.strategy.name, symbol, timeframe, start, end, params, settings,
                   strategy_version_id=chosen.version_id, source=chosen.source,
                   source_hash=chosen.source_hash)  # fmt: skip


def _series_fields(data: Mapping[str, Any], series: dict[str, dict[str, Any]]):
    """Check symbol, timeframe and range against ``series``; return them with their errors, and
    whether a refusal rests on the series (an unknown symbol, timeframe or range)."""
    errors: dict[str, str] = {}
    symbol, timeframe = data.get("symbol"), data.get("timeframe")
    known_symbol = isinstance(symbol, str) and symbol in series
    unknown = False
    if not isinstance(symbol, str) or not symbol:
        errors["symbol"] = "choose a symbol"
    elif symbol not in series:
        known = ", ".join(sorted(series)) or "none stored yet"
        errors["symbol"] = f"the candle store holds no {symbol!r}; choose one of: {known}"
        unknown = True
    if not isinstance(timeframe, str) or not timeframe:
        errors["timeframe"] = "choose a timeframe"
    elif known_symbol and timeframe not in series[symbol]["timeframes"]:
        errors["timeframe"] = (
            f"{symbol} is available at {', '.join(series[symbol]['timeframes'])}, not {timeframe!r}"
        )
        unknown = True
    start = parse_when(data.get("start"), "start", errors)
    end = parse_when(data.get("end"), "end", errors)
    if start and end:
        if start >= end:
            errors["end"] = "the end must be after the start"
        elif known_symbol:
            entry = series[symbol]
            known_tf = "timeframe" not in errors
            first, last = (entry["ranges"][timeframe] if known_tf
                           else (entry["first"], entry["last"]))  # fmt: skip
            first = datetime.fromtimestamp(first / 1e9, UTC)
            last = datetime.fromtimestamp(last / 1e9, UTC)
            if end <= first or start > last:
                which = f"{symbol} {timeframe}" if known_tf else symbol
                errors["start"] = (
                    f"{which} has candles from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}"
                    " UTC only; choose a start and an end in that range"
                )
                unknown = True
    return (symbol, timeframe, start, end, errors), unknown


def backtest_spec(data: Mapping[str, Any], inventory, choose: Chooser = builtin) -> JobSpec:
    """Check a backtest request; raise FormInvalid with a message per bad field.

    ``choose`` resolves the strategy the request names (built-ins only by default; the web app
    passes the user's ``StrategyService.chooser``, which also knows saved and inline ones).
    """
    if not isinstance(data, Mapping):
        raise InvalidInput("the request body must be a JSON object")
    errors: dict[str, str] = {}
    chosen, symbol, timeframe, start, end, settings = _common(data, inventory, errors, choose)
    strategy = chosen.strategy if chosen is not None else None
    params = data.get("params")
    if params is None:  # null or absent: the strategy's defaults (false or "" are refused)
        params = {}
    checked: dict[str, Any] = {}
    if not isinstance(params, Mapping):
        errors["params"] = "must be an object of parameter values"
    elif strategy is not None:
        for p in strategy.params:
            if p.name in params and params[p.name] not in (None, ""):
                try:
                    checked[p.name] = p.coerce(params[p.name])
                except ValueError as err:
                    errors[f"params.{p.name}"] = str(err)
        unknown = sorted(set(params) - {p.name for p in strategy.params})
        if unknown:
            errors[f"params.{unknown[0]}"] = f"unknown parameter for {strategy.name}"
        if not errors:
            try:
                checked = strategy.validate(checked)
            except ValueError as err:
                bad = next((a for a, _b in strategy.constraints if repr(a) in str(err)), None)
                errors[f"params.{bad}" if bad else "params"] = str(err)
    if errors:
        raise FormInvalid(errors)
    return _spec(chosen, symbol, timeframe, start, end, checked, settings)


def grid_specs(grid: Mapping[str, Any], errors: dict[str, str]) -> list[str]:
    """Turn ``{name: "5:50:5" | "5,10" | [5, 10] | 7}`` into parse_grid's ``name=...`` specs."""
    specs = []
    for name, value in grid.items():
        if isinstance(value, list) and value and all(_number(v) is not None for v in value):
            specs.append(f"{name}={','.join(str(v) for v in value)}")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            specs.append(f"{name}={value}")
        elif isinstance(value, str) and value.strip():
            specs.append(f"{name}={value.strip()}")
        else:
            errors[f"grid.{name}"] = (
                "give a range start:stop:step (5:50:5), a list (5,10,20) or a number"
            )
    return specs


@dataclass(frozen=True)
class SweepRequest:
    """A checked sweep: the shared spec (no parameters), the grid as submitted (``name=...``
    specs), its combinations (the whole grid, or the random search's draws), the metric that
    picks the best, and how the combinations were chosen (``search``: its name, and for a
    random search the trials and the seed, so that it can be drawn again)."""

    spec: JobSpec
    grid: list[str]
    combinations: ParamGrid
    metric: str
    search: dict[str, Any] = dataclasses.field(default_factory=lambda: {"method": "grid"})


def sweep_request(data: Mapping[str, Any], inventory, choose: Chooser = builtin) -> SweepRequest:
    """Check a sweep request and expand its grid (once: the service takes it as it is)."""
    if not isinstance(data, Mapping):
        raise InvalidInput("the request body must be a JSON object")
    errors: dict[str, str] = {}
    chosen, symbol, timeframe, start, end, settings = _common(data, inventory, errors, choose)
    strategy = chosen.strategy if chosen is not None else None
    grid = data.get("grid")
    combos, specs = None, []
    search = search_method(data, errors)
    if not isinstance(grid, Mapping) or not grid:
        errors["grid"] = "give at least one parameter as a range (5:50:5) or a list (5,10,20)"
    elif strategy is not None:
        specs = grid_specs(grid, errors)
        combos = expand_grid(strategy, specs, errors, search)
    metric = data.get("metric", "sharpe")
    if not isinstance(metric, str) or metric not in METRIC_KEYS:
        errors["metric"] = f"unknown metric {metric!r}; choose one of {', '.join(METRIC_KEYS)}"
    if errors:
        raise FormInvalid(errors)
    spec = _spec(chosen, symbol, timeframe, start, end, {}, settings)
    return SweepRequest(spec, specs, combos, metric, search)


def search_method(data: Mapping[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """How to choose a sweep's combinations: ``{"method": "grid"}`` (all of them, the default)
    or ``{"method": "random", "trials": N, "seed": S}`` (N drawn; a seed is chosen and kept
    when none is given, so that every random search can be drawn again)."""
    method = data.get("search", "grid")
    if method in (None, "", "grid"):
        for name in ("trials", "seed"):
            if data.get(name) not in (None, ""):
                errors[name] = "only a random search takes this; set search to random"
        return {"method": "grid"}
    if method != "random":
        errors["search"] = f"unknown search {method!r}; choose grid or random"
        return {"method": "grid"}
    trials = _whole(data.get("trials"), "trials", 1, MAX_GRID_COMBINATIONS, errors)
    seed = data.get("seed")
    seed = secrets.randbelow(MAX_SEED + 1) if seed in (None, "") else _whole(
        seed, "seed", 0, MAX_SEED, errors)  # fmt: skip
    return {"method": "random", "trials": trials, "seed": seed}


def _whole(value: Any, field: str, low: int, high: int, errors: dict[str, str]) -> int:
    """A whole number from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors[field] = f"give a whole number from {low:,} to {high:,}"
        return low
    return value


def expand_grid(strategy: Strategy | str, specs: list[str], errors: dict[str, str],
                search: Mapping[str, Any] | None = None):  # fmt: skip
    """The grid's combinations with the strategy's checks (all of them, or a random search's
    draws); record a field error and return None if bad."""
    if errors:
        return None
    try:
        if search is not None and search["method"] == "random":
            return sample_grid(specs, strategy, search["trials"], search["seed"],
                               max_values=MAX_GRID_COMBINATIONS)  # fmt: skip
        return parse_grid(specs, strategy, max_combinations=MAX_GRID_COMBINATIONS)
    except ValueError as err:
        message = str(err)
        names = [s.partition("=")[0] for s in specs]
        name = next((n for n in names if f"{n}=" in message or repr(n) in message), None)
        errors[f"grid.{name}" if name else "grid"] = message
        return None


def sim_config(settings: dict) -> SimConfig:
    """Build the simulator configuration from a job's settings; bad settings are InvalidInput."""
    try:
        return SimConfig(**settings)
    except TypeError as err:
        raise InvalidInput(f"unknown simulator setting: {err}") from None
    except ValueError as err:
        raise InvalidInput(str(err)) from None
