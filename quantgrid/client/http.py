"""The HTTP side of the client: bearer token, JSON, typed errors, retries with backoff."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import requests

from quantgrid.client.errors import Unavailable, error_for
from quantgrid.client.routes import ROUTES

logger = logging.getLogger(__name__)

MAX_RETRY_AFTER = 30.0  # seconds; a longer Retry-After is capped rather than obeyed


class Http:
    """Calls the API's routes by name; retries what may succeed later (503, no connection).

    A submission is retried too: it carries an ``X-Request-Id``, and the API answers a repeat
    with the job the first attempt created instead of making a second one.
    """

    def __init__(self, url: str, token: str, *, retries: int = 4, backoff: float = 0.5,
                 timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Accept"] = "application/json"

    def call(self, route: str, *, query: dict | None = None, body: dict | None = None,
             **path: int) -> Any:
        """Call ``route`` (a name in ROUTES) and return its decoded JSON; raise an ApiError."""
        method, template = ROUTES[route]
        url = f"{self.url}/api/v1{template.format(**path)}"
        headers = {"X-Request-Id": uuid.uuid4().hex} if method == "POST" else None
        attempt = 0
        while True:
            try:
                response = self.session.request(method, url, params=query, json=body,
                                                headers=headers, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as err:
                error = Unavailable(f"cannot reach {self.url} ({type(err).__name__})")
                wait = self.backoff * 2**attempt
            else:
                if response.ok:
                    return response.json()
                error = error_for(response.status_code, _json_or_none(response),
                                  response.reason or "")
                if not isinstance(error, Unavailable):
                    raise error
                wait = _retry_after(response) or self.backoff * 2**attempt
            if attempt == self.retries:
                raise error
            logger.info("%s %s: %s; retrying in %.1f s", method, template, error, wait)
            time.sleep(wait)
            attempt += 1


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _retry_after(response: requests.Response) -> float | None:
    """The Retry-After header in seconds (the API sends whole seconds; dates are ignored)."""
    try:
        return min(float(response.headers["Retry-After"]), MAX_RETRY_AFTER)
    except (KeyError, ValueError):
        return None
