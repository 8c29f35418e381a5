"""The candle store: InfluxDB or an embedded store behind one interface, plus CSV files and a cache.

Import ``open_store`` from :mod:`quantgrid.candles.factory`, the CSV reader and writer from
:mod:`quantgrid.candles.csvfile` and the errors from :mod:`quantgrid.candles.errors`.
"""
