"""The tearsheet: one HTML file per result that opens without a network, from the page and the
API, with the settings, the formatted metrics, the monthly returns, every trade and SVG charts."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest

from app.svgchart import downsample, line_chart
from tests.unit.app.conftest import BACKTEST, finish, sign_in

MANY = {**BACKTEST, "timeframe": "1m", "start": "2024-01-01", "end": "2024-01-04"}


class _Resources(HTMLParser):
    """Every tag's src and href, and the tags that would load something."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "poster", "action") and value:
                self.urls.append((tag, value))


@pytest.fixture
def busy(api, db, store):
    job = api.post("/api/v1/backtests", json=MANY).get_json()
    finish(db, store, job["id"])
    return job["id"], api.get(f"/api/v1/backtests/{job['id']}/result").get_json()


def test_page_links_the_tearsheet_and_the_download_is_one_offline_file(client, busy):
    job_id, result = busy
    page = client.get(f"/backtests/{job_id}").get_data(as_text=True)
    assert f'href="/backtests/{job_id}/tearsheet.html"' in page and "Tearsheet (HTML)" in page
    response = client.get(f"/backtests/{job_id}/tearsheet.html")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="backtest-{job_id}.html"'
    body = response.get_data(as_text=True)
    parser = _Resources()
    parser.feed(body)
    # Nothing to fetch: no script, no stylesheet link, no image, no frame, no URL at all.
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(parser.tags)
    assert parser.urls == [], parser.urls
    assert not re.search(r"url\(|@import|https?://", body)
    assert "<style" in body and ".headline" in body  # the site's stylesheet, inlined


def test_tearsheet_holds_settings_metrics_months_trades_and_charts(client, busy):
    job_id, result = busy
    body = client.get(f"/backtests/{job_id}/tearsheet.html").get_data(as_text=True)
    assert "sma_cross" in body and "Parameter fast" in body and "Commission" in body
    for name in ("Total return", "Sharpe ratio", "Max. drawdown", "Max. drawdown duration",
                 "Win rate", "Exposure time"):
        assert name in body, name
    m = result["metrics"]
    assert f"{m['return_pct']:,.2f}%" in body and f"{m['equity_final']:,.2f}" in body
    assert 'id="monthly"' in body and "Year total" in body
    paths = re.findall(r'<path d="(M[^"]+)"', body)
    assert len(paths) == 2  # equity and drawdown
    assert all(len(p.split("L")) > 10 for p in paths)
    trades = len(result["trades"])
    assert trades > 50  # more than a page of the result page's table: all of them here
    table = body.split('id="trade-table"')[1].split("</table>")[0]
    assert table.count("<tr>") == trades + 1  # the header row
    assert f"{trades} trades" in body
    assert "<a " not in table  # no sort links to a server the file cannot reach


def test_api_tearsheet_is_the_same_file(api, busy):
    job_id, _ = busy
    response = api.get(f"/api/v1/backtests/{job_id}/tearsheet")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="backtest-{job_id}.html"'
    assert "Total return" in response.get_data(as_text=True)


def test_another_users_tearsheet_is_not_found(app, busy, bob):
    job_id, _ = busy
    other = app.test_client()
    sign_in(other, "bob")
    assert other.get(f"/backtests/{job_id}/result.json").status_code == 404
    assert other.get(f"/backtests/{job_id}/tearsheet.html").status_code == 404


def test_a_job_without_a_result_has_no_tearsheet(client, api):
    job = api.post("/api/v1/backtests", json=BACKTEST).get_json()  # queued: no worker here
    page = client.get(f"/backtests/{job['id']}/tearsheet.html")
    assert page.status_code == 404
    assert "has no result (queued)" in page.get_data(as_text=True)
    response = api.get(f"/api/v1/backtests/{job['id']}/tearsheet")
    assert response.status_code == 404
    assert "has no result" in response.get_json()["error"]["message"]


def test_downsample_keeps_extremes_ends_and_order():
    x = np.arange(100_000, dtype=np.int64)
    y = np.sin(x / 500.0)
    y[12_345] = 50.0
    y[77_777] = -50.0
    xs, ys = downsample(x, y, 2_000)
    assert len(xs) <= 2_000
    assert xs[0] == 0 and xs[-1] == 99_999
    assert np.all(np.diff(xs) > 0)
    assert ys.max() == 50.0 and ys.min() == -50.0


def test_downsample_skips_missing_values_and_keeps_short_series():
    xs, ys = downsample(np.arange(5), np.array([1.0, np.nan, 3.0, np.inf, 5.0]))
    assert xs.tolist() == [0, 2, 4] and ys.tolist() == [1.0, 3.0, 5.0]


def test_line_chart_scales_into_its_box():
    chart = line_chart(np.array([0, 10, 20]), np.array([-1.0, 1.0, 0.0]), width=100, height=50)
    assert chart.path == "M0.0,50.0L50.0,0.0L100.0,25.0"
    assert (chart.y_min, chart.y_max, chart.zero_y, chart.points) == (-1.0, 1.0, 25.0, 3)
    flat = line_chart(np.array([0, 1]), np.array([2.0, 2.0]), width=10, height=10)
    assert flat.path == "M0.0,10.0L10.0,10.0"
    assert line_chart(np.array([], dtype=np.int64), np.array([])).path == ""
