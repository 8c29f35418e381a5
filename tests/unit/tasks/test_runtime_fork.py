"""A Celery pool child forked while another thread of the worker held the runtime lock (a
Prometheus scrape calling ``runtime.database()``) must still start: it once blocked for ever in
``reset_after_fork``, and the worker's warm shutdown then waited on it for ever."""

from __future__ import annotations

import os
import signal
import threading
import time

from tasks import runtime


def test_a_child_forked_while_the_runtime_lock_is_held_resets_its_connections():
    with runtime._lock:  # as the /metrics thread holds it during a scrape
        pid = os.fork()
        if pid == 0:  # the child: what worker_process_init runs
            signal.alarm(5)  # a deadlock ends as SIGALRM, not as a hung test
            runtime.reset_after_fork()
            runtime.database()  # and the child can build its own
            os._exit(0)
    deadline = time.monotonic() + 15
    while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0):
        assert time.monotonic() < deadline, "the forked child never finished"
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(done[1]) == 0, "the child deadlocked on the inherited lock"


def test_fork_waits_for_database_work_in_another_thread_to_finish():
    left = threading.Event()

    def scrape():  # the /metrics thread, inside SQLAlchemy and libpq
        with runtime.no_fork():
            entered.set()
            time.sleep(0.5)
            left.set()

    entered = threading.Event()
    thread = threading.Thread(target=scrape)
    thread.start()
    assert entered.wait(5)
    pid = os.fork()
    if pid == 0:
        signal.alarm(5)
        with runtime.no_fork():  # the child's copy of the guard is a fresh one
            pass
        os._exit(0 if left.is_set() else 3)
    assert left.is_set(), "fork() did not wait for the no_fork() block"
    thread.join()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
