"""Every call the client makes: a name for it, its method and its path under /api/v1.

The client reaches the server only through this table, so a test can check each entry against
the OpenAPI document.
"""

from __future__ import annotations

ROUTES: dict[str, tuple[str, str]] = {
    "me": ("GET", "/me"),
    "jobs": ("GET", "/jobs"),
    "submit_backtest": ("POST", "/backtests"),
    "backtest": ("GET", "/backtests/{backtest_id}"),
    "cancel_backtest": ("POST", "/backtests/{backtest_id}/cancel"),
    "backtest_result": ("GET", "/backtests/{backtest_id}/result"),
    "backtest_montecarlo": ("GET", "/backtests/{backtest_id}/montecarlo"),
    "backtest_relative": ("GET", "/backtests/{backtest_id}/relative"),
    "submit_sweep": ("POST", "/sweeps"),
    "sweep": ("GET", "/sweeps/{sweep_id}"),
    "cancel_sweep": ("POST", "/sweeps/{sweep_id}/cancel"),
    "sweep_results": ("GET", "/sweeps/{sweep_id}/results"),
}
