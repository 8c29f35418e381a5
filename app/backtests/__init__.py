"""Backtest pages: the form, the result, downloads."""
