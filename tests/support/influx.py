"""Start a real ``influxd`` of the test run's own: its own config, data directory and free ports.

Used by the integration tests' session fixture and by ``bench/candles.py``. The config is
rendered from ``ops/influxdb/influxdb.conf`` (the same template deployments use).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "ops" / "influxdb" / "influxdb.conf"


class InfluxdMissing(RuntimeError):
    """influxd is not installed."""


class InfluxServer:
    """One ``influxd`` process bound to 127.0.0.1 on free ports, with everything under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.http_port = _free_port()
        self.rpc_port = _free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.process: subprocess.Popen | None = None
        self.log_path = self.root / "influxd.log"

    def start(self, timeout: float = 30.0) -> InfluxServer:
        binary = shutil.which("influxd")
        if binary is None:
            raise InfluxdMissing(
                "influxd is not installed; run `make services` (it installs Debian's influxdb "
                "package) or `apt-get install -y influxdb`"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "influxdb.conf"
        config.write_text(
            TEMPLATE.read_text()
            .replace("@ROOT@", str(self.root))
            .replace("@HTTP_BIND@", f"127.0.0.1:{self.http_port}")
            .replace("@RPC_BIND@", f"127.0.0.1:{self.rpc_port}")
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [binary, "-config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"influxd exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if requests.get(f"{self.url}/ping", timeout=1).status_code == 204:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"influxd did not answer /ping within {timeout:.0f}s: {self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> InfluxServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
