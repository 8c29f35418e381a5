"""What a job asks for, checked once: the simulator settings of a job."""

from __future__ import annotations

from engine.simulator import SimConfig
from quantgrid.errors import InvalidInput


def sim_config(settings: dict) -> SimConfig:
    """Build the simulator configuration from a job's settings; bad settings are InvalidInput."""
    try:
        return SimConfig(**settings)
    except TypeError as err:
        raise InvalidInput(f"unknown simulator setting: {err}") from None
    except ValueError as err:
        raise InvalidInput(str(err)) from None
