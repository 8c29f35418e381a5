"""How numbers read on the result page: units, missing values, every engine metric named."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from app import formats as f
from app import metric_formats as mf
from engine.metrics import METRIC_KEYS


@pytest.mark.parametrize(("value", "kind", "text"), [
    (12.3456, f.PERCENT, "12.35%"),
    (-7.9185, f.PERCENT, "-7.92%"),
    (1234.5, f.PERCENT, "1,234.50%"),
    (-0.0038, f.FRACTION, "-0.38%"),
    (10329.634, f.MONEY, "10,329.63"),
    (0.47234, f.RATIO, "0.47"),
    (279, f.COUNT, "279"),
    (12345, f.COUNT, "12,345"),
    (7_384_000.0, f.DURATION, "85 d 11 h"),
    (86_400.0, f.DURATION, "1 d 0 h"),
    (5_100.0, f.DURATION, "1 h 25 min"),
    (7_200.0, f.DURATION, "2 h"),
    (910.54, f.DURATION, "15 min 11 s"),
    (42.0, f.DURATION, "42 s"),
    (95.80370354152394, f.PRICE, "95.8037"),
    (0.000123456789, f.PRICE, "0.000123457"),
    (43210.5, f.PRICE, "43,210.5"),
    ("2024-01-02T07:00:00Z", f.TIME, "2024-01-02 07:00"),
    ("2024-01-02T07:00:00.250Z", f.TIME, "2024-01-02 07:00"),
])
def test_each_kind_has_its_format(value, kind, text):
    assert f.fmt(value, kind) == text


@pytest.mark.parametrize(("value", "kind", "text"), [
    (-1.7143000183116176e20, f.RATIO, "-1.71 × 10²⁰"),
    (5.0e12, f.PERCENT, "5.00 × 10¹²%"),
    (9.999e9, f.NUMBER, "1.00 × 10¹⁰"),
    (999_999_999.0, f.MONEY, "999,999,999.00"),
])
def test_huge_numbers_read_as_powers_of_ten(value, kind, text):
    assert f.fmt(value, kind) == text


def test_money_carries_the_currency_when_there_is_one():
    assert f.fmt(1500, f.MONEY, "USD") == "1,500.00 USD"


@pytest.mark.parametrize("kind", sorted(f.KINDS))
@pytest.mark.parametrize("value", [None, math.nan, math.inf, -math.inf])
def test_missing_and_undefined_values_are_an_em_dash(kind, value):
    assert f.fmt(value, kind) == "—"


def test_no_exponent_and_no_raw_float_anywhere():
    for v in (1e-7, 7.384e6, 1.103e4, 123456789.123):
        for kind in (f.PERCENT, f.MONEY, f.RATIO, f.PRICE, f.NUMBER, f.DURATION):
            assert "e" not in f.fmt(v, kind).replace("min", "").replace("d ", ""), (v, kind)


def test_every_engine_metric_has_a_name_group_unit_and_explanation():
    assert set(METRIC_KEYS) <= set(mf.METRICS)
    for key, m in mf.METRICS.items():
        assert m.group in mf.GROUPS and m.kind in f.KINDS, key
        assert m.name and "_" not in m.name, key
        assert m.explanation.endswith(".") and len(m.explanation) < 160, key


@pytest.mark.parametrize(("key", "kind"), [("max_drawdown_duration_s", f.DURATION),
                                           ("win_rate_pct", f.PERCENT), ("sharpe", f.RATIO),
                                           ("equity_final", f.MONEY), ("trades", f.COUNT)])
def test_units_follow_the_engine(key, kind):
    """engine/metrics.py: *_pct in percent, *_s in seconds, equity in cash."""
    assert mf.METRICS[key].kind == kind


def test_headline_is_the_tearsheet_row_in_order():
    names = [s.name for s in mf.headline({"return_pct": 3.3, "sharpe": None, "trades": 279})]
    assert names == ["Total return", "CAGR", "Sharpe ratio", "Max. drawdown", "Trades",
                     "Win rate", "Exposure time"]
    texts = [s.text for s in mf.headline({"return_pct": 3.3, "sharpe": None, "trades": 279})]
    assert texts == ["3.30%", "—", "—", "—", "279", "—", "—"]


def test_an_unknown_metric_still_shows_under_other():
    groups = dict(mf.grouped({"sharpe": 1.234, "ulcer_index_pct": 4.5, "time_in_market_s": 90000.0,
                              "new_count": 3, "flag": "yes", "weird": math.nan}))
    assert [s.text for s in groups["Risk"]] == ["1.23"]
    other = {s.name: s.text for s in groups["Other"]}
    assert other == {"Flag": "yes", "New count": "3", "Time in market": "1 d 1 h",
                     "Ulcer index": "4.50%", "Weird": "—"}
    assert list(groups) == ["Risk", "Other"]


def test_signs_colour_returns_but_not_drawdowns():
    assert mf.shown("return_pct", -2.0).css == "negative"
    assert mf.shown("return_pct", 2.0).css == "positive"
    assert mf.shown("max_drawdown_pct", -2.0).css == ""


@pytest.mark.parametrize(("value", "css"), [(None, "heat-none"), (0.0, "heat-zero"),
                                            (0.4, "heat-pos-1"), (1.0, "heat-pos-2"),
                                            (-4.0, "heat-neg-3"), (-25.0, "heat-neg-4"),
                                            (math.nan, "heat-none")])
def test_heat_levels(value, css):
    assert f.signed_level(value) == css


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def test_heatmap_text_keeps_wcag_aa_contrast():
    css = (Path(__file__).parents[3] / "app" / "static" / "app.css").read_text()
    rules = re.findall(r"\.(heat-[a-z]+(?:-\d)?) \{([^}]*)\}", css)
    assert len(rules) == 10
    for name, body in rules:
        bg = re.search(r"background: (#[0-9a-f]{6})", body).group(1)
        fg = (re.search(r"[^-]color: (#[0-9a-f]{6})", " " + body) or [None, "#1d2330"])[1]
        hi, lo = sorted((_luminance(bg), _luminance(fg)), reverse=True)
        assert (hi + 0.05) / (lo + 0.05) >= 4.5, name
