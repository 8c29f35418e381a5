"""A self-pipe that makes a kombu event loop go round once more, at once."""

from __future__ import annotations

import contextlib
import os


class Nudge:
    """Registered as a reader on the event loop; calling it makes the loop's next poll return.

    kombu's hub runs its ``on_tick`` callbacks (a set, so in no fixed order) after it has worked
    out how long to poll, and Celery's prefork pool decides in its own tick callback whether it
    has jobs to write to its children. A message the transport delivers in a later callback of
    the same tick would wait in the pool's buffer until something else woke the loop: up to the
    hub's one-second default poll when a worker drains a backlog and no notification arrives
    (seen as one task a second per worker). A delivery on the loop therefore nudges it.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._pending = False

    def fileno(self) -> int:
        return self._read

    def __call__(self) -> None:
        if not self._pending:
            self._pending = True
            with contextlib.suppress(BlockingIOError):  # full: the loop will wake anyway
                os.write(self._write, b"\0")

    def clear(self) -> None:
        """The reader callback: empty the pipe, so that the next nudge wakes the loop again."""
        self._pending = False
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 4096):
                pass

    def close(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)
