"""``Client``: submit backtests and sweeps to a QuantGrid server, wait for them, fetch results."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from quantgrid.client import config
from quantgrid.client.errors import WaitTimeout
from quantgrid.client.http import Http
from quantgrid.client.jobs import Job
from quantgrid.client.results import BacktestResult, SweepResult, sweep_result

When = str | date  # "2024-01-01", an ISO 8601 date-time, or a date/datetime (UTC if naive)


class Client:
    """A QuantGrid server's API, as one user (the token's).

    >>> c = Client("http://127.0.0.1:8000", "qg_...")      # or Client.from_config()
    >>> job = c.wait(c.submit_backtest(strategy="sma_cross", params={"fast": 10, "slow": 30},
    ...     symbol="DEMO", timeframe="1h", start="2024-01-01", end="2024-03-01"))
    >>> c.result(job).equity.equity.plot()
    """

    def __init__(self, url: str, token: str, **http: Any) -> None:
        """``http``: ``retries`` (4), ``backoff`` (0.5 s, doubling) and ``timeout`` (30 s)."""
        self._http = Http(url, token, **http)

    @classmethod
    def from_config(cls, **http: Any) -> Client:
        """The server and token stored by ``quantgrid remote login``."""
        url, token = config.load()
        return cls(url, token, **http)

    @property
    def url(self) -> str:
        return self._http.url

    def me(self) -> dict[str, Any]:
        """Who the token belongs to: ``{"id", "username", "role"}``."""
        return self._http.call("me")

    def submit_backtest(self, *, symbol: str, timeframe: str, start: When, end: When,
                        strategy: str | None = None, source: str | None = None,
                        params: Mapping[str, float] | None = None,
                        settings: Mapping[str, Any] | None = None) -> Job:
        """Queue a backtest of a built-in or saved ``strategy``, or of ``source`` (inline)."""
        body = _job_body(symbol, timeframe, start, end, strategy, source, settings)
        if params is not None:
            body["params"] = dict(params)
        return Job.of(self._http.call("submit_backtest", body=body))

    def submit_sweep(self, *, symbol: str, timeframe: str, start: When, end: When,
                     grid: Mapping[str, str | float | list[float]], strategy: str | None = None,
                     source: str | None = None, metric: str | None = None,
                     settings: Mapping[str, Any] | None = None,
                     search: Mapping[str, Any] | None = None) -> Job:
        """Queue a sweep; ``grid`` maps each parameter to "start:stop:step", "a,b,c" or a list.

        ``search``: ``{"method": "random", "trials": N, "seed": S}`` draws N combinations from
        the grid's space (``seed`` optional) instead of running all of them.
        """
        body = _job_body(symbol, timeframe, start, end, strategy, source, settings)
        body["grid"] = dict(grid)
        if metric is not None:
            body["metric"] = metric
        if search is not None and search.get("method", "grid") != "grid":
            body.update(search=search["method"], trials=search.get("trials"),
                        seed=search.get("seed"))
        return Job.of(self._http.call("submit_sweep", body=body))

    def get(self, job: Job | int, kind: str = "backtest") -> Job:
        """The job as it is now (``kind`` is taken from ``job`` when it is a Job)."""
        kind, job_id = _ref(job, kind)
        return Job.of(self._http.call(kind, **{f"{kind}_id": job_id}))

    def cancel(self, job: Job | int, kind: str = "backtest") -> Job:
        """Cancel a queued or running job (a finished one is refused: InvalidRequest)."""
        kind, job_id = _ref(job, kind)
        return Job.of(self._http.call(f"cancel_{kind}", **{f"{kind}_id": job_id}))

    def list(self, limit: int = 20, offset: int = 0) -> list[Job]:
        """Your backtests and sweeps, newest first."""
        page = self._http.call("jobs", query={"limit": limit, "offset": offset})
        return [Job.of(item) for item in page["items"]]

    def wait(self, job: Job | int, kind: str = "backtest", *, timeout: float | None = None,
             poll: float = 0.5, max_poll: float = 5.0,
             on_update: Callable[[Job], None] | None = None) -> Job:
        """Poll until the job is final (succeeded, failed or cancelled) and return it.

        Polls every ``poll`` seconds at first, half as often again each time up to ``max_poll``;
        ``on_update`` sees every state polled. WaitTimeout after ``timeout`` seconds.
        """
        kind, job_id = _ref(job, kind)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            current = self.get(job_id, kind)
            if on_update is not None:
                on_update(current)
            if current.done:
                return current
            if deadline is not None and time.monotonic() + poll > deadline:
                raise WaitTimeout(f"{kind} {job_id} is still {current.status} after {timeout} s")
            time.sleep(poll)
            poll = min(poll * 1.5, max_poll)

    def result(self, job: Job | int) -> BacktestResult:
        """A succeeded backtest's metrics, equity and trades (NotFoundError before that)."""
        _, job_id = _ref(job, "backtest")
        return BacktestResult.of(self._http.call("backtest_result", backtest_id=job_id))

    def montecarlo(self, job: Job | int, *, resamples: int = 1000, seed: int = 1,
                   block: int = 1) -> dict[str, Any]:
        """A succeeded backtest's trades resampled ``resamples`` times (seeded; ``block`` > 1 for
        a block bootstrap): percentiles of final equity and maximum drawdown, and the fan's
        bands per trade (docs/semantics.md, "Research statistics of a backtest")."""
        _, job_id = _ref(job, "backtest")
        return self._http.call("backtest_montecarlo", backtest_id=job_id,
                               query={"resamples": resamples, "seed": seed, "block": block})

    def relative(self, job: Job | int, benchmark: str | None = None) -> dict[str, Any]:
        """Alpha, beta, tracking error and information ratio of a succeeded backtest against
        buy-and-hold of ``benchmark`` (a stored symbol; default: the backtest's own)."""
        _, job_id = _ref(job, "backtest")
        query = {} if benchmark is None else {"benchmark": benchmark}
        return self._http.call("backtest_relative", backtest_id=job_id, query=query)

    def sweep_results(self, job: Job | int) -> SweepResult:
        """Every combination of a sweep with its metrics (NaN until its chunk has run)."""
        _, job_id = _ref(job, "sweep")
        return sweep_result(self._http.call("sweep_results", sweep_id=job_id))


def _ref(job: Job | int, kind: str) -> tuple[str, int]:
    return (job.kind, job.id) if isinstance(job, Job) else (kind, job)


def _when(value: When) -> str:
    return value if isinstance(value, str) else value.isoformat()


def _job_body(symbol, timeframe, start, end, strategy, source, settings) -> dict[str, Any]:
    body: dict[str, Any] = {"symbol": symbol, "timeframe": timeframe, "start": _when(start),
                            "end": _when(end)}
    if strategy is not None:
        body["strategy"] = strategy
    if source is not None:
        body["source"] = source
    if settings is not None:
        body["settings"] = dict(settings)
    return body
