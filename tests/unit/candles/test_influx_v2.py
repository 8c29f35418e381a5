"""The v2 backend's inventory stamp, against a stand-in 2.x server (none runs here: Debian ships 1.6).

The stand-in answers ``/api/v2/query`` with the annotated CSV a 2.x server sends for the
generation points, so the real client parses it; what it cannot show is that a real server
answers the Flux that way.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from quantgrid.candles.influx_v1 import GENERATIONS
from quantgrid.candles.influx_v2 import Influx2Store
from quantgrid.candles.store import combined_stamp

_HEAD = (
    "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,string,string,string,string\r\n"
    "#group,false,false,true,true,false,false,true,true,true\r\n"
    "#default,_result,,,,,,,,\r\n"
    ",result,table,_start,_stop,_time,_value,_field,_measurement,symbol\r\n"
)


@pytest.fixture
def server():
    """Answers every Flux query with one table per entry of ``server.generations``."""

    class Query(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the stdlib's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            server.queries.append(body["query"])
            rows = "".join(
                f",,{i},1677-09-21T00:12:43.145224194Z,1970-01-01T00:00:00.000000001Z,"
                f"1970-01-01T00:00:00Z,{stamp},stamp,{GENERATIONS},{symbol}\r\n"
                for i, (symbol, stamp) in enumerate(server.generations.items())
            )
            answer = (_HEAD + rows + "\r\n").encode() if rows else b"\r\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/csv; charset=utf-8")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Query)
    server.generations = {}
    server.queries = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def store(server):
    s = Influx2Store(f"http://127.0.0.1:{server.server_port}", token="t", org="o", bucket="candles")
    yield s
    s.close()


def test_the_stamp_folds_every_symbols_generation_as_the_v1_store_does(server, store):
    assert store.inventory_stamp() == combined_stamp(())
    server.generations = {"AAA": "a1", "ZZZ": "z1"}
    assert store.inventory_stamp() == combined_stamp([("AAA", "a1"), ("ZZZ", "z1")])
    before = store.inventory_stamp()
    server.generations["AAA"] = "a2"  # a write to the symbol that is not the last one
    assert store.inventory_stamp() != before
    assert f'r._measurement == "{GENERATIONS}"' in server.queries[-1]
    assert 'from(bucket: "candles")' in server.queries[-1]
