"""Compare two or more backtest results side by side."""
