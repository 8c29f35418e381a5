"""The client's HTTP side against canned responses: typed errors, retries, Retry-After."""

from __future__ import annotations

import json

import pytest
import requests

from quantgrid import errors
from quantgrid.client import AuthError, InvalidRequest, NotFoundError, QuotaError, Unavailable
from quantgrid.client.http import Http


class Canned(requests.adapters.BaseAdapter):
    """Answers each request with the next ``(status, body, headers)``; keeps the requests."""

    def __init__(self, *answers):
        super().__init__()
        self.answers = list(answers)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body, headers = answer
        response = requests.Response()
        response.status_code, response.request, response.url = status, request, request.url
        response._content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        response.headers.update(headers)
        return response

    def close(self):
        pass


def http_with(*answers, **options) -> tuple[Http, Canned]:
    http = Http("http://qg.test/", "qg_secret", backoff=0.001, **options)
    canned = Canned(*answers)
    http.session.mount("http://", canned)
    return http, canned


def error(status, code, message, **extra):
    return status, {"error": {"code": code, "message": message, **extra}}, {}


def test_sends_the_token_and_returns_the_json():
    http, canned = http_with((200, {"id": 1, "username": "alice", "role": "user"}, {}))
    assert http.call("me")["username"] == "alice"
    (sent,) = canned.sent
    assert sent.url == "http://qg.test/api/v1/me"
    assert sent.headers["Authorization"] == "Bearer qg_secret"


@pytest.mark.parametrize(("status", "cls", "local"), [
    (401, AuthError, errors.QuantGridError), (404, NotFoundError, errors.NotFound),
    (400, InvalidRequest, errors.InvalidInput), (422, InvalidRequest, errors.InvalidInput),
    (429, QuotaError, errors.QuotaExceeded),
])  # fmt: skip
def test_api_errors_become_typed_errors_that_are_not_retried(status, cls, local):
    http, canned = http_with(error(status, "some_code", "it went wrong"))
    with pytest.raises(cls) as caught:
        http.call("backtest", backtest_id=7)
    assert isinstance(caught.value, local) and caught.value.status == status
    assert caught.value.code == "some_code" and str(caught.value) == "it went wrong"
    assert len(canned.sent) == 1


def test_a_400_names_every_field_and_problem_on_one_line():
    http, _ = http_with(error(400, "form_invalid", "2 fields are not valid; start: bad",
                              fields={"start": "bad", "params.fast": "must be positive"},
                              problems=[{"line": 3, "column": 5, "message": "no such name"}]))
    with pytest.raises(InvalidRequest) as caught:
        http.call("submit_backtest", body={})
    assert caught.value.fields == {"start": "bad", "params.fast": "must be positive"}
    assert str(caught.value) == (
        "start: bad; params.fast: must be positive; line 3, column 5: no such name"
    )


def test_503_is_retried_honouring_retry_after_then_succeeds(monkeypatch):
    slept = []
    monkeypatch.setattr("quantgrid.client.http.time.sleep", slept.append)
    http, canned = http_with((503, {"error": {"code": "unavailable", "message": "db restarting"}},
                              {"Retry-After": "5"}),
                             requests.ConnectionError("refused"),
                             (201, {"kind": "backtest", "id": 3}, {}))
    assert http.call("submit_backtest", body={"symbol": "DEMO"})["id"] == 3
    assert slept == [5.0, 0.002]  # Retry-After, then the backoff of the second attempt
    # One submission: every attempt carries the same idempotency key.
    keys = {r.headers["X-Request-Id"] for r in canned.sent}
    assert len(canned.sent) == 3 and len(keys) == 1


def test_gives_up_after_the_retries_with_unavailable(monkeypatch):
    monkeypatch.setattr("quantgrid.client.http.time.sleep", lambda s: None)
    http, canned = http_with(*[requests.ConnectionError("refused")] * 3, retries=2)
    with pytest.raises(Unavailable, match=r"cannot reach http://qg.test \(ConnectionError\)"):
        http.call("jobs")
    assert len(canned.sent) == 3


def test_a_proxy_error_page_is_still_a_typed_error():
    http, _ = http_with((404, "<html>not here</html>", {}))
    with pytest.raises(NotFoundError, match="HTTP 404"):
        http.call("sweep", sweep_id=1)
