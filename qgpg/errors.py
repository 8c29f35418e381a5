"""The transport's own errors: ``qgpg`` depends on nothing of the application that uses it."""

from __future__ import annotations


class BrokerError(Exception):
    """Something went wrong in the qgpg transport."""


class NotTransactional(BrokerError, ValueError):
    """A transactional publish was asked of a broker or database that cannot do it."""


class NotRouted(BrokerError):
    """A message was routed to no queue, so nothing was enqueued."""


class TablesMissing(BrokerError):
    """The broker tables are missing in the database; run the migrations."""
