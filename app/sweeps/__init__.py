"""Sweep pages: the form with a live combination count, the heatmap and top table."""
