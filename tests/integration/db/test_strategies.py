"""Saved strategies in the data layer, on PostgreSQL and SQLite: versions, names per owner,
deletion that keeps what jobs ran, inline source kept once, and the quota on how many."""

from __future__ import annotations

import pytest

from quantgrid.db import backtests as bt
from quantgrid.db import strategies as saved
from quantgrid.errors import QuotaExceeded
from tests.integration.db.conftest import make_spec

pytestmark = pytest.mark.integration


class _Viewer:
    def __init__(self, user_id: int, admin: bool = False) -> None:
        self.id, self.is_admin = user_id, admin


def test_versions_count_up_and_the_latest_is_listed(db, alice):
    with db.write() as s:
        saved.create_strategy(s, alice.id, "x", "a", "h-a", 10)
        saved.add_version(s, alice.id, "x", "b", "h-b")
    with db.read() as s:
        (listed,) = saved.list_strategies(s, _Viewer(alice.id))
        assert (listed.name, listed.version, listed.source) == ("x", 2, "b")
        assert saved.get_version(s, _Viewer(alice.id), "x", 1).source == "a"
        assert [v.version for v in saved.versions(s, alice.id, "x")] == [2, 1]


def test_names_are_per_owner_and_others_see_nothing(db, alice, bob, admin):
    with db.write() as s:
        saved.create_strategy(s, alice.id, "x", "a", "h", 10)
        saved.create_strategy(s, bob.id, "x", "b", "h2", 10)  # the same name, another owner
        with pytest.raises(saved.StrategyExists):
            saved.create_strategy(s, alice.id, "x", "c", "h3", 10)
    with db.read() as s:
        assert saved.get_version(s, _Viewer(bob.id), "x").source == "b"
        with pytest.raises(saved.StrategyNotFound):
            saved.get_version(s, _Viewer(bob.id), "x", owner_id=alice.id)
        assert saved.get_version(s, _Viewer(admin.id, True), "x", owner_id=alice.id).source == "a"
        assert len(saved.list_strategies(s, _Viewer(admin.id, True), everyone=True)) == 2
        assert saved.list_strategies(s, _Viewer(admin.id, True)) == []  # an admin's own


def test_delete_hides_every_version_but_a_job_keeps_its_source(db, alice, limits):
    with db.write() as s:
        version = saved.create_strategy(s, alice.id, "x", "a", "h-a", 10)
        job, _ = bt.submit_backtest(s, alice.id, make_spec(strategy_version_id=version.id), limits)
        assert saved.delete_strategy(s, alice.id, "x") == 1
    with db.read() as s:
        assert saved.list_strategies(s, _Viewer(alice.id)) == []
        with pytest.raises(saved.StrategyNotFound):
            saved.get_version(s, _Viewer(alice.id), "x")
        ran = bt.get_backtest(s, job.id).strategy_version_id
        assert saved.get_visible_by_id(s, _Viewer(alice.id), ran).source == "a"
    with db.write() as s:  # the name is free again, and its numbers go on
        assert saved.create_strategy(s, alice.id, "x", "new", "h-n", 10).version == 2


def test_inline_source_is_kept_once_per_owner(db, alice, bob):
    with db.write() as s:
        first = saved.inline_version(s, alice.id, "src", "h")
        again = saved.inline_version(s, alice.id, "src", "h")
        other = saved.inline_version(s, bob.id, "src", "h")
    assert first.id == again.id != other.id and first.name is None
    with db.read() as s:
        assert saved.list_strategies(s, _Viewer(alice.id)) == []


def test_the_number_of_saved_strategies_is_limited(db, alice):
    with db.write() as s:
        saved.create_strategy(s, alice.id, "a", "1", "h1", 2)
        saved.add_version(s, alice.id, "a", "2", "h2")  # versions do not count
        saved.create_strategy(s, alice.id, "b", "1", "h3", 2)
    with db.write() as s, pytest.raises(QuotaExceeded):
        saved.create_strategy(s, alice.id, "c", "1", "h4", 2)


def test_a_name_holding_a_nul_names_no_strategy(db, alice):
    """Found by schemathesis: PostgreSQL refuses a NUL in a query's text, which was a 500."""
    with db.write() as s:
        saved.create_strategy(s, alice.id, "x", "a", "h-a", 10)
        with pytest.raises(saved.StrategyNotFound):
            saved.delete_strategy(s, alice.id, "x\x00")
    with db.read() as s:
        with pytest.raises(saved.StrategyNotFound):
            saved.get_version(s, _Viewer(alice.id), "l\x00\u00eb")
        with pytest.raises(saved.StrategyNotFound):
            saved.versions(s, alice.id, "x\x00")
