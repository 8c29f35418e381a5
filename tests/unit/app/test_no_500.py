"""Inputs at the edges of their types answer 4xx with a message, never 500 (found by audit).

Dates whose zone pushes them outside what datetime holds, ids and page numbers past what the
database's integers hold, and a form's prefill that is not the shape the template expects.
"""

from __future__ import annotations

import pytest

from tests.unit.app.conftest import BACKTEST

HUGE = 10**30


@pytest.mark.parametrize("field", ["start", "end"])
@pytest.mark.parametrize("value", ["0001-01-01T00:00+01:00", "9999-12-31T23:00-05:00"])
def test_dates_that_overflow_with_their_zone_are_400(api, field, value):
    r = api.post("/api/v1/backtests", json={**BACKTEST, field: value})
    assert r.status_code == 400, r.get_data(as_text=True)
    assert field in r.get_json()["error"]["fields"]


@pytest.mark.parametrize("path", [f"/api/v1/backtests/{HUGE}", f"/api/v1/sweeps/{HUGE}",
                                  f"/api/v1/backtests/{HUGE}/result",
                                  f"/api/v1/backtests/{2**31}"])
def test_ids_past_the_database_integers_are_404(api, path):
    r = api.get(path)
    assert r.status_code == 404, r.get_data(as_text=True)
    assert r.get_json()["error"]["code"]


@pytest.mark.parametrize("path", [f"/backtests/{HUGE}", f"/sweeps/{HUGE}",
                                  f"/compare?id={HUGE}&id=1", f"/backtests/new?from={HUGE}",
                                  f"/jobs?page={HUGE}", "/jobs?page=-1",
                                  f"/api/v1/backtests?offset={HUGE}"])
def test_pages_with_huge_numbers_are_not_500(client, api, path):
    r = (api if path.startswith("/api") else client).get(path)
    assert r.status_code < 500, (path, r.status_code)


@pytest.mark.parametrize("params", ["[1]", "1", "null", '"x"', "{"])
def test_a_form_prefill_of_the_wrong_shape_is_not_500(client, params):
    r = client.get("/backtests/new", query_string={"strategy": "sma_cross", "params": params})
    assert r.status_code < 500, r.status_code
