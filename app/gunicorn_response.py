"""Gunicorn's response, writing the status line and headers in the same ``send`` as the body.

Gunicorn sends a response's head and its body in two writes. When an instance is killed between
them, NGINX has already received (and passed on) the head, so it can neither retry the request on
another instance nor give the client a whole response: the client sees a truncated body. Held
back until the first body bytes (or the end of the response), the head leaves in one write with
them, and a kill before that write leaves NGINX with nothing, which it retries
(``proxy_next_upstream``). ``gunicorn.conf.py`` installs it.
"""

from __future__ import annotations

from gunicorn.http import wsgi


class _HeadWithBody:
    """A socket whose first ``sendall`` (the head) waits to be joined with the next one."""

    def __init__(self, sock) -> None:
        self._sock = sock
        self._head: bytes | None = None
        self._head_seen = False

    def sendall(self, data) -> None:
        if not self._head_seen:
            self._head_seen = True
            self._head = bytes(data)
            return
        if self._head is not None:
            if not data:
                return  # an empty first chunk: hold on until there are body bytes
            data, self._head = self._head + bytes(data), None
        self._sock.sendall(data)

    def sendfile(self, *args, **kwargs):
        self.flush()
        return self._sock.sendfile(*args, **kwargs)

    def flush(self) -> None:
        """Send a head still held back (a response without body bytes)."""
        if self._head is not None:
            head, self._head = self._head, None
            self._sock.sendall(head)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class SingleWriteResponse(wsgi.Response):
    """``gunicorn.http.wsgi.Response`` whose head leaves with the first body bytes."""

    def __init__(self, req, sock, cfg) -> None:
        super().__init__(req, _HeadWithBody(sock), cfg)

    def close(self) -> None:
        super().close()
        self.sock.flush()


def install() -> None:
    """Make Gunicorn build every HTTP/1 response as a ``SingleWriteResponse``."""
    wsgi.Response = SingleWriteResponse
