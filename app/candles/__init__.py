"""Candle upload from the web (the data role's and admins' page)."""
