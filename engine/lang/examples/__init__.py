"""The six built-in strategies written in the language (docs/strategy-language.md shows them;
a test checks each gives the built-in's trades)."""

from __future__ import annotations

from importlib.resources import files

EXAMPLES = (
    "sma_cross",
    "ema_cross",
    "macd",
    "rsi_reversion",
    "bollinger_reversion",
    "donchian_breakout",
)


def example(name: str) -> str:
    """The source of the built-in ``name`` written in the language."""
    if name not in EXAMPLES:
        raise ValueError(f"no example named {name!r}; the examples are {', '.join(EXAMPLES)}")
    return files(__name__).joinpath(f"{name}.qgs").read_text(encoding="utf-8")
