import numpy as np
from numpy.typing import NDArray

def crossover(a: NDArray[np.float64], b: NDArray[np.float64], start: int) -> NDArray[np.int8]: ...
def position_events(
    long_entry: NDArray[np.uint8],
    short_entry: NDArray[np.uint8],
    long_exit: NDArray[np.uint8],
    short_exit: NDArray[np.uint8],
    start: int,
    reenter: bool = ...,
) -> NDArray[np.int8]: ...
def sma_cross(x: NDArray[np.float64], fast: int, slow: int, start: int) -> NDArray[np.int8]: ...
