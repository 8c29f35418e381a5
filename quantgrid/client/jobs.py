"""A backtest or a sweep as the API describes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The statuses a job does not leave on its own (the others are queued and running).
FINAL = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True)
class Job:
    kind: str  # "backtest" or "sweep"
    id: int
    status: str
    progress: float
    error: str | None = None
    data: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Job:
        """The job in a response (``data`` keeps all of it: params, settings, times, ...)."""
        return cls(kind=data["kind"], id=data["id"], status=data["status"],
                   progress=data.get("progress", 0.0), error=data.get("error"), data=data)

    @property
    def done(self) -> bool:
        return self.status in FINAL
