"""The OpenAPI 3.0 document of /api/v1, kept beside the routes it describes.

A test checks that every route of the blueprint is described here and that every described path
exists; schemathesis checks live responses against the schemas.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from app import trade_table
from engine.metrics import METRIC_KEYS
from engine.research.montecarlo import MAX_VALUES
from engine.simulator import EXIT_REASONS
from quantgrid.db.backtests import MAX_PAGE
from quantgrid.db.models import MAX_ID, Role, Status
from quantgrid.jobs import research
from quantgrid.jobs.spec import MAX_GRID_COMBINATIONS, MAX_SEED

_STATUS = {"type": "string", "enum": [s.value for s in Status]}
_NSTR = {"type": "string", "nullable": True}
_NUM = {"type": "number"}
_NNUM = {"type": "number", "nullable": True}
# How a sweep's combinations were chosen (quantgrid.jobs.spec.search_method).
_SEARCH = {"type": "object", "required": ["method"],
           "properties": {"method": {"type": "string", "enum": ["grid", "random"]},
                          "trials": {"type": "integer"}, "seed": {"type": "integer"}}}


def _choice(*values: str) -> dict:
    """A setting picked from ``values``; null (or omitting it) means the default."""
    return {"type": "string", "nullable": True, "enum": [*values, None]}

_DATE = {"type": "string", "description": "YYYY-MM-DD or an ISO 8601 date-time (UTC if no zone)",
         "example": "2020-01-01"}
# The demo candles (`quantgrid candles generate`) start on 2020-01-01: examples that run there.
_END_DATE = {**_DATE, "example": "2020-03-01"}


_INT = {"type": "integer"}
_unavailable = {"type": "object", "required": ["available", "reason"],
                "additionalProperties": False,
                "properties": {"available": {"type": "boolean", "enum": [False]},
                               "reason": {"type": "string"}}}


def _statistic(description: str, properties: dict) -> dict:
    """An available statistic: ``available`` true and every one of ``properties``."""
    return {"type": "object", "description": description, "additionalProperties": False,
            "required": ["available", *properties],
            "properties": {"available": {"type": "boolean", "enum": [True]}, **properties}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# A research statistic of a backtest that its stored data cannot give (quantgrid.errors.Unprocessable).
_UNPROCESSABLE = _json(_ref("Error"), "The backtest cannot give this statistic (no closed"
                                      " trades, too short a range, a bankrupt equity curve)")
_ERRORS = {
    "400": _json(_ref("Error"), "The request is not valid"),
    "401": _json(_ref("Error"), "No valid token or session"),
    "403": _json(_ref("Error"), "Not allowed to you (candle uploads: admins and the data role)"),
    "404": _json(_ref("Error"), "No such object (or not yours)"),
    "409": _json(_ref("Error"), "It conflicts with what is stored (a name taken)"),
    "413": _json(_ref("Error"), "The body is larger than UPLOAD_MAX_MB"),
    "422": _UNPROCESSABLE,
    "429": _json(_ref("Error"), "A quota would be exceeded"),
    "503": _json(_ref("Error"), "A service is unavailable; see Retry-After"),
    "default": _json(_ref("Error"), "Another error"),
}
_PAGE_PARAMS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                 "maximum": MAX_PAGE, "default": 20}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                  "maximum": 10**9, "default": 0}},
]

# NGINX sets it; a client that retries a submission itself may send its own.
_REQUEST_ID = {"name": "X-Request-Id", "in": "header", "schema": {"type": "string"},
               "description": "Idempotency key: a repeated submission with the same one returns"
                              " the job the first created (201) instead of a new job."}


def _trade_query() -> list[dict]:
    """The query of /backtests/{id}/trades/page (app.trade_table.parse_query)."""
    def arg(name, schema, description):
        return {"name": name, "in": "query", "schema": schema, "description": description}

    return [
        arg("page", {"type": "integer", "minimum": 1, "maximum": trade_table.MAX_PAGE,
                     "default": 1}, "Page number; past the last page: no items"),
        arg("per_page", {"type": "integer", "minimum": 1, "maximum": trade_table.MAX_PER_PAGE,
                         "default": trade_table.PER_PAGE}, "Trades per page"),
        arg("sort", {"type": "string", "enum": list(trade_table.SORT_KEYS), "default": "number"},
            "The column to sort by (number: the order the trades were opened)"),
        arg("order", {"type": "string", "enum": list(trade_table.ORDERS), "default": "asc"},
            "Sort order; missing values come last either way"),
        arg("side", {"type": "string", "enum": list(trade_table.SIDES)}, "Only long or short"),
        arg("exit_reason", {"type": "string", "enum": list(EXIT_REASONS)},
            "Only trades that ended so (end_of_data: still open at the end)"),
    ]


def _montecarlo_query() -> list[dict]:
    """The query of /backtests/{id}/montecarlo (quantgrid.jobs.research)."""
    def arg(name, low, high, default, description):
        return {"name": name, "in": "query", "description": description,
                "schema": {"type": "integer", "minimum": low, "maximum": high,
                           "default": default}}

    return [
        arg("resamples", research.MIN_RESAMPLES, research.MAX_RESAMPLES,
            research.DEFAULT_RESAMPLES, "Resampled trade sequences; with many trades at most"
            f" {MAX_VALUES:,} / (trades + 1) (400 above that)"),
        arg("seed", 0, MAX_SEED, research.DEFAULT_SEED,
            "Seed of the random draws: the same seed gives the same result"),
        arg("block", 1, research.MAX_BLOCK, research.DEFAULT_BLOCK,
            "Trades drawn together in a circular block (1: the plain bootstrap); at most the"
            " number of closed trades (400 above it)"),
    ]


_BENCHMARK = {"name": "benchmark", "in": "query",
              "description": "A stored symbol with the backtest's timeframe; omitted: the"
                             " backtest's own symbol (buy-and-hold of what it traded)",
              "schema": {"type": "string", "example": "DEMO"}}


def _id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


_NAME = {"name": "name", "in": "path", "required": True,
         "schema": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,63}$"}}
_OWNER = {"name": "owner", "in": "query", "description": "Admins: another user's id",
          "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def _op(summary: str, ok: dict, *, params=(), body: str | None = None, status="200",
        errors=("400", "401", "404", "503")) -> dict:
    op: dict[str, Any] = {"summary": summary, "responses": {status: ok}}
    for code in (*errors, "default"):
        op["responses"][code] = _ERRORS[code]
    if params:
        op["parameters"] = list(params)
    if body:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": _ref(body)}}}
    return op


def _page_of(item: str) -> dict:
    return {"type": "object", "required": ["items", "total", "limit", "offset"],
            "properties": {"items": {"type": "array", "items": _ref(item)},
                           "total": {"type": "integer"}, "limit": {"type": "integer"},
                           "offset": {"type": "integer"}}}


def _schemas() -> dict:
    percentiles = {"type": "object", "required": ["p5", "p50", "p95"],
                    "properties": {k: _NNUM for k in ("p5", "p50", "p95")}}
    job_common = {
        "id": {"type": "integer"}, "status": _STATUS, "strategy": {"type": "string"},
        "symbol": {"type": "string"}, "timeframe": {"type": "string"},
        "start": {"type": "string"}, "end": {"type": "string"}, "settings": {"type": "object"},
        "created_at": _NSTR, "started_at": _NSTR, "finished_at": _NSTR, "error": _NSTR,
        "progress": _NUM,
    }
    settings = {
        "type": "object", "additionalProperties": False, "nullable": True,
        "description": "Simulator settings (engine.simulator.SimConfig); omitted ones (or all,"
                       " when null) default.",
        "properties": {
            "cash": {"type": "number", "example": 10000}, "commission": _NUM,
            "fixed_fee": _NUM, "slippage": _NUM,
            "sizing": _choice("all_in", "equity_fraction", "cash", "units"),
            "size": _NNUM, "fractional": {"type": "boolean"},
            "direction": _choice("both", "long", "short"),
            "fill": _choice("next_open", "close"),
            "stop_loss": _NNUM, "take_profit": _NNUM, "trailing_stop": _NNUM,
        },
    }
    request_common = {
        "strategy": {"type": "string", "example": "sma_cross",
                     "description": "A built-in's name or one of your saved strategies"},
        "strategy_version": {"type": "integer", "minimum": 1, "maximum": MAX_ID, "nullable": True,
                             "description": "A saved strategy's version; omitted: the latest"},
        "source": {"type": "string", "nullable": True,
                   "description": "A strategy's source, inline (instead of strategy)"},
        "symbol": {"type": "string", "example": "DEMO"},
        "timeframe": {"type": "string", "example": "1h"},
        "start": _DATE, "end": _END_DATE, "settings": settings,
    }
    metrics = {"type": "object", "additionalProperties": {"type": "number", "nullable": True}}
    return {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                           "fields": {"type": "object",
                                      "additionalProperties": {"type": "string"}},
                           "bad_lines": {"type": "integer",
                                         "description": "A refused CSV: its bad lines in all"},
                           "lines": {"type": "array", "description": "A refused CSV's first bad"
                                     " lines, each with its first problem", "items": {
                               "type": "object", "required": ["line", "message"],
                               "properties": {"line": {"type": "integer"},
                                              "message": {"type": "string"}}}},
                           "problems": {"type": "array", "items": {
                               "type": "object", "required": ["line", "column", "message"],
                               "properties": {"line": {"type": "integer"},
                                              "column": {"type": "integer"},
                                              "message": {"type": "string"}}}}}}}},
        "Me": {"type": "object", "required": ["id", "username", "role"],
               "properties": {"id": {"type": "integer"}, "username": {"type": "string"},
                              "role": {"type": "string",
                                                       "enum": [r.value for r in Role]}}},
        "Backtest": {"type": "object", "required": ["kind", "id", "status", "params"],
                     "properties": {**job_common, "kind": {"type": "string", "enum": ["backtest"]},
                                    "params": {"type": "object"}, "attempts": {"type": "integer"},
                                    "worker": _NSTR, "sweep_id": {"type": "integer",
                                                                  "nullable": True},
                                    "result_fingerprint": _NSTR}},
        "Sweep": {"type": "object", "required": ["kind", "id", "status", "total"],
                  "properties": {**job_common, "kind": {"type": "string", "enum": ["sweep"]},
                                 "total": {"type": "integer"}, "counts": {
                                     "type": "object",
                                     "additionalProperties": {"type": "integer"}},
                                 "metric": {"type": "string"}, "best_params": {
                                     "type": "object", "nullable": True},
                                 "best_value": _NNUM, "search": _SEARCH}},
        "JobLine": {"type": "object",
                    "required": ["kind", "id", "status", "progress", "created_at"],
                    "properties": {"kind": {"type": "string", "enum": ["backtest", "sweep"]},
                                   "id": {"type": "integer"}, "status": _STATUS,
                                   "strategy": {"type": "string"}, "symbol": {"type": "string"},
                                   "timeframe": {"type": "string"},
                                   "created_at": {"type": "string"}, "progress": _NUM,
                                   "error": _NSTR}},
        "BacktestPage": _page_of("Backtest"),
        "SweepPage": _page_of("Sweep"),
        "JobPage": _page_of("JobLine"),
        "BacktestRequest": {
            "type": "object", "required": ["symbol", "timeframe", "start", "end"],
            "properties": {**request_common, "params": {
                "type": "object", "example": {"fast": 10, "slow": 30}, "nullable": True,
                "description": "Omitted ones (or all, when null) take the strategy's defaults.",
                "additionalProperties": {"type": "number"}}}},
        "SweepRequest": {
            "type": "object",
            "required": ["symbol", "timeframe", "start", "end", "grid"],
            "properties": {**request_common,
                           "search": {"type": "string", "enum": ["grid", "random"],
                                      "default": "grid", "nullable": True,
                                      "description": "grid: every combination; random: `trials`"
                                                     " combinations drawn from the grid's space"
                                                     " (seeded), which may be far larger than"
                                                     " the grid quota"},
                           "trials": {"type": "integer", "minimum": 1,
                                      "maximum": MAX_GRID_COMBINATIONS, "nullable": True,
                                      "description": "A random search's number of combinations"},
                           "seed": {"type": "integer", "minimum": 0, "maximum": MAX_SEED,
                                    "nullable": True,
                                    "description": "A random search's seed; omitted: one is"
                                                   " chosen and shown in the sweep's `search`"},
                           "metric": {"type": "string", "enum": list(METRIC_KEYS),
                                      "default": "sharpe",
                                      "description": "The metric that ranks the grid;"
                                                     " omitted: sharpe"},
                           "grid": {"type": "object", "example": {"fast": "5:20:5",
                                                                  "slow": [30, 50]},
                                    "description": "Per parameter: a range 'start:stop:step',"
                                                   " a list 'a,b,c' or [a, b, c], or a number",
                                    "additionalProperties": {"oneOf": [
                                        {"type": "string"}, {"type": "number"},
                                        {"type": "array", "items": {"type": "number"}}]}}}},
        "SweepPreview": {"type": "object",
                         "required": ["combinations", "dropped", "max_sweep_size", "allowed"],
                         "properties": {"combinations": {"type": "integer"},
                                        "dropped": {"type": "integer"},
                                        "dropped_reason": _NSTR,
                                        "max_sweep_size": {"type": "integer"},
                                        "allowed": {"type": "boolean"},
                                        "grid": {"type": "array", "items": {"type": "string"}},
                                        "metric": {"type": "string"}, "search": _SEARCH}},
        "Equity": {"type": "object", "required": ["time", "equity", "drawdown_pct"],
                   "description": "time is Unix seconds (UTC)",
                   "properties": {"time": {"type": "array", "items": {"type": "integer"}},
                                  "equity": {"type": "array", "items": _NNUM},
                                  "drawdown_pct": {"type": "array", "items": _NNUM}}},
        "Trades": {"type": "object", "required": ["items"],
                   "properties": {"items": {"type": "array", "items": {"type": "object"}}}},
        "TradePage": {
            "type": "object",
            "required": ["items", "total", "all", "pages", "summary", "page", "per_page", "sort",
                         "order"],
            "properties": {
                "items": {"type": "array", "items": {
                    "type": "object", "required": ["number", "display"],
                    "description": "A stored trade with its number (1 = opened first), side,"
                                   " units (size without its sign), duration_s, and display:"
                                   " each column as the result page shows it",
                    "properties": {"number": {"type": "integer"},
                                   "side": {**_NSTR, "enum": [*trade_table.SIDES, None]},
                                   "units": _NNUM, "duration_s": _NNUM,
                                   "display": {"type": "object",
                                               "additionalProperties": {"type": "string"}}}}},
                "total": {"type": "integer", "description": "Trades that pass the filters"},
                "all": {"type": "integer", "description": "Trades in the result"},
                "pages": {"type": "integer"}, "summary": {"type": "string"},
                "page": {"type": "integer"}, "per_page": {"type": "integer"},
                "sort": {"type": "string"}, "order": {"type": "string"},
                "side": _NSTR, "exit_reason": _NSTR}},
        "Result": {"type": "object",
                   "required": ["backtest_id", "metrics", "equity", "trades", "fingerprint"],
                   "properties": {"backtest_id": {"type": "integer"},
                                  "fingerprint": {"type": "string"},
                                  "engine_version": {"type": "string"},
                                  "candles_fingerprint": {"type": "string"},
                                  "reused": {"type": "boolean"}, "metrics": metrics,
                                  "equity": _ref("Equity"),
                                  "trades": {"type": "array", "items": {"type": "object"}}}},
        "MonteCarlo": {
            "type": "object",
            "description": "A bootstrap of the closed trades (docs/semantics.md, Research"
                           " statistics of a backtest): percentiles over the resampled equity"
                           " paths; bands[p][k] is the equity after k trades (k = 0: the"
                           " initial cash)",
            "required": ["resamples", "seed", "block", "trades", "method", "initial_cash",
                         "final_equity", "max_drawdown_pct", "bands"],
            "properties": {
                "resamples": _INT, "seed": _INT, "block": _INT,
                "trades": {"type": "integer", "description": "Closed trades resampled"},
                "method": {"type": "string", "enum": ["returns", "pnl"],
                           "description": "returns: the trades' returns compounded (all_in"
                                          " sizing); pnl: their profits added up (others)"},
                "initial_cash": _NUM,
                "final_equity": percentiles, "max_drawdown_pct": percentiles,
                "bands": {"type": "object", "required": ["p5", "p50", "p95"],
                          "properties": {k: {"type": "array", "items": _NNUM}
                                         for k in ("p5", "p50", "p95")}}}},
        "Relative": {
            "type": "object",
            "description": "Against buy-and-hold of the benchmark, from returns between the"
                           " ends of calendar periods (as the sharpe metric); alpha and"
                           " tracking_error are fractions a year; null: undefined",
            "required": ["benchmark", "timeframe", "period", "periods_per_year",
                         "observations", "alpha", "beta", "tracking_error",
                         "information_ratio"],
            "properties": {
                "benchmark": {"type": "string"}, "timeframe": {"type": "string"},
                "period": {"type": "string", "enum": ["D", "W", "M", "Y"]},
                "periods_per_year": _NUM, "observations": _INT, "alpha": _NNUM,
                "beta": _NNUM, "tracking_error": _NNUM, "information_ratio": _NNUM}},
        "Candles": {"type": "object", "required": ["time", "open", "high", "low", "close"],
                    "properties": {k: {"type": "array", "items": _NNUM}
                                   for k in ("time", "open", "high", "low", "close")}},
        "SweepResults": {"type": "object",
                         "required": ["sweep", "metrics", "items", "statistics"],
                         "properties": {"sweep": _ref("Sweep"),
                                        "statistics": _ref("SweepStatistics"),
                                        "metrics": {"type": "array",
                                                    "items": {"type": "string"}},
                                        "items": {"type": "array", "items": {
                                            "type": "object",
                                            "required": ["index", "params", "status",
                                                         "metrics"],
                                            "properties": {"index": {"type": "integer"},
                                                           "params": {"type": "object"},
                                                           "status": _STATUS,
                                                           "metrics": metrics}}}}},
        "SweepStatistics": {
            "type": "object", "required": ["deflated_sharpe", "pbo"],
            "description": "Whether the best combination is an edge or luck (docs/semantics.md,"
                           " Research statistics of a sweep); Sharpe ratios per period return,"
                           " not annualized",
            "properties": {
                "deflated_sharpe": {"oneOf": [_unavailable, _statistic(
                    "The Deflated Sharpe Ratio of the best combination by the sweep's metric",
                    {"sharpe": _NNUM, "sr0": _NNUM, "dsr": _NNUM, "trials": _INT,
                     "sharpe_variance": _NNUM, "observations": _INT, "skewness": _NNUM,
                     "kurtosis": _NNUM})]},
                "pbo": {"oneOf": [_unavailable, _statistic(
                    "The Probability of Backtest Overfitting by CSCV over blocks of the range",
                    {"pbo": _NNUM, "combinations": _INT, "blocks": _INT, "trials": _INT,
                     "logits": {"type": "object",
                                "required": ["mean", "median", "p5", "p95", "min", "max"],
                                "properties": {k: _NNUM for k in ("mean", "median", "p5",
                                                                  "p95", "min", "max")}}})]}}},
        "Strategies": {"type": "object", "required": ["items"], "properties": {"items": {
            "type": "array", "items": {"type": "object", "required": ["name", "params"],
                                       "properties": {"name": {"type": "string"},
                                                      "display_name": {"type": "string"},
                                                      "summary": {"type": "string"},
                                                      "description": {"type": "string"},
                                                      "params": {"type": "array",
                                                                 "items": {"type": "object"}},
                                                      "constraints": {
                                                          "type": "array",
                                                          "items": {"type": "object"}}}}}}},
        "StrategySource": {"type": "object", "required": ["source"], "properties": {
            "source": {"type": "string", "description": "docs/strategy-language.md"}}},
        "StrategyCreate": {"type": "object", "required": ["name", "source"], "properties": {
            "name": {"type": "string", "example": "my_cross"},
            "source": {"type": "string", "description": "docs/strategy-language.md"}}},
        "StrategyCheck": {"type": "object", "required": ["name", "params"], "properties": {
            "name": {"type": "string"}, "params": {"type": "array", "items": {"type": "object"}},
            "source_hash": {"type": "string"}}},
        "StrategyVersion": {"type": "object", "required": ["name", "version", "id", "params"],
                            "properties": {"name": _NSTR, "version": {"type": "integer"},
                                           "id": {"type": "integer"},
                                           "source_hash": {"type": "string"},
                                           "source": {"type": "string"},
                                           "params": {"type": "array",
                                                      "items": {"type": "object"}}}},
        "Imported": {"type": "object",
                     "required": ["symbol", "timeframe", "rows", "first", "last", "summary"],
                     "description": "first and last: the first and last bar, Unix seconds (UTC)",
                     "properties": {"symbol": {"type": "string"},
                                    "timeframe": {"type": "string"},
                                    "rows": {"type": "integer"}, "first": {"type": "integer"},
                                    "last": {"type": "integer"},
                                    "summary": {"type": "string"}}},
        "Symbols": {"type": "object", "required": ["items"], "properties": {"items": {
            "type": "array", "items": {"type": "object",
                                       "required": ["symbol", "timeframes"],
                                       "properties": {"symbol": {"type": "string"},
                                                      "timeframes": {"type": "array",
                                                                     "items": {"type": "string"}},
                                                      "stored": {"type": "array",
                                                                 "items": {"type": "string"}},
                                                      "first": {"type": "integer"},
                                                      "last": {"type": "integer"}}}}}},
    }


@cache
def document() -> dict:
    """Return the OpenAPI document (built once per process)."""
    bid, sid = _id("backtest_id"), _id("sweep_id")
    submit_errors = ("400", "401", "429", "503")
    return {
        "openapi": "3.0.3",
        "info": {"title": "QuantGrid API", "version": "1",
                 "description": "Submit, watch and explore backtests and sweeps. Authenticate "
                                "with 'Authorization: Bearer <token>' (create one on the "
                                "account page or with `quantgrid tokens create`)."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
        "paths": {
            "/me": {"get": _op("Who the token belongs to", _json(_ref("Me")),
                               errors=("401",))},
            "/strategies": {
                "get": _op("The built-in strategies, then your saved ones (an admin: everyone's"
                           " with all=1)", _json(_ref("Strategies")),
                           params=[{"name": "all", "in": "query",
                                    "schema": {"type": "string", "enum": ["1"]}}],
                           errors=("401", "503")),
                "post": _op("Save a new strategy (version 1); 400 lists each problem of its"
                            " source with its line and column", _json(_ref("StrategyVersion"),
                                                                      "Saved"),
                            body="StrategyCreate", status="201",
                            errors=("400", "401", "409", "429", "503")),
            },
            "/strategy-check": {"post": _op(
                "Check a strategy's source without saving it: its parameters, or 400 with"
                " each problem's line and column", _json(_ref("StrategyCheck")),
                body="StrategySource", errors=("400", "401", "429"))},
            "/strategies/{name}": {
                "get": _op("A saved strategy: its latest version with the source, and every"
                           " version", _json(_ref("StrategyVersion")),
                           params=[_NAME, _OWNER]),
                "delete": _op("Delete a saved strategy (jobs that ran it keep its source)",
                              _json({"type": "object"}), params=[_NAME],
                              errors=("401", "404", "503")),
            },
            "/strategies/{name}/versions": {"post": _op(
                "Save a new version of a strategy", _json(_ref("StrategyVersion"), "Saved"),
                params=[_NAME], body="StrategySource", status="201",
                errors=("400", "401", "404", "429", "503"))},
            "/strategies/{name}/versions/{version}": {"get": _op(
                "One version of a saved strategy", _json(_ref("StrategyVersion")),
                params=[_NAME, _id("version"),
                        _OWNER])},
            "/strategy-versions/{version_id}": {"get": _op(
                "The strategy version a job ran (saved, inline or deleted since)",
                _json(_ref("StrategyVersion")), params=[_id("version_id")])},
            "/symbols": {"get": _op("Symbols and timeframes the candle store holds",
                                    _json(_ref("Symbols")), errors=("401", "503"))},
            "/candles/{symbol}/{timeframe}": {"post": {
                **_op("Import a CSV of candles (as `quantgrid candles import`): every line is"
                      " checked before anything is stored; a bad file stores nothing and 400"
                      " lists its first bad lines. Bars stored at the same times are replaced."
                      " Admins and users with the data role only.",
                      _json(_ref("Imported"), "Stored"), status="201",
                      params=[{"name": "symbol", "in": "path", "required": True,
                               "schema": {"type": "string",
                                          "pattern": "^[A-Z0-9][A-Z0-9._-]{0,31}$"},
                               "example": "BTCUSDT"},
                              {"name": "timeframe", "in": "path", "required": True,
                               "schema": {"type": "string"}, "example": "1h",
                               "description": "The file's bar length, e.g. 1m, 15m, 1h, 1d"}],
                      errors=("400", "401", "403", "413", "503")),
                "requestBody": {"required": True, "content": {"text/csv": {
                    "schema": {"type": "string"},
                    "example": "time,open,high,low,close,volume\n"
                               "2024-01-01T00:00:00Z,100,101,99.5,100.5,12\n"}}}}},
            "/jobs": {"get": _op("Your backtests and sweeps, newest first",
                                 _json(_ref("JobPage")), params=_PAGE_PARAMS,
                                 errors=("400", "401", "503"))},
            "/backtests": {
                "get": _op("Your backtests (not those of sweeps), newest first",
                           _json(_ref("BacktestPage")),
                           params=[*_PAGE_PARAMS, {"name": "status", "in": "query",
                                                   "schema": _STATUS}],
                           errors=("400", "401", "503")),
                "post": _op("Submit a backtest", _json(_ref("Backtest"), "Queued"),
                            params=[_REQUEST_ID], body="BacktestRequest", status="201",
                            errors=submit_errors),
            },
            "/backtests/{backtest_id}": {"get": _op("One backtest", _json(_ref("Backtest")),
                                                    params=[bid])},
            "/backtests/{backtest_id}/cancel": {"post": _op(
                "Cancel a queued or running backtest", _json(_ref("Backtest")), params=[bid],
                errors=("401", "404", "503"))},
            "/backtests/{backtest_id}/result": {"get": _op(
                "The whole result: metrics, equity, trades", _json(_ref("Result")),
                params=[bid])},
            "/backtests/{backtest_id}/trades": {"get": _op("The trades", _json(_ref("Trades")),
                                                           params=[bid])},
            "/backtests/{backtest_id}/trades/page": {"get": _op(
                "One page of the trades, filtered and sorted (the result page's table)",
                _json(_ref("TradePage")), params=[bid, *_trade_query()])},
            "/backtests/{backtest_id}/tearsheet": {"get": _op(
                "The result as one self-contained HTML file (no network needed to open it):"
                " settings, metrics, monthly returns, every trade, equity and drawdown charts",
                {"description": "An HTML document, sent as an attachment",
                 "headers": {"Content-Disposition": {"schema": {"type": "string"},
                                                     "example": 'attachment; filename='
                                                                '"backtest-1.html"'}},
                 "content": {"text/html": {"schema": {"type": "string"}}}},
                params=[bid])},
            "/backtests/{backtest_id}/equity": {"get": _op(
                "The equity and drawdown curves", _json(_ref("Equity")), params=[bid])},
            "/backtests/{backtest_id}/montecarlo": {"get": _op(
                "Monte Carlo of the trade sequence: final equity and maximum drawdown"
                " percentiles, and the fan chart's bands", _json(_ref("MonteCarlo")),
                params=[bid, *_montecarlo_query()],
                errors=("400", "401", "404", "422", "503"))},
            "/backtests/{backtest_id}/relative": {"get": _op(
                "Alpha, beta, tracking error and information ratio against buy-and-hold of a"
                " benchmark", _json(_ref("Relative")), params=[bid, _BENCHMARK],
                errors=("400", "401", "404", "422", "503"))},
            "/backtests/{backtest_id}/candles": {"get": _op(
                "The candles the backtest ran over", _json(_ref("Candles")), params=[bid])},
            "/sweeps": {
                "get": _op("Your sweeps, newest first", _json(_ref("SweepPage")),
                           params=_PAGE_PARAMS, errors=("400", "401", "503")),
                "post": _op("Submit a sweep", _json(_ref("Sweep"), "Queued"),
                            params=[_REQUEST_ID], body="SweepRequest", status="201",
                            errors=submit_errors),
            },
            "/sweeps/preview": {"post": _op(
                "Count a sweep's combinations and check it against your quota",
                _json(_ref("SweepPreview")), body="SweepRequest", errors=submit_errors)},
            "/sweeps/{sweep_id}": {"get": _op("One sweep", _json(_ref("Sweep")), params=[sid])},
            "/sweeps/{sweep_id}/cancel": {"post": _op(
                "Cancel a sweep", _json(_ref("Sweep")), params=[sid],
                errors=("401", "404", "503"))},
            "/sweeps/{sweep_id}/results": {"get": _op(
                "Every combination with its metrics, in grid order",
                _json(_ref("SweepResults")), params=[sid])},
        },
    }
