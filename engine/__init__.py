"""The backtest engine: candles in, results out. It knows nothing of Flask, Celery or databases."""
