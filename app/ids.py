"""Ids and numbers in URLs and query strings, bounded to what the job tables' integer keys hold.

Python's ints are unbounded and the database's are not: an id past 2**31 - 1 reaching a query
fails in the driver (a 500) instead of finding nothing. Routes take ``<id:name>`` and query
strings go through :func:`id_arg`, so such an id is a 404 or a 400 before any query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from werkzeug.routing import IntegerConverter

from quantgrid.db.models import MAX_ID
from quantgrid.errors import InvalidInput


class IdConverter(IntegerConverter):
    """``<id:job_id>``: a whole number from 1 to MAX_ID; anything else matches no route (404)."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def id_arg(raw: str, name: str) -> int:
    """Return the id in query argument ``name``; raise InvalidInput when it is not one."""
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_ID:
        raise InvalidInput(f"{name} must be an id, a whole number from 1 to {MAX_ID}; got {raw!r}")
    return value


_WHOLE = re.compile(r"-?[0-9]+")


def int_arg(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """Return query argument ``name`` as a whole number from ``low`` to ``high`` (``default``
    when absent); raise InvalidInput saying what it must be otherwise.

    Only ASCII digits with an optional minus: ``int()`` would also take " 5", "5_0" and other
    scripts' digits, which the OpenAPI document's integers do not."""
    raw = args.get(name)
    if raw is None:
        return default
    if not _WHOLE.fullmatch(raw):
        raise InvalidInput(f"{name} must be a whole number, got {raw!r}")
    value = int(raw)
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}, got {value}")
    return value
