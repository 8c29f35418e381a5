"""The result page as a report (headline, named and formatted metrics, monthly returns, a paged
trade table) and the API endpoint its table pages through."""

from __future__ import annotations

import dataclasses
import html
import re

import pytest

from app.api.openapi import document
from engine.metrics import METRIC_KEYS
from quantgrid.db import users
from tests.unit.app.conftest import BACKTEST, finish, sign_in

# Three days of 1-minute candles: a few hundred trades, enough for several pages.
MANY = {**BACKTEST, "timeframe": "1m", "start": "2024-01-01", "end": "2024-01-04"}


@pytest.fixture
def busy(api, db, store):
    """A finished backtest with many trades, and its full result from the API."""
    job = api.post("/api/v1/backtests", json=MANY).get_json()
    finish(db, store, job["id"])
    return job["id"], api.get(f"/api/v1/backtests/{job['id']}/result").get_json()


def visible_text(page: str) -> str:
    """The page's text as a reader sees it: no tags, attributes, scripts or hidden blocks."""
    page = re.sub(r"<script.*?</script>|<div hidden>.*?</div>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_headline_row_names_and_formats(client, busy):
    job_id, result = busy
    page = client.get(f"/backtests/{job_id}").get_data(as_text=True)
    headline = page.split('id="headline"')[1].split("</dl>")[0]
    names = re.findall(r'aria-describedby="hx-\d+">([^<]+)</span>', headline)
    assert names == ["Total return", "CAGR", "Sharpe ratio", "Max. drawdown", "Trades",
                     "Win rate", "Exposure time"]
    m = result["metrics"]
    assert f"{m['return_pct']:,.2f}%" in headline
    assert f"{m['max_drawdown_pct']:,.2f}%" in headline
    assert f">{m['trades']:,d}<" in headline
    # Each name explains itself on hover and to a screen reader.
    assert 'title="Share of closed trades with a positive profit."' in headline
    assert '<span id="hx-6">Share of closed trades with a positive profit.</span>' in page


def test_metrics_are_grouped_with_human_names_and_no_raw_keys(client, busy):
    job_id, result = busy
    page = client.get(f"/backtests/{job_id}").get_data(as_text=True)
    text = visible_text(page)
    for caption in ("Returns", "Risk", "Trades", "Exposure and time"):
        assert f"<caption>{caption}</caption>" in page
    assert "Max. drawdown duration" in text and "Avg. trade duration" in text
    duration = result["metrics"]["max_drawdown_duration_s"]
    days, hours = int(duration // 86400), int(duration % 86400 // 3600)
    assert (f"{days} d {hours} h" if days else f"{hours} h") in text
    assert f"{result['metrics']['equity_final']:,.2f} USD" in text  # ACCOUNT_CURRENCY's default
    for key in METRIC_KEYS:
        if key != "trades":  # also the English word
            assert key not in text, key
    for key in ("max_drawdown_duration_s", "equity_peak", "win_rate_pct"):
        assert key not in page, key  # not even in an attribute
    assert not re.search(r"\d\.\d+e[+-]\d", text), "a number in exponent notation"


def test_monthly_returns_heatmap(client, busy):
    job_id, result = busy
    page = client.get(f"/backtests/{job_id}").get_data(as_text=True)
    table = page.split('id="monthly"')[1].split("</table>")[0]
    assert "<th scope=\"col\">Jan</th>" in table and "Year total" in table
    row = table.split('<th scope="row">2024</th>')[1].split("</tr>")[0]
    cells = re.findall(r'<td class="num ([^"]*)">([^<]*)</td>', row)
    assert len(cells) == 13
    jan_class, jan_text = cells[0]
    assert jan_text == f"{result['metrics']['return_pct']:,.2f}%"  # all three days in January
    assert jan_class.startswith("heat-pos" if result["metrics"]["return_pct"] > 0 else "heat-neg")
    assert all(text == "" and css == "heat-none" for css, text in cells[1:12])


def test_trades_first_page_is_rendered_and_the_rest_linked(client, busy):
    job_id, result = busy
    n = len(result["trades"])
    assert n > 100
    page = client.get(f"/backtests/{job_id}").get_data(as_text=True)
    body = page.split('id="trade-table"')[1].split("<tbody>")[1].split("</tbody>")[0]
    assert body.count("<tr>") == 50
    assert f"Trades 1–50 of {n:,d}." in page
    assert f'href="/backtests/{job_id}?page=2#trades" data-page="2">next' in page
    pages = -(-n // 50)
    assert f"page 1 of {pages}" in page
    second = client.get(f"/backtests/{job_id}?page=2&sort=pnl&order=desc").get_data(as_text=True)
    assert f"Trades 51–100 of {n:,d}." in second
    assert 'data-sort="pnl" aria-sort="descending"' in second
    # The filter form's "any" is an empty value; the page accepts it.
    shorts = client.get(f"/backtests/{job_id}?side=short&exit_reason=").get_data(as_text=True)
    n_short = sum(t["size"] < 0 for t in result["trades"])
    assert f"of {n_short:,d} (of {n:,d} in all)" in shorts
    assert '<option value="short" selected>' in shorts


def test_a_bad_trade_query_on_the_page_is_a_400_that_says_why(client, busy):
    r = client.get(f"/backtests/{busy[0]}?sort=nope")
    assert r.status_code == 400 and "sort must be one of" in r.get_data(as_text=True)


def test_trade_page_endpoint_pages_sorts_and_filters(api, busy):
    job_id, result = busy
    url = f"/api/v1/backtests/{job_id}/trades/page"
    first = api.get(url).get_json()
    assert first["total"] == first["all"] == len(result["trades"])
    assert [t["number"] for t in first["items"]] == list(range(1, 51))
    assert first["items"][0]["entry_time"] == result["trades"][0]["entry_time"]
    assert first["page"] == 1 and first["per_page"] == 50 and first["sort"] == "number"
    by_pnl = api.get(f"{url}?sort=pnl&order=desc&per_page=500").get_json()["items"]
    pnls = [t["pnl"] for t in by_pnl]
    assert pnls == sorted(pnls, reverse=True) and pnls[0] == max(t["pnl"] for t in result["trades"])
    third = api.get(f"{url}?page=3&per_page=7").get_json()
    assert [t["number"] for t in third["items"]] == list(range(15, 22))
    longs = api.get(f"{url}?side=long&per_page=500").get_json()
    assert longs["total"] == sum(t["size"] > 0 for t in result["trades"])
    assert {t["side"] for t in longs["items"]} == {"long"}
    open_ = api.get(f"{url}?exit_reason=end_of_data").get_json()
    assert open_["total"] == sum(t["open"] for t in result["trades"])
    assert all(t["display"]["exit_reason"] == "still open" for t in open_["items"])
    assert api.get(f"{url}?page=999").get_json()["items"] == []


@pytest.mark.parametrize("query", ["page=0", "page=x", "page=-1", "per_page=0",
                                   "per_page=100000", "sort=bogus", "sort=", "order=sideways",
                                   "side=flat", "side=", "exit_reason=liquidated",
                                   f"page={10**30}"])
def test_trade_page_bad_arguments_are_400(api, busy, query):
    r = api.get(f"/api/v1/backtests/{busy[0]}/trades/page?{query}")
    assert r.status_code == 400, r.get_data(as_text=True)
    error = r.get_json()["error"]
    assert error["code"] == "invalid_input" and "must be" in error["message"]


def test_trade_page_of_another_users_job_is_404_like_the_result(app, db, busy, bob):
    job_id = busy[0]
    with db.write() as s:
        bob_token = users.create_token(s, bob, "b")[0]
    c = app.test_client()
    as_bob = {"Authorization": f"Bearer {bob_token}"}
    result = c.get(f"/api/v1/backtests/{job_id}/result", headers=as_bob)
    paged = c.get(f"/api/v1/backtests/{job_id}/trades/page", headers=as_bob)
    assert paged.status_code == result.status_code == 404
    assert paged.get_json()["error"]["code"] == result.get_json()["error"]["code"]
    sign_in(c, "bob")
    assert c.get(f"/backtests/{job_id}?page=2").status_code == 404


def test_trade_page_needs_a_result_and_a_token(app, api):
    job = api.post("/api/v1/backtests", json=BACKTEST).get_json()
    r = api.get(f"/api/v1/backtests/{job['id']}/trades/page")
    assert r.status_code == 404 and "has no result" in r.get_json()["error"]["message"]
    assert app.test_client().get(f"/api/v1/backtests/{job['id']}/trades/page").status_code == 401


def test_trade_page_is_described_with_its_parameters():
    op = document()["paths"]["/backtests/{backtest_id}/trades/page"]["get"]
    params = {p["name"]: p["schema"] for p in op["parameters"]}
    assert set(params) == {"backtest_id", "page", "per_page", "sort", "order", "side",
                           "exit_reason"}
    assert "pnl" in params["sort"]["enum"] and params["per_page"]["maximum"] == 500
    assert {"200", "400", "401", "404"} <= set(op["responses"])


def test_money_is_shown_in_the_account_currency(app, client, busy):
    job_id, result = busy
    ext = app.extensions["quantgrid"]
    ext["settings"] = dataclasses.replace(ext["settings"], account_currency="EUR")
    text = visible_text(client.get(f"/backtests/{job_id}").get_data(as_text=True))
    assert f"{result['metrics']['equity_final']:,.2f} EUR" in text and " USD" not in text
