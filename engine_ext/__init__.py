"""Cython kernels behind engine/: typed memoryviews, nogil loops. Call them through engine/."""
