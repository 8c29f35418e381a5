"""The backtest and sweep forms: dates from the stored series, strategies by display name, no
error on a fresh form, and sizing sent through the same spec as the API's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.backtests.forms import SIZING_CHOICES
from engine.simulator import SIZINGS
from tests.support.candles import T0, minutes
from tests.unit.app.test_pages import FORM, post_form
from tests.unit.app.test_strategy_pages import _save

STATIC = Path(__file__).resolve().parents[3] / "app" / "static"
HOUR = 3600 * 10**9
DAY = 24 * HOUR
FORMS = ("/backtests/new", "/sweeps/new")


def _input(page: str, name: str) -> dict[str, str]:
    tag = re.search(rf'<input [^>]*name="{re.escape(name)}"[^>]*>', page).group(0)
    return dict(re.findall(r'\s([\w-]+)(?:="([^"]*)")?', tag[len("<input"):]))


def _ranges(page: str) -> dict:
    block = re.search(r'<script type="application/json" id="series-ranges">(.*?)</script>', page)
    return json.loads(block.group(1))


@pytest.mark.parametrize("path", FORMS)
def test_start_and_end_are_the_series_range_and_bounded_by_it(client, path):
    # DEMO is 1m bars from 2024-01-01 00:00 to 2024-01-03 23:59; the end is exclusive.
    page = client.get(path).get_data(as_text=True)
    start, end = _input(page, "start"), _input(page, "end")
    assert (start["value"], start["min"], start["max"]) == ("2024-01-01", "2024-01-01", "2024-01-03")
    assert (end["value"], end["min"], end["max"]) == ("2024-01-04", "2024-01-02", "2024-01-04")
    # Every offered timeframe carries its bounds, for the page to follow the choice.
    assert _ranges(page)["DEMO"]["4h"] == {"start": ["2024-01-01", "2024-01-03"],
                                          "end": ["2024-01-02", "2024-01-04"]}


def test_the_prefilled_dates_submit_as_they_are(client):
    page = client.get("/backtests/new").get_data(as_text=True)
    dates = {k: _input(page, k)["value"] for k in ("start", "end")}
    r = post_form(client, "/backtests/new", {**FORM, "timeframe": "1m", **dates})
    assert r.status_code == 302, r.get_data(as_text=True)


def test_each_series_and_timeframe_has_its_own_range(app, client, store):
    store.write("XYZ", "1h", minutes(10 * 24, start=T0 - 200 * DAY, step=HOUR, seed=2))
    store.write("DEMO", "1d", minutes(300, start=T0 - 400 * DAY, step=DAY, seed=3))
    if app.extensions["quantgrid"]["inventory"] is not None:  # made on the first request
        app.extensions["quantgrid"]["inventory"].invalidate()
    page = client.get("/backtests/new?strategy=sma_cross&symbol=XYZ&timeframe=4h"
                      ).get_data(as_text=True)
    assert _input(page, "start")["value"] == "2023-06-15"  # T0 - 200 days
    assert _input(page, "end")["value"] == "2023-06-25"
    assert re.search(r'<option value="XYZ"[^>]*selected', page)
    ranges = _ranges(page)
    assert ranges["XYZ"]["4h"] == ranges["XYZ"]["1h"]  # resampled from the stored 1h
    assert ranges["DEMO"]["1d"]["start"] == ["2022-11-27", "2023-09-22"]  # its own bars
    assert ranges["DEMO"]["5m"] == ranges["DEMO"]["1m"]  # resampled from 1m, not from 1d


def test_a_range_outside_the_series_is_refused_by_the_spec(client, api):
    bad = {**FORM, "start": "2023-03-01", "end": "2023-03-10"}
    r = post_form(client, "/backtests/new", bad)
    page = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "DEMO 1h has candles from 2024-01-01 00:00 to 2024-01-03 23:59 UTC only" in page
    assert _input(page, "start")["value"] == "2023-03-01"  # what was sent, not the default
    assert _input(page, "start")["aria-invalid"] == "true"
    r = api.post("/api/v1/backtests", json={"strategy": "sma_cross", "symbol": "DEMO",
                                            "timeframe": "1h", "start": "2023-03-01",
                                            "end": "2023-03-10"})
    assert r.status_code == 400 and "choose a start and an end in that range" in (
        r.get_json()["error"]["fields"]["start"])


@pytest.mark.parametrize("path", FORMS)
def test_strategies_are_shown_by_display_name_with_a_summary(client, path):
    _save(client, "my_cross")
    page = client.get(path).get_data(as_text=True)
    assert re.search(r'<option value="sma_cross"[^>]*>SMA cross</option>', page)
    assert re.search(r'<option value="bollinger_reversion"[^>]*>Bollinger reversion</option>',
                     page)
    assert re.search(r'<option value="my_cross"[^>]*>my_cross \(version 1\)</option>', page)
    summary = re.search(r'<p class="hint strategy-summary" data-strategy="sma_cross"[^>]*>([^<]+)',
                        page).group(1)
    assert "simple moving average" in summary
    own = re.search(r'data-strategy="my_cross"[^>]*>([^<]+)</p>', page).group(1)
    assert "fast simple moving average" in own  # a saved strategy's first line
    # Only the chosen strategy's summary shows before any script runs.
    assert len(re.findall(r'class="hint strategy-summary"[^>]*>', page)) == 7
    assert len(re.findall(r'class="hint strategy-summary"[^>]* hidden>', page)) == 6


@pytest.mark.parametrize("path", FORMS)
def test_a_fresh_form_says_nothing_is_wrong(client, path):
    page = client.get(path).get_data(as_text=True)
    form = page.split('<form method="post" action="' + path)[1].split("</form>")[0]
    for marker in ("field-error", "aria-invalid", 'class="error"', "not valid", "touched",
                   "submitted", "user-invalid"):
        assert marker not in form, marker


def test_the_css_marks_a_field_invalid_only_once_touched():
    css = re.sub(r"/\*.*?\*/", "", (STATIC / "app.css").read_text(), flags=re.S)
    for rule in re.findall(r"([^{}]*):(?:user-)?invalid[^{}]*\{", css):
        for selector in rule.split(","):
            assert ".touched" in selector or ".submitted" in selector or not selector.strip(), (
                f"{selector.strip()!r} styles a field that nobody has touched")
    js = (STATIC / "js" / "forms.js").read_text()
    assert 'classList.add("touched")' in js and 'classList.add("submitted")' in js
    # The sweep page's count keeps its hint until the user has typed or chosen something.
    sweep = (STATIC / "js" / "sweep-form.js").read_text()
    assert "touched ? j.error.message : hint" in sweep


def test_every_sizing_has_a_label_and_only_all_in_takes_no_size():
    assert list(SIZING_CHOICES) == list(SIZINGS)
    assert [k for k, (_, size) in SIZING_CHOICES.items() if size is None] == ["all_in"]


def test_the_size_field_shows_only_for_a_sizing_that_needs_one(client):
    page = client.get("/backtests/new").get_data(as_text=True)
    assert re.search(r'<option value="all_in" selected>', page)
    assert re.search(r'<label id="size-field" hidden>', page)
    assert "disabled" in _input(page, "settings.size")
    for key in ("equity_fraction", "cash", "units"):
        assert re.search(rf'<span class="size-label" data-sizing="{key}" hidden>', page)


SIZED = [
    ({"settings.sizing": "all_in"}, {"sizing": "all_in", "size": None, "fractional": False}),
    ({"settings.sizing": "equity_fraction", "settings.size": "0.5"},
     {"sizing": "equity_fraction", "size": 0.5, "fractional": False}),
    ({"settings.sizing": "cash", "settings.size": "2500"},
     {"sizing": "cash", "size": 2500.0, "fractional": False}),
    ({"settings.sizing": "units", "settings.size": "3"},
     {"sizing": "units", "size": 3.0, "fractional": False}),
    ({"settings.sizing": "units", "settings.size": "0.25", "settings.fractional": "on"},
     {"sizing": "units", "size": 0.25, "fractional": True}),
]


@pytest.mark.parametrize(("fields", "expected"), SIZED)
def test_each_sizing_submitted_by_the_form_makes_a_job_with_it(client, api, fields, expected):
    r = post_form(client, "/backtests/new", {**FORM, **fields})
    assert r.status_code == 302, r.get_data(as_text=True)
    job_id = int(r.headers["Location"].rsplit("/", 1)[1])
    settings = api.get(f"/api/v1/backtests/{job_id}").get_json()["settings"]
    assert {k: settings[k] for k in expected} == expected
    # "Run again" offers the same sizing, its size and the fractional choice.
    again = client.get(f"/backtests/new?from={job_id}").get_data(as_text=True)
    assert re.search(rf'<option value="{expected["sizing"]}" selected>', again)
    size = _input(again, "settings.size")
    assert size["value"] == ("" if expected["size"] is None else f"{expected['size']}")
    assert ("disabled" in size) == (expected["size"] is None)
    assert ("checked" in _input(again, "settings.fractional")) == expected["fractional"]


BAD = [
    ({"settings.sizing": "equity_fraction", "settings.size": "1.5"}, "settings.size",
     "a fraction of equity in (0, 1]"),
    ({"settings.sizing": "cash"}, "settings.size", "sizing='cash' needs a size"),
    ({"settings.sizing": "units", "settings.size": "2.5"}, "settings.size",
     "use fractional=True or a whole number"),
    ({"settings.sizing": "units", "settings.size": "many"}, "settings.size", "must be a number"),
    ({"settings.sizing": "all_in", "settings.size": "3"}, "settings.size",
     "size is not used with sizing='all_in'"),
    ({"settings.sizing": "martingale"}, "settings.sizing", "sizing must be one of"),
]


@pytest.mark.parametrize(("fields", "field", "message"), BAD)
@pytest.mark.parametrize("path", FORMS)
def test_a_bad_sizing_gives_the_form_back_with_the_specs_message(client, api, path, fields,
                                                                 field, message):
    form = {**FORM, **fields}
    if path == "/sweeps/new":
        form |= {"g.sma_cross.fast": "5,10", "g.sma_cross.slow": "20"}
    r = post_form(client, path, form)
    page = r.get_data(as_text=True)
    assert r.status_code == 400
    shown = re.search(rf'<span class="field-error" data-field="{field}"[^>]*>([^<]+)', page)
    assert shown and message in shown.group(1).replace("&#39;", "'")
    # The API says the same about the same field.
    body = {"strategy": "sma_cross", "symbol": "DEMO", "timeframe": "1h", "start": "2024-01-01",
            "end": "2024-01-03", "settings": {k[9:]: v for k, v in fields.items()}}
    fields_api = api.post("/api/v1/backtests", json=body).get_json()["error"]["fields"]
    assert message in fields_api[field]


def test_the_sweep_form_ranks_by_the_metrics_human_names(client):
    page = client.get("/sweeps/new").get_data(as_text=True)
    assert '<option value="sharpe" selected>Sharpe ratio</option>' in page
    assert '<option value="max_drawdown_pct" >Max. drawdown</option>' in page
