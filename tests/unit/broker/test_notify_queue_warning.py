"""The clean-up warns when PostgreSQL's NOTIFY queue fills: a LISTEN session stopped reading,
and once the queue is full every NOTIFY fails, and with it every publish."""

from __future__ import annotations

import logging

import pytest

from qgpg import sql
from qgpg.cleanup import clean_up


class _Result:
    rowcount = 0

    def __init__(self, value=None) -> None:
        self.value = value

    def scalar(self):
        return self.value

    def __iter__(self):
        return iter(())


class _Conn:
    """Answers the clean-up's statements as an idle broker database whose queue is ``usage`` full."""

    def __init__(self, usage: float) -> None:
        self.answers = {sql.CLEAN_UP_LOCK: True, sql.DEAD_MESSAGE_ROWS: 0,
                        sql.NOTIFY_QUEUE_USAGE: usage}

    def execute(self, statement, params=None):
        return _Result(self.answers.get(statement))


@pytest.mark.parametrize(("usage", "warned"), [(0.0, False), (0.3, True)])
def test_the_clean_up_warns_when_the_notify_queue_fills(caplog, usage, warned):
    with caplog.at_level(logging.WARNING, logger="qgpg.cleanup"):
        result = clean_up(_Conn(usage))
    assert result.notify_queue_usage == usage
    assert ("NOTIFY queue is 30% full" in caplog.text) is warned
