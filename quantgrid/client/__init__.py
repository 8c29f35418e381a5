"""A Python client of QuantGrid's JSON API, for notebooks and scripts (and ``quantgrid remote``).

It needs requests and pandas only: no Flask, Celery, SQLAlchemy or engine.
"""

from quantgrid.client.client import Client
from quantgrid.client.errors import (
    ApiError,
    AuthError,
    InvalidRequest,
    NotConfigured,
    NotFoundError,
    QuotaError,
    Unavailable,
    WaitTimeout,
)
from quantgrid.client.jobs import Job
from quantgrid.client.results import BacktestResult, SweepResult

__all__ = ["ApiError", "AuthError", "BacktestResult", "Client", "InvalidRequest", "Job",
           "NotConfigured", "NotFoundError", "QuotaError", "SweepResult", "Unavailable",
           "WaitTimeout"]
