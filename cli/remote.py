"""``quantgrid remote ...``: log in to a QuantGrid server, submit, watch and fetch jobs there.

Everything goes through :class:`quantgrid.client.Client`; its typed errors are QuantGridErrors,
so ``cli.main`` prints them as one line with their exit code. A watched job that ends badly exits
with JobFailed's or JobCancelled's code.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import Any

import click
from tqdm import tqdm

from cli.options import (
    check_one_strategy,
    parse_params,
    search_of,
    search_options,
    sim_options,
    strategy_options,
)
from cli.report import TRADE_COLUMNS, print_metrics, print_statistics, print_top, write_csv
from cli.types import ROW_ID
from engine.metrics import HIGHER_IS_BETTER, METRIC_KEYS
from quantgrid.client import AuthError, Client, Job, NotConfigured
from quantgrid.client import config as remote_config
from quantgrid.errors import InvalidInput, QuantGridError


class JobFailed(QuantGridError):
    """The job failed."""

    exit_code = 6


class JobCancelled(QuantGridError):
    """The job was cancelled."""

    exit_code = 7


class _RemoteGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AuthError as err:
            if isinstance(err, NotConfigured):
                raise
            raise AuthError(f"{err} (log in again: quantgrid remote login URL)",
                            status=err.status, code=err.code) from None


@click.group("remote", cls=_RemoteGroup)
def remote() -> None:
    """Use a QuantGrid server: log in, submit backtests and sweeps, watch them, fetch results."""


@remote.command("login")
@click.argument("url")
@click.option("--token", prompt="API token (from the account page or `quantgrid tokens create`)",
              hide_input=True, envvar="QUANTGRID_TOKEN", help="An API token [default: ask].")
def login(url: str, token: str) -> None:
    """Check a token against the server at URL and remember both."""
    client = Client(url, token.strip())
    me = client.me()
    path = remote_config.save(client.url, token.strip())
    click.echo(f"logged in to {client.url} as {me['username']} (saved in {path})")


@remote.command("logout")
def logout() -> None:
    """Forget the stored server and token."""
    click.echo("logged out" if remote_config.forget() else "was not logged in")


def _job_options(command: Callable) -> Callable:
    options = [
        click.option("--symbol", required=True, help="A symbol the server stores, e.g. DEMO."),
        click.option("--timeframe", required=True, help="e.g. 1m, 1h, 1d."),
        click.option("--start", required=True, help="YYYY-MM-DD or an ISO 8601 date-time (UTC)."),
        click.option("--end", required=True, help="YYYY-MM-DD or an ISO 8601 date-time (UTC)."),
        click.option("--detach", is_flag=True, help="Print the job's id and return at once."),
        click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@remote.command("backtest")
@_job_options
@strategy_options
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A strategy parameter; repeat for each.")
@sim_options
@click.option("--trades", "trades_path", type=click.Path(dir_okay=False),
              help="Write every trade to this CSV file.")
def backtest(strategy, strategy_file, params, detach, as_json, trades_path, **kw) -> None:
    """Submit a backtest to the server, watch it and print its metrics."""
    series, settings = _split(kw)
    client = _client()
    job = client.submit_backtest(**series, **_strategy(strategy, strategy_file),
                                 params=_numbers(parse_params(params)), settings=settings)
    if not _follow(client, job, detach):
        return
    _print_backtest(client, job.id, as_json, trades_path)


@remote.command("sweep")
@_job_options
@strategy_options
@click.option("-g", "--grid", "grid", multiple=True, required=True,
              metavar="NAME=START:STOP:STEP|A,B,C",
              help="A parameter's values (stop included when the steps land on it); repeat.")
@sim_options
@click.option("--by", type=click.Choice(METRIC_KEYS), default="sharpe", show_default=True,
              help="The metric that ranks the grid.")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many of the best sets to print.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="Write the whole grid, best first, to this CSV file.")
@search_options
def sweep(strategy, strategy_file, grid, by, detach, as_json, top, out_path, search, trials, seed,
          **kw) -> None:  # fmt: skip
    """Submit a sweep to the server, watch it and print its best parameter sets."""
    series, settings = _split(kw)
    client = _client()
    job = client.submit_sweep(**series, **_strategy(strategy, strategy_file),
                              grid=parse_params(grid), metric=by, settings=settings,
                              search=search_of(search, trials, seed))  # fmt: skip
    if not _follow(client, job, detach):
        return
    _print_sweep(client, job.id, as_json, top, out_path)


@remote.command("watch")
@click.argument("job_id", type=ROW_ID)
@click.option("--sweep", "is_sweep", is_flag=True, help="JOB_ID is a sweep.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="Give up after this many seconds (exit code 124).")
def watch(job_id: int, is_sweep: bool, timeout: float | None) -> None:
    """Show a job's progress until it ends; the exit code says how (0: succeeded, 6: failed,
    7: cancelled)."""
    job = _watch(_client(), job_id, "sweep" if is_sweep else "backtest", timeout)
    click.echo(f"{job.kind} {job.id} {job.status}")


@remote.command("result")
@click.argument("job_id", type=ROW_ID)
@click.option("--sweep", "is_sweep", is_flag=True, help="JOB_ID is a sweep.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--trades", "trades_path", type=click.Path(dir_okay=False),
              help="A backtest's trades: write them to this CSV file.")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="A sweep's best sets: how many to print.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="A sweep's whole grid: write it, best first, to this CSV file.")
def result(job_id, is_sweep, as_json, trades_path, top, out_path) -> None:
    """Print a backtest's metrics, or a sweep's best parameter sets."""
    if is_sweep:
        _print_sweep(_client(), job_id, as_json, top, out_path)
    else:
        _print_backtest(_client(), job_id, as_json, trades_path)


@remote.command("list")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def list_(limit: int, as_json: bool) -> None:
    """Your backtests and sweeps on the server, newest first."""
    jobs = _client().list(limit=limit)
    if as_json:
        click.echo(json.dumps([j.data for j in jobs]))
        return
    click.echo(f"{'KIND':<9}{'ID':>7}  {'STATUS':<10}{'PROGRESS':>9}  {'STRATEGY':<20}"
               f"{'SYMBOL':<12}TF")
    for j in jobs:
        click.echo(f"{j.kind:<9}{j.id:>7}  {j.status:<10}{j.progress:>8.0%}  "
                   f"{j.data['strategy']:<20}{j.data['symbol']:<12}{j.data['timeframe']}")


def _client() -> Client:
    return Client.from_config()


def _split(kw: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """The options as the job's series (symbol, timeframe, start, end) and its settings."""
    series = {k: kw.pop(k) for k in ("symbol", "timeframe", "start", "end")}
    return series, kw


def _strategy(name: str | None, path: str | None) -> dict[str, str]:
    """The request's strategy: a name the server knows, or a file's source sent inline."""
    check_one_strategy(name, path)
    if path is None:
        return {"strategy": name}
    try:
        with open(path, encoding="utf-8") as fh:
            return {"source": fh.read()}
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInput(f"cannot read the strategy file {path}: {err}") from None


def _numbers(params: dict[str, str]) -> dict[str, int | float | str]:
    """-p values as the JSON numbers the API takes (what is no number is sent for it to refuse)."""
    out: dict[str, int | float | str] = {}
    for name, text in params.items():
        try:
            out[name] = int(text)
        except ValueError:
            try:
                out[name] = float(text)
            except ValueError:
                out[name] = text
    return out


def _follow(client: Client, job: Job, detach: bool) -> bool:
    """Say what was submitted; unless detached, watch it. Whether to print its result."""
    click.echo(f"submitted {job.kind} {job.id} to {client.url}", err=True)
    if detach:
        click.echo(job.id)
        return False
    _watch(client, job.id, job.kind, None)
    return True


def _watch(client: Client, job_id: int, kind: str, timeout: float | None) -> Job:
    """Wait for the job with a progress bar on stderr; JobFailed or JobCancelled if it did."""
    with tqdm(total=100, unit="%", desc=f"{kind} {job_id}", file=sys.stderr, disable=None,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}") as bar:

        def show(job: Job) -> None:
            bar.update(round(job.progress * 100) - bar.n)
            bar.set_postfix_str(job.status)

        job = client.wait(job_id, kind, timeout=timeout, max_poll=2.0, on_update=show)
    if job.status == "failed":
        raise JobFailed(f"{kind} {job_id} failed: {job.error or 'no reason given'}")
    if job.status == "cancelled":
        raise JobCancelled(f"{kind} {job_id} was cancelled")
    return job


def _print_backtest(client: Client, job_id: int, as_json: bool, trades_path: str | None) -> None:
    found = client.result(job_id)
    if trades_path:
        write_csv(trades_path, found.data["trades"], TRADE_COLUMNS)
    if as_json:
        click.echo(json.dumps({k: v for k, v in found.data.items()
                               if k not in ("equity", "trades")}))
        return
    click.echo(f"backtest {job_id}: {len(found.trades)} trades, "
               f"{len(found.equity)} bars")
    print_metrics(found.metrics)


def _print_sweep(client: Client, job_id: int, as_json: bool, top: int,
                 out_path: str | None) -> None:
    found = client.sweep_results(job_id)
    by, table = found.metric, found.table
    ranked = table.sort_values(by, ascending=by not in HIGHER_IS_BETTER, na_position="last",
                               kind="stable")
    names = list(table.columns[: table.columns.get_loc("status")])
    rows = [{k: _plain(v) for k, v in row.items()} for row in ranked.to_dict("records")]
    if out_path:
        write_csv(out_path, rows, list(table.columns))
    if as_json:
        click.echo(json.dumps({"sweep": job_id, "by": by, "sets": len(rows), "top": rows[:top],
                               "statistics": found.statistics}))  # fmt: skip
        return
    print_top(rows[:top], names, by, len(rows))
    print_statistics(found.statistics)


def _plain(value: Any) -> Any:
    """A cell as JSON has it: NaN (not evaluated, or undefined) is None."""
    return None if isinstance(value, float) and math.isnan(value) else value


commands = [remote]
