"""A real Gunicorn with gunicorn.conf.py sends a response's head with its body, never before it:
an instance killed before its body leaves puts nothing on the wire, which NGINX retries."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[3]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))

PROBE_APP = textwrap.dedent('''
    import time

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/none":
            start_response("204 No Content", [])
            return []
        if path == "/stalls":
            start_response("200 OK", [("Content-Length", "4")])
            return _stalls()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"whole"]

    def _stalls():
        yield b""  # a first chunk with no bytes (a streamed response can begin so)
        time.sleep(60)
        yield b"late"
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(tmp_path):
    (tmp_path / "probe_app.py").write_text(PROBE_APP)
    port = _free_port()
    proc = subprocess.Popen(
        [GUNICORN, "-c", str(ROOT / "gunicorn.conf.py"), "--pythonpath", str(tmp_path),
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "probe_app:app"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": ""},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url, timeout=1)
            break
        except requests.ConnectionError:
            assert proc.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
    yield proc, port
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def test_responses_with_and_without_a_body_arrive_whole(gunicorn):
    _, port = gunicorn
    with requests.Session() as s:  # one keep-alive connection for both
        whole = s.get(f"http://127.0.0.1:{port}/", timeout=5)
        none = s.get(f"http://127.0.0.1:{port}/none", timeout=5)
    assert (whole.status_code, whole.text) == (200, "whole")
    assert (none.status_code, none.content) == (204, b"")


def test_an_instance_killed_before_its_body_left_sent_nothing(gunicorn):
    proc, port = gunicorn
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"GET /stalls HTTP/1.1\r\nHost: probe\r\n\r\n")
        conn.settimeout(1.5)
        with pytest.raises(TimeoutError):  # stock Gunicorn sends the head here, on its own
            conn.recv(1024)
        os.killpg(proc.pid, signal.SIGKILL)
        conn.settimeout(5)
        try:
            received = conn.recv(1024)
        except ConnectionResetError:
            received = b""
    assert received == b""
