"""Every page of the web app, signed in and signed out, checked by axe-core in a real browser.

The jobs the pages show are made first through the API (two backtests, a sweep, a saved
strategy); each page is then opened as a user would, left to draw its charts, and checked for
serious or critical WCAG 2.x A/AA violations (tests/e2e/web/axe.py). With ``QG_SCREENSHOTS`` set
(``QG_SCREENSHOTS=docs/screenshots``) the result, sweep and editor pages are also saved as the
README's pictures.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.web.axe import blocking, screenshots_dir
from tests.e2e.web.conftest import SYMBOL, _cli, wait_for
from tests.e2e.web.test_browser import (  # noqa: F401 (browser: a fixture)
    STRATEGY,
    TIMEOUT_MS,
    _sign_in,
    browser,
)

pytestmark = pytest.mark.e2e

BACKTEST = {"strategy": "sma_cross", "symbol": SYMBOL, "timeframe": "15m",
            "start": "2020-01-02", "end": "2020-01-16", "settings": {"cash": 25000}}


@pytest.fixture
def page(browser, stack):  # noqa: F811 (the fixture imported above)
    # axe-core is injected as an inline script, which the app's CSP (rightly) refuses: this
    # context alone bypasses it. The CSP itself is tested by test_browser.py's pages.
    context = browser.new_context(viewport={"width": 1280, "height": 800},
                                  base_url=stack.base_url, bypass_csp=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    context.close()


def _finished(api, url: str) -> dict:
    def done():
        job = api.get(url, timeout=10).json()
        assert job["status"] not in ("failed", "cancelled"), job
        return job if job["status"] == "succeeded" else None
    return wait_for(done, timeout=120, what=f"{url} to succeed")


def _jobs(stack) -> dict:
    """Two finished backtests, a finished sweep and a saved strategy of alice's."""
    api = stack.alice.session()
    ids = []
    for fast, slow in ((10, 30), (5, 20)):
        r = api.post(f"{stack.api}/backtests", timeout=10,
                     json={**BACKTEST, "params": {"fast": fast, "slow": slow}})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = api.post(f"{stack.api}/sweeps", timeout=10,
                 json={**BACKTEST, "grid": {"fast": "5,10,15", "slow": "20:40:10"},
                       "metric": "sharpe"})
    assert r.status_code == 201, r.text
    sweep = r.json()["id"]
    r = api.post(f"{stack.api}/strategies", json={"name": "a11y_ema", "source": STRATEGY},
                 timeout=10)
    assert r.status_code in (201, 409), r.text
    for i in ids:
        _finished(api, f"{stack.api}/backtests/{i}")
    _finished(api, f"{stack.api}/sweeps/{sweep}")
    return {"backtests": ids, "sweep": sweep, "strategy": "a11y_ema"}


def test_every_page_has_no_serious_accessibility_violation(page, stack):
    jobs = _jobs(stack)
    shots = screenshots_dir()
    first, second = jobs["backtests"]
    # Every page is checked before the test fails, so that one run lists everything to fix.
    problems: list[str] = []

    def assert_accessible(page, what: str) -> None:
        problems.append(blocking(page, what))

    page.goto("/login")
    assert_accessible(page, "the sign-in page (signed out)")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    expect(page.locator("p.error")).to_be_visible()
    assert_accessible(page, "the sign-in page after a wrong password")
    _sign_in(page)

    page.goto("/jobs")
    expect(page.locator("#jobs tbody tr").first).to_be_visible()
    assert_accessible(page, "the jobs page")

    page.goto("/backtests/new")
    assert_accessible(page, "the new-backtest form")
    # The same form refused by the server: messages next to the fields, aria-invalid set.
    page.select_option("#strategy", "sma_cross")
    page.fill("input[name='p.sma_cross.fast']", "40")
    page.fill("input[name='p.sma_cross.slow']", "20")
    page.click("#job-form button[type=submit]")
    expect(page.locator(".field-error, p.error").first).to_be_visible()
    assert_accessible(page, "the new-backtest form with errors")

    page.goto("/sweeps/new")
    page.select_option("#strategy", "sma_cross")
    page.fill("input[name='g.sma_cross.fast']", "5,10")
    expect(page.locator("#combinations")).to_contain_text("combinations")
    assert_accessible(page, "the new-sweep form")

    page.goto(f"/backtests/{first}")
    expect(page.locator("#charts[data-drawn]")).to_be_attached()
    page.wait_for_timeout(500)  # the canvases paint on the next animation frame
    if shots:
        page.screenshot(path=str(shots / "result.png"))
    assert_accessible(page, "a finished backtest's result page")

    page.goto(f"/sweeps/{jobs['sweep']}")
    expect(page.locator("canvas#heatmap[data-drawn='9']")).to_be_attached()
    if shots:
        page.screenshot(path=str(shots / "sweep.png"))
    assert_accessible(page, "a finished sweep's page")

    page.goto("/compare")
    assert_accessible(page, "the compare page before choosing")
    page.goto(f"/compare?id={first}&id={second}")
    expect(page.locator("#compare-chart[data-drawn]")).to_be_attached()
    assert_accessible(page, "the compare page with two backtests")

    page.goto("/strategies")
    expect(page.locator(f"#strategies tr[data-name='{jobs['strategy']}']")).to_be_visible()
    assert_accessible(page, "the strategies list")
    page.goto("/strategies/new")
    expect(page.locator("#editor .cm-editor")).to_be_visible()
    assert_accessible(page, "the new-strategy editor")
    page.goto(f"/strategies/{jobs['strategy']}/edit")
    expect(page.locator("#editor .cm-editor")).to_be_visible()
    page.click("#check")
    expect(page.locator("#check-status")).to_contain_text("No mistakes")
    if shots:
        page.screenshot(path=str(shots / "strategy-editor.png"))
    assert_accessible(page, "a saved strategy in the editor")

    page.goto("/account")
    assert_accessible(page, "the account page")

    assert page.goto("/candles/upload").status == 403
    assert_accessible(page, "the candle upload page refused to a user without the data role")
    _cli(stack, "users", "set-role", "alice", "data")
    try:
        assert page.goto("/candles/upload").status == 200
        assert_accessible(page, "the candle upload form")
    finally:
        _cli(stack, "users", "set-role", "alice", "user")

    response = page.goto("/backtests/999999999")
    assert response.status == 404
    assert_accessible(page, "the 404 page")

    page.click("header nav button[type=submit]")  # sign out
    page.wait_for_url(re.compile(r"/login"))
    assert_accessible(page, "the sign-in page after signing out")

    found = [p for p in problems if p]
    assert not found, "serious or critical accessibility violations:\n" + "\n".join(found)
    assert page.js_errors == [], "\n".join(page.js_errors)
