"""The sweep page's top table: each row opens the full backtest of its combination."""

from __future__ import annotations

import re

from quantgrid.db import backtests as bt
from quantgrid.db import sweeps
from tests.unit.app.conftest import csrf_of, sign_in

SWEEP = {"strategy": "sma_cross", "symbol": "DEMO", "timeframe": "1h", "start": "2024-01-01",
         "end": "2024-01-03", "settings.cash": "10000", "settings.commission": "0.001",
         "g.sma_cross.fast": "5:20:5", "g.sma_cross.slow": "20,40", "metric": "sharpe"}


def _finished_sweep(client, db) -> int:
    """Submit alice's sweep through the form and do what workers do: score every combination."""
    token = csrf_of(client.get("/sweeps/new").get_data(as_text=True))
    r = client.post("/sweeps/new", data={**SWEEP, "csrf_token": token})
    assert r.status_code == 302
    sweep_id = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    with db.write() as s:
        for chunk in sweeps.list_chunks(s, sweep_id):
            assert sweeps.start_chunk(s, chunk.id, "test-worker") is not None
            size = chunk.last - chunk.first
            # Distinct scores, best last, so the table's order differs from the grid's.
            sharpe = [float(chunk.first + i) for i in range(size)]
            assert sweeps.finish_chunk(s, chunk.id, {"sharpe": sharpe, "return_pct": sharpe})
    return sweep_id


def _row_actions(html: str) -> list[str]:
    return re.findall(r'<form method="post"[^>]*action="(/sweeps/\d+/rows/\d+/backtest)"', html)


def _open_row(client, sweep_id: int, action: str):
    token = csrf_of(client.get(f"/sweeps/{sweep_id}").get_data(as_text=True))
    return client.post(action, data={"csrf_token": token})


def _alice_backtests(db, alice):
    with db.read() as s:
        return [(j.id, j.params, j.symbol, j.timeframe, j.start_at, j.end_at, j.settings, j.status)
                for j in bt.list_backtests(s, _Viewer(alice), limit=50)]


class _Viewer:
    is_admin = False

    def __init__(self, uid: int) -> None:
        self.id = uid


def test_row_opens_one_backtest_of_exactly_that_combination_and_reuses_it(client, db, alice):
    sweep_id = _finished_sweep(client, db)
    html = client.get(f"/sweeps/{sweep_id}").get_data(as_text=True)
    actions = _row_actions(html)
    assert len(actions) == 7, "every scored combination has its row action"
    top = actions[0]  # the best combination: grid index 6 = fast 20, slow 40
    assert top.endswith("/rows/6/backtest")
    with db.read() as s:
        sweep = sweeps.get_sweep(s, sweep_id)
        combo = next(r.params for r in sweeps.grid_results(s, sweep_id) if r.index == 6)
    assert combo == {"fast": 20, "slow": 40}

    r = _open_row(client, sweep_id, top)
    assert r.status_code == 303
    job_id = int(r.headers["Location"].rsplit("/", 1)[1])
    assert r.headers["Location"].endswith(f"/backtests/{job_id}")
    [(jid, params, symbol, tf, start, end, settings, status)] = _alice_backtests(db, alice)
    assert (jid, params, symbol, tf) == (job_id, combo, "DEMO", "1h")
    assert (start, end, settings) == (sweep.start_at, sweep.end_at, sweep.settings)
    assert status.value == "queued"
    assert client.get(r.headers["Location"]).status_code == 200

    again = _open_row(client, sweep_id, top)
    assert again.status_code == 303 and again.headers["Location"] == r.headers["Location"]
    assert len(_alice_backtests(db, alice)) == 1, "a second click must not queue a second run"

    other = _open_row(client, sweep_id, actions[1])  # another combination: its own backtest
    assert other.headers["Location"] != r.headers["Location"]
    assert sorted(p["fast"] * 100 + p["slow"] for _, p, *_ in _alice_backtests(db, alice)) == [
        1540, 2040]


def test_a_failed_backtest_is_not_reused(client, db, alice):
    sweep_id = _finished_sweep(client, db)
    action = _row_actions(client.get(f"/sweeps/{sweep_id}").get_data(as_text=True))[0]
    first = int(_open_row(client, sweep_id, action).headers["Location"].rsplit("/", 1)[1])
    with db.write() as s:
        assert bt.fail_backtest(s, first, "boom")
    second = int(_open_row(client, sweep_id, action).headers["Location"].rsplit("/", 1)[1])
    assert second != first


def test_another_users_sweep_is_404_and_admin_may(app, client, db, alice, bob, admin):
    sweep_id = _finished_sweep(client, db)
    action = _row_actions(client.get(f"/sweeps/{sweep_id}").get_data(as_text=True))[0]
    intruder = app.test_client()
    assert sign_in(intruder, "bob").status_code == 302
    token = csrf_of(intruder.get("/jobs").get_data(as_text=True))
    assert intruder.post(action, data={"csrf_token": token}).status_code == 404
    assert intruder.post(f"/sweeps/{sweep_id}/rows/999/backtest",
                         data={"csrf_token": token}).status_code == 404
    assert _alice_backtests(db, alice) == [] and _alice_backtests(db, bob) == []

    root = app.test_client()
    assert sign_in(root, "root").status_code == 302
    r = _open_row(root, sweep_id, action)
    assert r.status_code == 303
    with db.read() as s:
        job = bt.get_backtest(s, int(r.headers["Location"].rsplit("/", 1)[1]))
    assert job.owner_id == admin and job.params == {"fast": 20, "slow": 40}


def test_unknown_combination_is_404(client, db):
    sweep_id = _finished_sweep(client, db)
    token = csrf_of(client.get(f"/sweeps/{sweep_id}").get_data(as_text=True))
    r = client.post(f"/sweeps/{sweep_id}/rows/7/backtest", data={"csrf_token": token})
    assert r.status_code == 404


def test_row_action_without_csrf_is_refused(client, db, alice):
    sweep_id = _finished_sweep(client, db)
    action = _row_actions(client.get(f"/sweeps/{sweep_id}").get_data(as_text=True))[0]
    assert client.post(action).status_code == 400
    assert client.get(action).status_code == 405
    assert _alice_backtests(db, alice) == []


def test_quota_error_shows_the_usual_message(client, db, settings):
    sweep_id = _finished_sweep(client, db)
    actions = _row_actions(client.get(f"/sweeps/{sweep_id}").get_data(as_text=True))
    form = {"strategy": "sma_cross", "symbol": "DEMO", "timeframe": "1h", "start": "2024-01-01",
            "end": "2024-01-02", "p.sma_cross.fast": "3", "p.sma_cross.slow": "9"}
    for _ in range(settings.quota_max_queued_jobs):  # fill the queue with other backtests
        token = csrf_of(client.get("/backtests/new").get_data(as_text=True))
        assert client.post("/backtests/new", data={**form, "csrf_token": token}).status_code == 302
    r = _open_row(client, sweep_id, actions[0])
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/sweeps/{sweep_id}")
    assert "limit is 10" in client.get(r.headers["Location"]).get_data(as_text=True)
