"""The strategy registry: every strategy is found through the ``quantgrid.strategies`` entry points.

The built-ins are registered in QuantGrid's own ``setup.cfg`` through that same group, so a
deployment adds a strategy by installing a package of its own that declares, for example::

    [options.entry_points]
    quantgrid.strategies =
        my_breakout = my_package.strategies:MyBreakout

An entry point may name a :class:`Strategy` subclass (it is instantiated) or an instance.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from engine.strategies.base import IndicatorCache, Param, Strategy

ENTRY_POINT_GROUP = "quantgrid.strategies"

__all__ = [
    "ENTRY_POINT_GROUP",
    "IndicatorCache",
    "Param",
    "Strategy",
    "available",
    "get",
    "reload",
    "resolve",
]


_found: dict[str, Strategy] | None = None


def available() -> dict[str, Strategy]:
    """Return every installed strategy by name, sorted by name.

    The entry points are scanned once per process (a scan takes milliseconds); :func:`get`
    rescans when asked for a name it has not seen, and :func:`reload` forces a rescan.
    """
    global _found
    if _found is None:
        _found = _scan()
    return dict(_found)


def reload() -> dict[str, Strategy]:
    """Scan the entry points again (after installing a strategy package at runtime)."""
    global _found
    _found = None
    return available()


def get(name: str) -> Strategy:
    """Return the strategy called ``name``; raise ValueError listing the available ones."""
    strategies = available()
    if name not in strategies:
        strategies = reload()
    try:
        return strategies[name]
    except KeyError:
        names = ", ".join(strategies) or "none installed"
        raise ValueError(f"unknown strategy {name!r}; available: {names}") from None


def resolve(strategy: str | Strategy) -> Strategy:
    """Return ``strategy`` itself if it is a Strategy (one compiled from source), else get(it)."""
    return strategy if isinstance(strategy, Strategy) else get(strategy)


def _scan() -> dict[str, Strategy]:
    found: dict[str, Strategy] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        strategy = obj() if isinstance(obj, type) else obj
        if not isinstance(strategy, Strategy):
            raise TypeError(
                f"entry point {ep.name!r} in {ENTRY_POINT_GROUP} loads {obj!r}, "
                "which is not a Strategy subclass or instance"
            )
        if strategy.name != ep.name:
            raise ValueError(
                f"entry point {ep.name!r} in {ENTRY_POINT_GROUP} loads strategy named "
                f"{strategy.name!r}; the two names must match"
            )
        found[ep.name] = strategy
    return dict(sorted(found.items()))
