"""A real browser (Debian's Chromium through Playwright) on the live stack.

Signs in, submits a backtest through the form, waits for it on the jobs page, sees the charts
drawn (a screenshot that is not blank) and the metrics, submits a 2×3 sweep and sees its
heatmap, then compares two backtests. Writes a strategy in the editor, sees its mistake marked,
fixes and saves it, and backtests and sweeps it. Screenshots are kept in the session's tmp dir.
"""

from __future__ import annotations

import io
import os
import re

import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from tests.e2e.web.conftest import PASSWORD, SWEEP_QUOTA, SYMBOL, drained

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing; run `make services` (it installs Debian's chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, stack):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=stack.base_url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Script errors and CSP violations; the refused form posts (401, 400) are expected, so
    # responses count only when they are server errors or a static file that is missing.
    page.on("console", lambda msg: errors.append(f"{page.url}: {msg.text}")
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None)
    page.on("response", lambda r: errors.append(f"{page.url}: {r.status} {r.url}")
            if r.status >= 500 or (r.status >= 400 and "/static/" in r.url) else None)
    page.js_errors = errors
    yield page
    context.close()


def _colours(png: bytes) -> int:
    """Distinct colours in a screenshot (a blank or single-colour area has one or two)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return len(image.getcolors(maxcolors=image.width * image.height))


def _sign_in(page, username="alice"):
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("header nav")).to_contain_text(username)


def _submit_backtest(page, fast: int, slow: int) -> int:
    page.goto("/backtests/new")
    page.select_option("#strategy", "sma_cross")
    page.select_option("#symbol", SYMBOL)
    page.select_option("#timeframe", "15m")
    page.fill("input[name=start]", "2020-01-02")
    page.fill("input[name=end]", "2020-01-16")
    page.fill("input[name='p.sma_cross.fast']", str(fast))
    page.fill("input[name='p.sma_cross.slow']", str(slow))
    page.fill("input[name='settings.cash']", "25000")
    page.click("#job-form button[type=submit]")
    page.wait_for_url(re.compile(r"/backtests/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def test_sign_in_backtest_chart_metrics_sweep_heatmap_compare(page, stack):
    shots = stack.logs.parent / "screenshots"
    shots.mkdir(exist_ok=True)

    # Wrong password: the form says so and stays on the sign-in page.
    page.goto("/backtests/new")
    page.wait_for_url(re.compile(r"/login"))
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    expect(page.locator("p.error")).to_contain_text("Wrong username or password")
    _sign_in(page)

    # The form refuses bad input with a message next to the field.
    page.goto("/backtests/new")
    page.select_option("#strategy", "sma_cross")
    page.fill("input[name='p.sma_cross.fast']", "40")
    page.fill("input[name='p.sma_cross.slow']", "20")
    page.fill("input[name=start]", "2020-01-02")
    page.fill("input[name=end]", "2020-01-16")
    page.click("#job-form button[type=submit]")
    expect(page.locator(".field-error, p.error").first).to_be_visible()
    assert "/backtests/new" in page.url
    page.screenshot(path=str(shots / "form-errors.png"), full_page=True)

    first = _submit_backtest(page, 10, 30)
    # The jobs page lists it and its status updates without a reload.
    page.goto("/jobs")
    row = page.locator(f'#jobs tr[data-kind="backtest"][data-id="{first}"]')
    expect(row.locator("td.status")).to_have_text("succeeded", timeout=TIMEOUT_MS)
    expect(row.locator(".pct")).to_have_text("100%")
    page.screenshot(path=str(shots / "jobs.png"))
    row.locator("a").click()
    page.wait_for_url(re.compile(rf"/backtests/{first}$"))
    expect(page.locator("#job-status")).to_have_text("succeeded")
    expect(page.locator("#charts[data-drawn]")).to_be_attached()
    page.wait_for_timeout(500)  # the canvases paint on the next animation frame
    page.screenshot(path=str(shots / "backtest.png"), full_page=True)
    chart_png = page.locator("#price-chart").screenshot(path=str(shots / "price-chart.png"))
    assert _colours(chart_png) > 50, "the price chart looks blank"
    equity_png = page.locator("#equity-chart").screenshot(path=str(shots / "equity-chart.png"))
    assert _colours(equity_png) > 20, "the equity chart looks blank"
    metrics = page.locator("#metrics")
    for name in ("Sharpe ratio", "Total return", "Max. drawdown", "Trades"):
        expect(metrics.locator("th", has_text=re.compile(rf"^{re.escape(name)}$"))).to_have_count(1)
    trades = int(metrics.locator("tr", has=page.locator("th", has_text=re.compile(r"^Trades$")))
                 .locator("td").inner_text().replace(",", ""))
    assert trades > 0
    expect(page.locator("#headline dt")).to_have_count(7)
    # One page of the trades (50), however many there are; the others are a click away.
    assert 0 < page.locator("table.trades tbody tr").count() <= min(trades + 1, 50)

    # A second backtest, awaited on its own page (it reloads itself when done).
    second = _submit_backtest(page, 5, 20)
    expect(page.locator("#charts[data-drawn]")).to_be_attached(timeout=TIMEOUT_MS)

    # A 2×3 sweep: the page counts the combinations before submitting.
    page.goto("/sweeps/new")
    page.select_option("#strategy", "sma_cross")
    page.select_option("#symbol", SYMBOL)
    page.select_option("#timeframe", "15m")
    page.fill("input[name=start]", "2020-01-02")
    page.fill("input[name=end]", "2020-01-16")
    # 29 × 30 combinations: the page warns before submitting, and the server refuses it.
    page.fill("input[name='g.sma_cross.fast']", "2:30:1")
    page.fill("input[name='g.sma_cross.slow']", "31:60:1")
    expect(page.locator("#combinations")).to_contain_text(
        f"870 combinations — more than your limit of {SWEEP_QUOTA}")
    page.click("#sweep-form button[type=submit]")
    expect(page.locator("#form-message")).to_contain_text(f"{SWEEP_QUOTA}")
    assert "/sweeps/new" in page.url
    page.screenshot(path=str(shots / "sweep-quota.png"), full_page=True)
    page.fill("input[name='g.sma_cross.fast']", "5,10")
    page.fill("input[name='g.sma_cross.slow']", "20:40:10")
    expect(page.locator("#combinations")).to_contain_text("6 combinations")
    page.click("#sweep-form button[type=submit]")
    page.wait_for_url(re.compile(r"/sweeps/\d+$"))
    heatmap = page.locator("canvas#heatmap[data-drawn='6']")
    expect(heatmap).to_be_attached(timeout=TIMEOUT_MS)
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=TIMEOUT_MS)
    expect(page.locator("#top tbody tr")).to_have_count(6)
    page.screenshot(path=str(shots / "sweep.png"), full_page=True)
    heat_png = page.locator("canvas#heatmap").screenshot(path=str(shots / "heatmap.png"))
    assert _colours(heat_png) > 6, "the heatmap looks blank"
    expect(page.locator("#hm-legend")).to_contain_text("sharpe")

    # Compare the two backtests: both columns, one chart with both equity curves.
    page.goto(f"/compare?id={first}&id={second}")
    expect(page.locator("#compare-metrics thead th")).to_have_count(3)
    expect(page.locator("#compare-chart[data-drawn]")).to_be_attached()
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / "compare.png"), full_page=True)
    assert _colours(page.locator("#compare-chart").screenshot()) > 20

    assert page.js_errors == [], "\n".join(page.js_errors)


STRATEGY = '''"""Long while the fast EMA is above the slow one."""
fast = param(int, 8, min=2, max=100, description="Bars in the fast average.")
slow = param(int, 21, min=3, max=300, description="Bars in the slow average.")
require(fast < slow)
long_entry = crossover(ema(close, fast), ema(close, slow))
long_exit = crossunder(ema(close, fast), ema(close, slow))
'''
TYPO = STRATEGY.replace("long_exit = crossunder(ema(close,", "long_exit = crossunder(ema(closee,")


def _replace_source(page, text: str) -> None:
    """Select the editor's whole text, delete it and enter ``text`` (as a user pasting it).

    Deleting first matters: Chromium's own editing of a selection across lines writes style
    attributes, which the CSP refuses (CodeMirror then redraws the text either way)."""
    page.locator("#editor .cm-content").focus()
    page.keyboard.press("Control+a")
    page.keyboard.press("Backspace")
    page.keyboard.insert_text(text)


def test_write_check_fix_save_then_backtest_and_sweep_a_strategy(page, stack):
    shots = stack.logs.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    _sign_in(page, "bob")
    page.goto("/strategies")
    page.get_by_role("link", name="New strategy").click()
    expect(page.locator("#editor .cm-editor")).to_be_visible()
    page.fill("#name", "e2e_ema")

    # A mistake is marked at its line in the editor and listed with its place.
    _replace_source(page, TYPO)
    page.click("#check")
    problem = page.locator('#problems li[data-line="6"]')
    expect(problem).to_contain_text("unknown name 'closee'")
    expect(page.locator("#problems li")).to_have_count(1)
    expect(page.locator("#editor .cm-lintRange-error")).to_have_text("closee")
    expect(page.locator("#editor .cm-lint-marker-error")).to_have_count(1)
    page.screenshot(path=str(shots / "editor-mistake.png"), full_page=True)

    # Fixed, checked and saved: the editor shows the saved version.
    _replace_source(page, STRATEGY)
    page.click("#check")
    expect(page.locator("#check-status")).to_contain_text("No mistakes. Parameters: fast")
    expect(page.locator("#problems li")).to_have_count(0)
    expect(page.locator("#editor .cm-lintRange-error")).to_have_count(0)
    page.click("#save")
    page.wait_for_url(re.compile(r"/strategies/e2e_ema/edit$"))
    expect(page.locator("p.flash")).to_have_text("Saved e2e_ema version 1.")

    # "Backtest this": the form has the strategy chosen and its declared parameters as fields.
    page.click("#backtest-this")
    expect(page.locator("#strategy")).to_have_value("e2e_ema")
    page.select_option("#symbol", SYMBOL)
    page.select_option("#timeframe", "15m")
    page.fill("input[name=start]", "2020-01-02")
    page.fill("input[name=end]", "2020-01-16")
    page.fill("input[name='p.e2e_ema.fast']", "5")
    page.fill("input[name='p.e2e_ema.slow']", "30")
    page.click("#job-form button[type=submit]")
    page.wait_for_url(re.compile(r"/backtests/\d+$"))
    expect(page.locator("#charts[data-drawn]")).to_be_attached(timeout=TIMEOUT_MS)
    expect(page.locator("#strategy-version summary")).to_contain_text("Ran e2e_ema version 1")
    page.wait_for_timeout(500)
    png = page.locator("#price-chart").screenshot(path=str(shots / "strategy-backtest.png"))
    assert _colours(png) > 50, "the price chart of the saved strategy's backtest looks blank"

    # A 2×3 sweep of it, with its own parameter fields, and its heatmap.
    page.goto("/sweeps/new")
    page.select_option("#strategy", "e2e_ema")
    page.select_option("#symbol", SYMBOL)
    page.select_option("#timeframe", "15m")
    page.fill("input[name=start]", "2020-01-02")
    page.fill("input[name=end]", "2020-01-16")
    page.fill("input[name='g.e2e_ema.fast']", "5,10")
    page.fill("input[name='g.e2e_ema.slow']", "20:40:10")
    expect(page.locator("#combinations")).to_contain_text("6 combinations")
    page.click("#sweep-form button[type=submit]")
    page.wait_for_url(re.compile(r"/sweeps/\d+$"))
    expect(page.locator("canvas#heatmap[data-drawn='6']")).to_be_attached(timeout=TIMEOUT_MS)
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=TIMEOUT_MS)
    expect(page.locator("#strategy-version summary")).to_contain_text("Ran e2e_ema version 1")
    heat_png = page.locator("canvas#heatmap").screenshot(path=str(shots / "strategy-heatmap.png"))
    assert _colours(heat_png) > 6, "the heatmap of the saved strategy's sweep looks blank"

    assert page.js_errors == [], "\n".join(page.js_errors)


def test_jobs_page_updates_status_and_progress_without_reloading(page, stack):
    _sign_in(page)
    api = stack.alice.session()
    body = {"strategy": "ema_cross", "params": {"fast": 8, "slow": 21}, "symbol": SYMBOL,
            "timeframe": "1m", "start": "2020-01-01", "end": "2020-01-20"}
    # Submitted while the worker is drained: all are queued when the page loads.
    with drained(stack):
        ids = [api.post(f"{stack.api}/backtests", json=body, timeout=10).json()["id"]
               for _ in range(4)]
        page.goto("/jobs")
        page.evaluate("window.__notReloaded = true")
        rows = [page.locator(f'#jobs tr[data-kind="backtest"][data-id="{i}"]') for i in ids]
        at_load = [r.locator("td.status").inner_text() for r in rows]
        assert at_load == ["queued"] * 4, at_load
    for row in rows:
        expect(row.locator("td.status")).to_have_text("succeeded", timeout=TIMEOUT_MS)
        expect(row.locator(".pct")).to_have_text("100%")
    assert page.evaluate("window.__notReloaded === true"), "the jobs page reloaded itself"
    assert page.js_errors == [], "\n".join(page.js_errors)
