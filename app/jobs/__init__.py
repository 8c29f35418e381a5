"""The jobs list: the user's backtests and sweeps, newest first, with live progress."""
