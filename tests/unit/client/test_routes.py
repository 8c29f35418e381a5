"""Every call the client makes is one the OpenAPI document describes."""

from __future__ import annotations

import pytest

from app.api.openapi import document
from quantgrid.client.routes import ROUTES


@pytest.mark.parametrize(("name", "route"), sorted(ROUTES.items()))
def test_the_route_is_described(name, route):
    method, path = route
    assert method.lower() in document()["paths"].get(path, {}), f"{name}: {method} {path}"
