"""Type stubs for engine_ext.simulate (see the .pyx; call it through engine.simulator)."""

from typing import Any

import numpy as np

N_METRIC_COLUMNS: int
N_RESEARCH_COLUMNS: int
RESEARCH_BLOCKS: int

def simulate(
    config: dict[str, Any],
    time: np.ndarray,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    signals: np.ndarray,
    period_end: np.ndarray,
    trades: np.ndarray,
) -> tuple[np.ndarray, int, np.ndarray]: ...
def sweep(
    config: dict[str, Any],
    time: np.ndarray,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    signals: np.ndarray,
    starts: np.ndarray,
    period_end: np.ndarray,
    out: np.ndarray,
    research: np.ndarray,
) -> None: ...
def day_calendar(time: np.ndarray) -> tuple[np.ndarray, int]: ...
