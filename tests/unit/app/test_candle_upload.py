"""Candle upload from the web: who may, the CLI's guarantees (every line checked before anything
is written), the bad lines listed, the size limit, and the new series in the job forms at once."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app import create_app
from quantgrid.candles.csvfile import write_csv
from quantgrid.db import users
from tests.support.candles import minutes
from tests.unit.app.conftest import PASSWORD, csrf_of, sign_in


@pytest.fixture
def dana(db):
    with db.write() as s:
        return users.create_user(s, "dana", PASSWORD, role="data").id


def _client(app, username):
    c = app.test_client()
    assert sign_in(c, username).status_code == 302
    return c


def _csv(n: int = 120, seed: int = 3) -> bytes:
    text = io.StringIO()
    write_csv(minutes(n, seed=seed), text)
    return text.getvalue().encode()


def _post(c, body: bytes, symbol="UPL", timeframe="1m", filename="bars.csv", token=None):
    if token is None:
        token = csrf_of(c.get("/candles/upload").get_data(as_text=True))
    data = {"symbol": symbol, "timeframe": timeframe, "csrf_token": token,
            "file": FileStorage(io.BytesIO(body), filename, content_type="text/csv")}
    # Encoded here, in memory: the test client spools a large body to a temporary file that
    # nothing closes (a ResourceWarning, an error under filterwarnings=error).
    boundary, encoded = encode_multipart(data)
    return c.post("/candles/upload", data=encoded,
                  content_type=f"multipart/form-data; boundary={boundary}")


@pytest.mark.parametrize("who", ["root", "dana"])
def test_admin_and_data_role_upload_and_the_series_reaches_the_job_forms(app, store, admin,
                                                                       dana, who):
    c = _client(app, who)
    assert c.get("/backtests/new").status_code == 200  # the inventory, computed before
    jobs = c.get("/jobs").get_data(as_text=True)
    assert 'href="/candles/upload"' in jobs  # in the nav
    response = _post(c, _csv(120))
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "Stored 120 UPL 1m bars, from 2024-01-01T00:00:00Z to 2024-01-01T01:59:00Z" in page
    assert len(store.read("UPL", "1m")) == 120
    # At once, not after the inventory's max_age: the forms and the API list the new series.
    assert "UPL" in c.get("/backtests/new").get_data(as_text=True)
    symbols = c.get("/api/v1/symbols").get_json()["items"]
    assert "1m" in next(s for s in symbols if s["symbol"] == "UPL")["timeframes"]
    assert re.search(r"<td>UPL</td><td>1m</td>", page)  # the page's table of stored series


def test_a_plain_user_may_not_upload(app, client, store):
    assert 'href="/candles/upload"' not in client.get("/jobs").get_data(as_text=True)
    page = client.get("/candles/upload")
    assert page.status_code == 403
    assert "Only admins and users with the data role may upload candles" in \
        page.get_data(as_text=True)
    token = csrf_of(client.get("/jobs").get_data(as_text=True))
    assert _post(client, _csv(), token=token).status_code == 403
    assert "UPL" not in {s.symbol for s in store.symbols()}


def test_signed_out_is_sent_to_sign_in(app):
    assert app.test_client().get("/candles/upload").status_code == 302


def test_a_file_with_bad_lines_lists_them_and_stores_nothing(app, store, dana):
    c = _client(app, "dana")
    lines = _csv(80).decode().splitlines()
    for n in range(2, 62):  # 60 bad lines: close above high
        fields = lines[n].split(",")
        fields[4] = "999999"
        lines[n] = ",".join(fields)
    response = _post(c, ("\n".join(lines) + "\n").encode())
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Nothing was stored" in page
    listed = re.findall(r"<li>line (\d+): close 999999\.0 is outside", page)
    assert [int(x) for x in listed] == list(range(3, 53))  # the first 50, by line number
    assert "and 10 more bad lines." in page
    assert "UPL" not in {s.symbol for s in store.symbols()}


def test_a_file_of_another_timeframe_is_refused_by_line(app, store, dana):
    c = _client(app, "dana")
    response = _post(c, _csv(30), timeframe="1h")
    assert response.status_code == 400
    assert "line 3: timestamp 2024-01-01T00:01:00Z is not on a 1h boundary" in \
        response.get_data(as_text=True)
    assert "UPL" not in {s.symbol for s in store.symbols()}


@pytest.mark.parametrize(("symbol", "timeframe", "field"), [
    ("btc usd", "1m", "symbol"), ("UPL", "7q", "timeframe"), ("", "", "symbol")])
def test_symbol_and_timeframe_are_checked_as_fields(app, store, dana, symbol, timeframe, field):
    c = _client(app, "dana")
    response = _post(c, _csv(), symbol=symbol, timeframe=timeframe)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'data-field="{field}"' in page and 'aria-invalid="true"' in page
    assert {s.symbol for s in store.symbols()} == {"DEMO"}


def test_no_file_is_a_field_error(app, dana):
    c = _client(app, "dana")
    token = csrf_of(c.get("/candles/upload").get_data(as_text=True))
    response = c.post("/candles/upload", data={"symbol": "UPL", "timeframe": "1m",
                                               "csrf_token": token})
    assert response.status_code == 400 and 'data-field="file"' in response.get_data(as_text=True)


def test_without_the_csrf_token_nothing_is_stored(app, store, dana):
    c = _client(app, "dana")
    response = _post(c, _csv(), token="forged")
    assert response.status_code == 400
    assert "UPL" not in {s.symbol for s in store.symbols()}


def test_a_file_above_the_limit_is_413_with_a_message(settings, store, db, dana):
    app = create_app({"QG_SETTINGS": replace(settings, upload_max_mb=1), "QG_DATABASE": db,
                      "QG_CANDLE_STORE": store, "TESTING": True})
    c = _client(app, "dana")
    body = _csv(30_000)  # about 2 MB
    assert len(body) > 1024 * 1024
    response = _post(c, body)
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "The file is too large: an upload may be at most 1 MB." in page
    assert "UPL" not in {s.symbol for s in store.symbols()}
    # The default limit (50 MB) takes it, though the app's usual limit is 1 MiB.
    app = create_app({"QG_SETTINGS": settings, "QG_DATABASE": db, "QG_CANDLE_STORE": store,
                      "TESTING": True})
    assert _post(_client(app, "dana"), body).status_code == 200


def _token(db, user_id) -> str:
    with db.write() as s:
        return users.create_token(s, user_id, "upload")[0]


def _api_post(app, token, body: bytes, path="/api/v1/candles/UPL/1m", mimetype="text/csv"):
    return app.test_client().post(path, data=body, content_type=mimetype,
                                  headers={"Authorization": f"Bearer {token}"})


def test_api_upload_stores_and_lists_the_series(app, db, store, dana):
    response = _api_post(app, _token(db, dana), _csv(60))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["symbol"], body["timeframe"], body["rows"]) == ("UPL", "1m", 60)
    assert body["last"] - body["first"] == 59 * 60
    assert len(store.read("UPL", "1m")) == 60
    listed = app.test_client().get("/api/v1/symbols",
                                   headers={"Authorization": f"Bearer {_token(db, dana)}"})
    assert "UPL" in {s["symbol"] for s in listed.get_json()["items"]}


def test_api_upload_refusals(app, db, store, alice, dana, settings):
    plain, data = _token(db, alice), _token(db, dana)
    forbidden = _api_post(app, plain, _csv())
    assert forbidden.status_code == 403
    assert "data role" in forbidden.get_json()["error"]["message"]
    bad = _csv(5).decode().replace(",", ";", 1).encode()  # a broken header
    assert _api_post(app, data, bad).status_code == 400
    lines = _csv(5).decode().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ",-4"
    refused = _api_post(app, data, ("\n".join(lines) + "\n").encode())
    error = refused.get_json()["error"]
    assert refused.status_code == 400 and error["bad_lines"] == 1
    assert error["lines"] == [{"line": 4, "message": "volume -4.0 is negative"}]
    assert _api_post(app, data, _csv(), path="/api/v1/candles/bad%20sym/1m").status_code == 400
    assert _api_post(app, data, _csv(), path="/api/v1/candles/UPL/7q").status_code == 400
    assert _api_post(app, data, _csv(), mimetype="application/json").status_code == 400
    assert {s.symbol for s in store.symbols()} == {"DEMO"}
    small = create_app({"QG_SETTINGS": replace(settings, upload_max_mb=1),
                        "QG_DATABASE": db, "QG_CANDLE_STORE": store, "TESTING": True})
    too_large = _api_post(small, data, _csv(30_000))
    assert too_large.status_code == 413
    assert "at most 1 MB" in too_large.get_json()["error"]["message"]
