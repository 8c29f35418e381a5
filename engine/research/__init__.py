"""Research statistics: is the best of many backtests an edge or luck?

Pure functions over arrays of returns: the Deflated Sharpe Ratio (``deflated_sharpe``), the
Probability of Backtest Overfitting (``pbo``), a bootstrap of the trade sequence (``montecarlo``)
and benchmark-relative metrics (``relative``). Formulas and references: docs/semantics.md,
"Research statistics".
"""
