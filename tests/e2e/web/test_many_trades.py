"""A backtest of more than 10,000 trades, read in a real browser (Debian's Chromium).

An SMA cross of 2 and 3 bars over four weeks of 1m candles trades every few bars. Its result page
must stay a report, not a dump: it loads within the test's timeout, stays a few screens tall, shows
one page of trades with a pager that fetches the next from the API without reloading, and its chart
carries one marker per entry and exit with no text labels and is not blank.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.web.axe import screenshots_dir
from tests.e2e.web.conftest import _cli, wait_for
from tests.e2e.web.test_browser import TIMEOUT_MS, _colours, _sign_in, browser, page  # noqa: F401

pytestmark = pytest.mark.e2e

SYMBOL = "BUSY"
BARS = 40_000  # 1m bars from 2020-01-01: a little under four weeks
MIN_TRADES = 10_000
MAX_HEIGHT_PX = 6_000
PER_PAGE = 50
# Installed before the page's scripts run: records what the page gives lightweight-charts as
# markers (the canvas cannot be read back), so the test can see that none carries a text.
RECORD_MARKERS = """
(() => {
  let lc;
  Object.defineProperty(window, "LightweightCharts", {
    configurable: true,
    get() { return lc; },
    set(value) {
      const createChart = value.createChart;
      lc = Object.assign({}, value, {
        createChart(...args) {
          const chart = createChart.apply(value, args);
          const add = chart.addCandlestickSeries.bind(chart);
          chart.addCandlestickSeries = (...a) => {
            const series = add(...a);
            const set = series.setMarkers.bind(series);
            series.setMarkers = (markers) => { window.__markers = markers; return set(markers); };
            return series;
          };
          return chart;
        },
      });
    },
  });
})();
"""


@pytest.fixture(scope="module")
def busy_backtest(stack) -> dict:
    """A finished backtest of more than 10,000 trades, with its id and trade count."""
    _cli(stack, "candles", "generate", "--symbol", SYMBOL, "--timeframe", "1m",
         "--bars", str(BARS), "--seed", "11", "--start", "2020-01-01T00:00:00Z")
    api = stack.alice.session()
    r = api.post(f"{stack.api}/backtests", timeout=10, json={
        "strategy": "sma_cross", "params": {"fast": 2, "slow": 3}, "symbol": SYMBOL,
        "timeframe": "1m", "start": "2020-01-01", "end": "2020-01-28"})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]

    def done():
        job = api.get(f"{stack.api}/backtests/{job_id}", timeout=10).json()
        assert job["status"] not in ("failed", "cancelled"), job
        return job["status"] == "succeeded"
    wait_for(done, timeout=180, what=f"backtest {job_id} to succeed")
    first = api.get(f"{stack.api}/backtests/{job_id}/trades/page", timeout=30).json()
    assert first["total"] >= MIN_TRADES, f"only {first['total']} trades: make them trade more"
    return {"id": job_id, "trades": first["total"], "pages": first["pages"]}


def test_result_page_of_10000_trades_stays_short_paged_and_drawn(page, stack, busy_backtest):  # noqa: F811
    job_id, total, pages = (busy_backtest[k] for k in ("id", "trades", "pages"))
    page.add_init_script(RECORD_MARKERS)
    _sign_in(page)

    started = time.monotonic()
    page.goto(f"/backtests/{job_id}")
    expect(page.locator("#charts[data-drawn]")).to_be_attached(timeout=TIMEOUT_MS)
    loaded_s = time.monotonic() - started
    page.evaluate("window.__notReloaded = true")

    # A report a few screens tall, not 10,000 rows.
    height = page.evaluate("document.body.scrollHeight")
    assert height < MAX_HEIGHT_PX, f"the result page is {height}px tall"
    headline = page.locator("#headline")
    expect(headline.locator("dt")).to_have_count(7)
    trades_kpi = headline.locator(".kpi", has=page.locator("dt", has_text=re.compile(r"^Trades$")))
    # The headline counts closed trades; the table also lists one still open at the end.
    closed = int(trades_kpi.locator("dd").inner_text().replace(",", ""))
    assert total - 1 <= closed <= total, (closed, total)

    # One page of trades and a pager; "next" fetches page 2 from the API, in place.
    rows = page.locator("#trade-table tbody tr")
    expect(rows).to_have_count(PER_PAGE)
    expect(rows.first.locator("td").first).to_have_text("1")
    pager = page.locator("#trade-pager")
    expect(pager.locator(".pager-at")).to_have_text(f"page 1 of {pages}")
    with page.expect_response(lambda r: "/trades/page" in r.url and "page=2" in r.url) as resp:
        pager.get_by_role("link", name="next ›").click()
    assert resp.value.ok
    expect(pager.locator(".pager-at")).to_have_text(f"page 2 of {pages}")
    expect(rows).to_have_count(PER_PAGE)
    expect(rows.first.locator("td").first).to_have_text(str(PER_PAGE + 1))
    assert "page=2" in page.url
    assert page.evaluate("window.__notReloaded === true"), "paging reloaded the page"

    # The chart: a marker per entry and per closed trade's exit, none with a text label.
    markers = page.evaluate("window.__markers || []")
    assert len(markers) >= total, f"{len(markers)} markers for {total} trades"
    labelled = [m for m in markers if m.get("text")]
    assert not labelled, f"{len(labelled)} markers carry a text, e.g. {labelled[:3]}"
    page.wait_for_timeout(500)  # the canvases paint on the next animation frame
    chart = page.locator("#price-chart")
    assert _colours(chart.screenshot()) > 50, "the price chart looks blank"
    # The trade under the cursor is described below the chart.
    box = chart.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    expect(page.locator("#chart-info")).to_contain_text(re.compile(r"Trade #\d+|No trade open"))
    shots = screenshots_dir()
    if shots:
        page.screenshot(path=str(shots / "result-10000-trades.png"))

    # The tearsheet downloads as one file that needs no network: every trade, the charts as SVG.
    with page.expect_download(timeout=TIMEOUT_MS) as caught:
        page.click("#tearsheet-link")
    download = caught.value
    assert download.suggested_filename == f"backtest-{job_id}.html"
    sheet = Path(download.path()).read_text()
    assert sheet.count("<tr") > total and sheet.count("<svg") >= 2
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", sheet), "a network reference"

    assert page.js_errors == [], "\n".join(page.js_errors)
    print(f"{total} trades: charts drawn {loaded_s:.1f}s after navigation, page {height}px tall")
