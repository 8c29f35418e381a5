"""The strategy language: strategies users write themselves, compiled onto the kernels.

``compile_strategy(source, name)`` returns a :class:`SourceStrategy`, a
:class:`engine.strategies.Strategy` that ``run_backtest``, ``run_sweep`` and ``parse_grid``
take in place of a built-in's name. Mistakes raise :class:`StrategySourceError`, whose
``problems`` each carry a line, a column and a message. See docs/strategy-language.md.
"""

from __future__ import annotations

from engine.lang.check import MAX_LOOKBACK
from engine.lang.errors import Problem, StrategySourceError
from engine.lang.examples import EXAMPLES, example
from engine.lang.functions import FUNCTIONS
from engine.lang.parse import MAX_DEPTH, MAX_NODES, MAX_SOURCE_CHARS
from engine.lang.strategy import SourceStrategy, compile_strategy, source_hash

#: The limits a program must keep within (for the API and the editor to show).
LIMITS = {
    "source_chars": MAX_SOURCE_CHARS,
    "nodes": MAX_NODES,
    "depth": MAX_DEPTH,
    "lookback_bars": MAX_LOOKBACK,
}

__all__ = [
    "EXAMPLES",
    "FUNCTIONS",
    "LIMITS",
    "Problem",
    "SourceStrategy",
    "StrategySourceError",
    "compile_strategy",
    "example",
    "source_hash",
]
