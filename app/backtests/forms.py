"""The backtest and sweep forms: what they show (strategies by display name, series with their
date ranges, sizing options) and how a submitted form is nested like the API's JSON.

Nothing here validates: a submitted form goes through ``quantgrid.jobs.spec`` as the API's JSON
does, so both give the same messages; the ranges and bounds here only prefill and guide.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from app import metric_formats
from app.extensions import backend
from app.strategies.views import saved_choices
from engine import strategies
from engine.metrics import METRIC_KEYS
from engine.simulator import DIRECTIONS, FILLS
from quantgrid.jobs.spec import SETTINGS_DEFAULTS, series_choices

# Each sizing (engine.simulator.SIZINGS) as the form offers it: its label, and the label of the
# size it needs (None: it takes none, so the size field is hidden).
SIZING_CHOICES: dict[str, tuple[str, str | None]] = {
    "all_in": ("All in: the whole equity", None),
    "equity_fraction": ("A fraction of the equity", "Fraction of the equity per trade, in (0, 1]"),
    "cash": ("A fixed amount of cash", "Cash per trade (at most the equity)"),
    "units": ("A fixed number of units", "Units per trade (whole units unless fractional)"),
}


def form_data(form) -> dict:
    """Nest a submitted form (p.<strategy>.<param>, settings.<name>) like the API's JSON."""
    return {**form_common(form), "params": strategy_fields(form, "p")}


def sweep_form_data(form) -> dict:
    """Nest a submitted sweep form (g.<strategy>.<param> for the grid) like the API's JSON."""
    return {**form_common(form), "metric": form.get("metric", "sharpe"),
            "grid": strategy_fields(form, "g"), "search": form.get("search", "grid"),
            "trials": _whole_or_text(form.get("trials", "")),
            "seed": _whole_or_text(form.get("seed", ""))}


def _whole_or_text(value: str) -> int | str:
    """A form field's digits as the whole number the API would send; anything else as typed,
    for the spec to refuse with its message."""
    return int(value) if value.strip().isdigit() else value


def form_common(form) -> dict:
    """The fields a backtest form and a sweep form share, nested like the API's JSON."""
    return {
        "strategy": form.get("strategy", ""),
        "symbol": form.get("symbol", ""),
        "timeframe": form.get("timeframe", ""),
        "start": form.get("start", ""),
        "end": form.get("end", ""),
        "settings": {k[9:]: v for k, v in form.items() if k.startswith("settings.")}
        | {"fractional": form.get("settings.fractional", "")},
    }


def strategy_fields(form, kind: str) -> dict:
    """The non-empty ``<kind>.<strategy>.<name>`` fields of the chosen strategy, by name."""
    prefix = f"{kind}.{form.get('strategy', '')}."
    return {k[len(prefix):]: v for k, v in form.items() if k.startswith(prefix) and v}


def values_from_job(job) -> dict:
    """A job's inputs as the form's values ("Run again")."""
    return {
        "strategy": job.strategy, "symbol": job.symbol, "timeframe": job.timeframe,
        "start": job.start_at.strftime("%Y-%m-%d"), "end": job.end_at.strftime("%Y-%m-%d"),
        "params": dict(job.params or {}), "settings": dict(job.settings or {}),
    }


def date_bounds(first_ns: int, last_ns: int) -> dict[str, list[str]]:
    """The date inputs' ``[min, max]`` for a series whose bars run from ``first_ns`` to ``last_ns``.

    The end is exclusive (a job reads ``[start, end)``), so the end that takes the last bar is
    the day after it; the prefilled range is the whole series: start's min, end's max.
    """
    first, last = _day(first_ns), _day(last_ns)
    return {"start": [first.isoformat(), last.isoformat()],
            "end": [(first + timedelta(days=1)).isoformat(),
                    (last + timedelta(days=1)).isoformat()]}


def _day(ns: int) -> date:
    return datetime.fromtimestamp(ns / 1e9, UTC).date()


def series_ranges(series: dict[str, dict[str, Any]]) -> dict[str, dict[str, dict]]:
    """``{symbol: {timeframe: date_bounds(...)}}`` for every series the forms offer."""
    return {sym: {tf: date_bounds(*entry["ranges"][tf]) for tf in entry["timeframes"]}
            for sym, entry in series.items()}


def form_context(values: dict | None = None, errors: dict | None = None, message=None) -> dict:
    """What the backtest and sweep forms show: the built-ins then the user's saved strategies
    (each with its parameters, for their fields), the series with their date ranges, the
    settings' choices, and the submitted values (start and end default to the whole series)."""
    values = dict(values or {})
    series = series_choices(backend.inventory)
    ranges = series_ranges(series)
    symbol = values.get("symbol")
    if symbol not in ranges:
        symbol = min(ranges, default=None)
    timeframe = None
    if symbol is not None:
        offered = series[symbol]["timeframes"]
        timeframe = values.get("timeframe") if values.get("timeframe") in offered else offered[0]
    bounds = ranges[symbol][timeframe] if symbol is not None else None
    if bounds is not None and not errors:  # a form sent back keeps what the user sent
        values["start"] = values.get("start") or bounds["start"][0]
        values["end"] = values.get("end") or bounds["end"][1]
    return {
        "strategies": [{**s.schema(), "saved": False} for s in strategies.available().values()]
        + saved_choices(),
        "series": series,
        "ranges": ranges,
        "chosen": {"symbol": symbol, "timeframe": timeframe},
        "bounds": bounds,
        "values": values,
        "errors": errors or {},
        "message": message,
        "settings_defaults": SETTINGS_DEFAULTS,
        "sizings": SIZING_CHOICES,
        "directions": DIRECTIONS,
        "fills": FILLS,
        "metric_choices": [(k, metric_formats.info(k).name) for k in METRIC_KEYS],
    }

