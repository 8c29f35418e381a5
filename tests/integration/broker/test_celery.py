"""Celery on the qgpg broker with real ``celery worker`` processes, the real CLI and Flower.

The tests share one database and two workers (w1, w2; concurrency 6, 3 s leases) and run in
file order: the last one shuts the workers down through ``celery control`` and checks that the
broker tables end up empty.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import urllib.request

import pytest
from kombu import Exchange, Queue

import qgpg
from qgpg.transport import forget
from tests.integration.broker.procs import (
    CELERY,
    Proc,
    app_env,
    celery,
    create_runs_table,
    query,
    start_worker,
    wait_for,
    wait_ready,
)
from tests.support import pg
from tests.support.broker_app import make_app
from tests.support.pgcluster import free_port

HOST = socket.gethostname()
SETTINGS = {
    "QG_TEST_LEASE": "3",
    "QG_TEST_HEARTBEAT": "0.5",
    "QG_TEST_CLEANUP": "1",
    "QG_TEST_QUEUE_EXPIRES": "4",
}


class Cluster:
    def __init__(self, url: str, log_dir) -> None:
        self.url = url
        self.broker_url = qgpg.broker_url(url)
        self.env = app_env(self.broker_url, url, **SETTINGS)
        self.log_dir = log_dir
        self.workers: dict[str, Proc] = {}
        self.app = make_app(self.broker_url, name="producer")

    def start(self, name: str) -> Proc:
        self.workers[name] = start_worker(name, self.env, self.log_dir)
        return self.workers[name]

    def send(self, tag: str, seconds: float = 0.0) -> None:
        self.app.send_task("broker_test.record", args=(tag, seconds))

    def runs(self, tag: str) -> list:
        return query(self.url, "SELECT worker, pid FROM broker_test_runs WHERE tag = :t", t=tag)


@pytest.fixture(scope="module")
def cluster(pg_template, tmp_path_factory):
    name = pg.unique_name("qg_broker")
    url = pg.create_database(name, template=pg_template)
    create_runs_table(url)
    cluster = Cluster(url, tmp_path_factory.mktemp("workers"))
    cluster.start("w1")
    cluster.start("w2")
    wait_ready(*cluster.workers.values())
    yield cluster
    for worker in cluster.workers.values():
        worker.stop()
    cluster.app.close()
    forget(url)
    pg.drop_database(name)


def test_two_workers_run_2000_tasks_each_exactly_once(cluster):
    for n in range(2000):
        cluster.send(f"bulk-{n}")
    wait_for(
        lambda: query(cluster.url, "SELECT count(*) FROM broker_test_runs WHERE tag LIKE 'bulk-%'")[
            0
        ][0]
        >= 2000,
        120,
        "2,000 tasks to run",
    )
    (total, distinct), = query(
        cluster.url,
        "SELECT count(*), count(DISTINCT tag) FROM broker_test_runs WHERE tag LIKE 'bulk-%'",
    )
    assert (total, distinct) == (2000, 2000)
    per_worker = dict(
        query(cluster.url, "SELECT worker, count(*) FROM broker_test_runs GROUP BY worker")
    )
    assert set(per_worker) == {"w1", "w2"}, per_worker


def test_celery_cli_inspect_and_control_reach_every_worker(cluster):
    ping = celery(cluster.env, "inspect", "ping", "--timeout", "2")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert f"w1@{HOST}: OK" in ping.stdout and f"w2@{HOST}: OK" in ping.stdout
    assert "2 nodes online" in ping.stdout

    stats = celery(cluster.env, "inspect", "stats", "--json", "--timeout", "2")
    replies = json.loads(stats.stdout)
    assert {f"w1@{HOST}", f"w2@{HOST}"} <= set(replies)
    assert replies[f"w1@{HOST}"]["pool"]["max-concurrency"] == 6

    cluster.send("active-probe", 10)
    wait_for(lambda: query(cluster.url, "SELECT 1 FROM broker_test_runs WHERE tag = "
                                        "'start:active-probe'"), 20, "the probe to start")
    active = json.loads(celery(cluster.env, "inspect", "active", "--json").stdout)
    running = [task["args"] for tasks in active.values() for task in tasks]
    assert ["active-probe", 10] in running, active

    grow = celery(cluster.env, "control", "pool_grow", "1", "-d", f"w1@{HOST}")
    assert grow.returncode == 0 and "pool will grow" in grow.stdout, grow.stdout + grow.stderr
    cancel = celery(cluster.env, "control", "cancel_consumer", "celery", "-d", f"w2@{HOST}")
    assert "no longer consuming from" in cancel.stdout, cancel.stdout + cancel.stderr
    queues = json.loads(celery(cluster.env, "inspect", "active_queues", "--json").stdout)
    assert queues[f"w2@{HOST}"] == [] and queues[f"w1@{HOST}"][0]["name"] == "celery"
    add = celery(cluster.env, "control", "add_consumer", "celery", "-d", f"w2@{HOST}")
    assert "add consumer celery" in add.stdout, add.stdout + add.stderr


def test_a_task_longer_than_its_lease_runs_once(cluster):
    """A live worker extends the leases of what it holds: 7 s of work on a 3 s lease."""
    cluster.send("long-lease", 7)
    runs = wait_for(lambda: cluster.runs("long-lease"), 30, "the long task to finish")
    assert len(runs) == 1 and len(cluster.runs("start:long-lease")) == 1, runs


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def test_flower_lists_the_workers_and_counts_their_tasks(cluster):
    port = free_port()
    flower = Proc(
        [CELERY, "-A", "tests.support.broker_app", "flower", f"--port={port}",
         "--address=127.0.0.1"],
        {**cluster.env, "FLOWER_UNAUTHENTICATED_API": "true"},
        cluster.log_dir / "flower.log",
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def workers():
            try:
                return json.loads(_get(f"{base}/api/workers?refresh=1"))
            except OSError:
                return None

        listed = wait_for(
            lambda: (w := workers()) and {f"w1@{HOST}", f"w2@{HOST}"} <= set(w) and w, 45,
            "Flower to list both workers",
        )
        assert listed[f"w1@{HOST}"]["stats"]["pool"]["max-concurrency"] >= 6
        for n in range(40):
            cluster.send(f"flower-{n}")

        def succeeded():
            total = 0
            for line in _get(f"{base}/metrics").splitlines():
                if line.startswith("flower_events_total{") and 'type="task-succeeded"' in line:
                    total += float(line.rsplit(" ", 1)[1])
            return total

        wait_for(lambda: succeeded() >= 40, 45, "Flower's /metrics to count 40 tasks")
    finally:
        flower.stop()


def test_celery_events_sees_worker_heartbeats_and_task_events(cluster):
    events = Proc(
        [CELERY, "-A", "tests.support.broker_app", "events", "--dump"],
        cluster.env, cluster.log_dir / "events.log",
    )
    try:
        events.wait_for_log(f"w1@{HOST} [", 30)
        events.wait_for_log(f"w2@{HOST} [", 30)
        cluster.send("evented")
        events.wait_for_log("task succeeded", 30)
    finally:
        events.stop()


def test_remote_control_and_task_events_reach_their_consumers_without_rows(cluster):
    """Pidbox broadcasts and Celery's events are transient: NOTIFY payloads, no message rows."""
    app = cluster.app
    replies = app.control.ping(timeout=2)
    assert {f"w1@{HOST}", f"w2@{HOST}"} <= {name for reply in replies for name in reply}
    stats = app.control.inspect(timeout=2).stats()
    assert stats[f"w2@{HOST}"]["pool"]["max-concurrency"] == 6

    succeeded = []
    with app.connection_for_read() as conn:
        # A receiver's queue that nobody consumes: rows would pile up here; notifications don't.
        idle = Queue("celeryev.idle", Exchange("celeryev", "topic"), routing_key="#",
                     auto_delete=True, expires=60)(conn.default_channel)
        idle.declare()
        receiver = app.events.Receiver(
            conn, handlers={"task-succeeded": succeeded.append, "*": lambda event: None}
        )
        # Events are at most once, as on Redis: consume (wakeup: the workers' heartbeats
        # answer a broadcast) before sending the task.
        events = receiver.itercapture(limit=None, timeout=30, wakeup=True)
        next(events)
        task_id = app.send_task("broker_test.record", args=("evented-rx",)).id
        for _ in events:
            if any(event["uuid"] == task_id for event in succeeded):
                break
        events.close()
        receiver.queue(conn.default_channel).delete()  # the last test expects no queue left
        rows = query(cluster.url, "SELECT count(*) FROM broker_message WHERE queue LIKE 'celeryev.%'"
                                  " OR queue LIKE '%.celery.pidbox' AND queue NOT LIKE '%.reply.%'")  # fmt: skip
        idle.delete()
    done = [event for event in succeeded if event["uuid"] == task_id]
    assert done and done[0]["hostname"] in {f"w1@{HOST}", f"w2@{HOST}"}
    assert rows == [(0,)]


def _started(cluster, tag: str):
    return wait_for(lambda: cluster.runs(f"start:{tag}"), 30, f"{tag} to start")[0]


def test_sigkill_of_a_pool_child_mid_task_loses_nothing(cluster):
    cluster.send("child-kill", 2)
    worker, pid = _started(cluster, "child-kill")
    os.kill(pid, signal.SIGKILL)
    runs = wait_for(lambda: cluster.runs("child-kill"), 40, "the task to run again")
    assert all(run_pid != pid for _, run_pid in runs)
    assert cluster.workers[worker].popen.poll() is None  # the worker itself lives on


def test_sigkill_of_a_worker_main_process_mid_task_runs_it_on_the_other(cluster):
    cluster.send("main-kill", 2)
    victim, _ = _started(cluster, "main-kill")
    survivor = "w2" if victim == "w1" else "w1"
    orphans = cluster.workers[victim].children()
    os.kill(cluster.workers[victim].pid, signal.SIGKILL)
    for pid in orphans:  # as if the host died: the pool children go too
        os.kill(pid, signal.SIGKILL)
    runs = wait_for(
        lambda: [r for r in cluster.runs("main-kill") if r[0] == survivor], 40,
        "the task to run on the other worker",
    )
    assert len(runs) == 1
    cluster.workers[victim].stop()
    # The dead worker's pidbox queue is swept once its 4 s expiry passes without a consumer.
    pidbox = f"{victim}@{HOST}.celery.pidbox"
    wait_for(
        lambda: not query(cluster.url, "SELECT 1 FROM broker_queue WHERE name = :n", n=pidbox),
        30, "the dead worker's pidbox queue to be swept",
    )
    replacement = cluster.start(victim)
    wait_ready(replacement)


def test_control_shutdown_stops_workers_and_leaves_the_tables_empty(cluster):
    # A worker does not reply to shutdown (so the CLI says "No nodes replied"); it exits.
    celery(cluster.env, "control", "shutdown")
    for worker in cluster.workers.values():
        assert worker.popen.wait(30) == 0
        assert "Got shutdown from remote" in worker.text()
    def swept():
        qgpg.clean_up_url(cluster.url)
        return query(cluster.url, "SELECT name FROM broker_queue") == [("celery",)]

    try:
        wait_for(swept, 30, "the queues of gone consumers (pidbox, replies, celeryev) to go")
    except AssertionError as err:
        left = query(cluster.url, "SELECT * FROM broker_queue")
        raise AssertionError(f"{err}; left: {left}") from None
    assert query(cluster.url, "SELECT count(*) FROM broker_message") == [(0,)]
    tags = [row[0] for row in query(cluster.url, "SELECT tag FROM broker_test_runs")]
    bulk = [t for t in tags if t.startswith("bulk-")]
    assert len(bulk) == len(set(bulk)) == 2000
    assert not [t for t in tags if re.fullmatch(r"flower-\d+", t) and tags.count(t) > 1]


def test_the_cli_says_no_nodes_when_nobody_listens(cluster):
    result = subprocess.run(
        [CELERY, "-A", "tests.support.broker_app", "inspect", "ping", "--timeout", "1"],
        cwd=pg.ROOT, env=cluster.env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode != 0 and "No nodes replied" in result.stdout + result.stderr
