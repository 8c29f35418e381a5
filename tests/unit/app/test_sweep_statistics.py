"""A finished sweep's results carry the DSR of its best combination and its PBO, computed from the
research statistics its chunks stored; the sweep page explains them to a trader."""

from __future__ import annotations

import numpy as np
import pytest

from quantgrid.db import sweeps
from quantgrid.jobs import run
from tests.support.candles import minutes

from .conftest import BACKTEST, sign_in

HOUR = 3_600 * 10**9
# 60 days of hourly bars: 60 daily returns, enough for 16 blocks of the range (2 or more each)
LONG = {**BACKTEST, "symbol": "LONGER", "start": "2024-01-01", "end": "2024-03-01",
        "grid": {"fast": "2:12:2", "slow": "20:40:10"}, "metric": "sharpe"}


@pytest.fixture
def longer(store):
    store.write("LONGER", "1h", minutes(60 * 24, seed=5, step=HOUR))


def _run_all(db, store, settings, sweep_id):
    res = run.Resources(db, lambda: store, settings, "test")
    with db.read() as s:
        chunks = sweeps.list_chunks(s, sweep_id)
    for chunk in chunks:
        assert run.run_sweep_chunk(res, chunk.id, run.Attempt("w")).status == "succeeded"
    return chunks


def test_results_of_a_finished_sweep_carry_its_dsr_and_pbo(api, db, store, settings, longer):
    created = api.post("/api/v1/sweeps", json=LONG).get_json()
    pending = api.get(f"/api/v1/sweeps/{created['id']}/results").get_json()["statistics"]
    assert pending["pbo"] == {"available": False,
                              "reason": "available once the sweep has finished"}
    _run_all(db, store, settings, created["id"])
    body = api.get(f"/api/v1/sweeps/{created['id']}/results").get_json()
    assert body["sweep"]["status"] == "succeeded"
    dsr, pbo = body["statistics"]["deflated_sharpe"], body["statistics"]["pbo"]
    assert dsr["available"] and pbo["available"], body["statistics"]
    assert dsr["trials"] == created["total"] == pbo["trials"]
    assert 0 <= dsr["dsr"] <= 1 and dsr["sr0"] > 0 and dsr["observations"] >= 58
    assert 0 <= pbo["pbo"] <= 1 and pbo["combinations"] == 12_870 and pbo["blocks"] == 16
    assert pbo["logits"]["p5"] <= pbo["logits"]["median"] <= pbo["logits"]["p95"]
    # the chunk stored one research row per combination
    with db.read() as s:
        rows = sweeps.research_rows(s, created["id"])
    assert rows.missing == 0
    assert rows.index.tolist() == list(range(created["total"]))
    assert rows.matrix.shape == (created["total"], 53) and np.all(rows.matrix[:, 0] >= 58)


def test_a_sweep_of_one_combination_or_too_few_bars_says_why(api, db, store, settings, longer):
    one = api.post("/api/v1/sweeps", json={**LONG, "grid": {"fast": 5, "slow": 20}}).get_json()
    _run_all(db, store, settings, one["id"])
    stats = api.get(f"/api/v1/sweeps/{one['id']}/results").get_json()["statistics"]
    assert not stats["deflated_sharpe"]["available"] and not stats["pbo"]["available"]
    assert "evaluated 1" in stats["pbo"]["reason"]
    short = api.post("/api/v1/sweeps", json={**LONG, "end": "2024-01-10"}).get_json()
    _run_all(db, store, settings, short["id"])
    stats = api.get(f"/api/v1/sweeps/{short['id']}/results").get_json()["statistics"]
    assert "too few for 16 blocks" in stats["pbo"]["reason"]
    assert stats["deflated_sharpe"]["available"]


def test_chunks_evaluated_before_the_statistics_existed_make_them_unavailable(
        api, db, store, settings, longer):
    created = api.post("/api/v1/sweeps", json=LONG).get_json()
    _run_all(db, store, settings, created["id"])
    with db.write() as s:
        for chunk in sweeps.list_chunks(s, created["id"]):
            chunk.research = None
    stats = api.get(f"/api/v1/sweeps/{created['id']}/results").get_json()["statistics"]
    assert "run the sweep again" in stats["pbo"]["reason"]


def test_the_sweep_page_explains_dsr_and_pbo(app, db, store, settings, alice, longer, api):
    created = api.post("/api/v1/sweeps", json=LONG).get_json()
    _run_all(db, store, settings, created["id"])
    stats = api.get(f"/api/v1/sweeps/{created['id']}/results").get_json()["statistics"]
    client = app.test_client()
    sign_in(client)
    html = client.get(f"/sweeps/{created['id']}").get_data(as_text=True)
    dsr = stats["deflated_sharpe"]
    assert f"DSR {dsr['dsr']:.2f}" in html
    assert f"after allowing for the {created['total']} combinations tried" in html
    # DSR is the probability of beating what luck alone reaches (SR0), not of beating zero.
    assert f"true Sharpe ratio beats the {dsr['sr0']:.2f} per period" in html
    assert f"PBO {stats['pbo']['pbo']:.2f}" in html
    assert "in-sample best ranked in the bottom half out of sample" in html


def test_the_results_with_statistics_match_the_openapi_schema(api, db, store, settings, longer):
    import schemathesis
    from schemathesis.core.transport import Response

    from app.api.openapi import document

    operation = schemathesis.openapi.from_dict(document())["/sweeps/{sweep_id}/results"]["GET"]
    one = api.post("/api/v1/sweeps", json={**LONG, "grid": {"fast": 5, "slow": 20}}).get_json()
    many = api.post("/api/v1/sweeps", json=LONG).get_json()
    for created in (one, many):
        for finished in (False, True):
            if finished:
                _run_all(db, store, settings, created["id"])
            r = api.get(f"/api/v1/sweeps/{created['id']}/results")
            response = Response(status_code=r.status_code, headers={
                k.lower(): [v] for k, v in r.headers.items()}, content=r.data, request=None,
                elapsed=0.0, verify=False)
            operation.validate_response(response)


def test_the_sweep_pages_best_results_read_like_the_result_page(app, db, store, settings, alice,
                                                                longer, api):  # fmt: skip
    """Human names, formatted values (the number kept for sorting) and sort buttons a keyboard
    reaches, not the engine's keys and %.4g."""
    created = api.post("/api/v1/sweeps", json=LONG).get_json()
    _run_all(db, store, settings, created["id"])
    best = api.get(f"/api/v1/sweeps/{created['id']}/results").get_json()["items"]
    client = app.test_client()
    sign_in(client)
    html = client.get(f"/sweeps/{created['id']}").get_data(as_text=True)
    table = html.split('id="top"')[1].split("</table>")[0]
    for name in ("Sharpe ratio", "Total return", "Max. drawdown", "Trades"):
        assert f'<button type="button" class="sort">{name}</button>' in table
    returns = [r["metrics"]["return_pct"] for r in best if r["metrics"].get("return_pct") is not None]
    shown = next(v for v in returns if f'data-value="{v}">{v:,.2f}%</td>' in table)
    assert shown is not None
    assert ">return_pct<" not in table and ">sharpe<" not in table
    assert '<option value="return_pct"' in html and ">Total return</option>" in html
