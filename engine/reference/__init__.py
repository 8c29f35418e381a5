"""Slow, obviously correct NumPy/Python references of the kernels; the tests compare against them.

They follow the same NaN policy as the kernels: each maximal run of non-NaN values is an
independent series (see :func:`runs`).
"""
