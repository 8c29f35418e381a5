"""PBO by CSCV the slow, obvious way: loops over the choices, the metric on concatenated rows."""

from __future__ import annotations

import statistics
from itertools import combinations

import numpy as np


def sharpe(column: np.ndarray) -> float:
    return statistics.mean(column) / statistics.stdev(column)


def pbo(matrix: np.ndarray, blocks: int, metric=sharpe) -> dict:
    t, n = matrix.shape
    size = t // blocks
    kept = matrix[t - size * blocks :]
    parts = [kept[b * size : (b + 1) * size] for b in range(blocks)]
    logits, in_sample_best, out_of_sample = [], [], []
    for chosen in combinations(range(blocks), blocks // 2):
        train = np.concatenate([parts[b] for b in chosen])
        test = np.concatenate([parts[b] for b in range(blocks) if b not in chosen])
        r_is = [metric(train[:, j].tolist()) for j in range(n)]
        r_oos = [metric(test[:, j].tolist()) for j in range(n)]
        best = r_is.index(max(r_is))
        ordered = sorted(r_oos)
        places = [k + 1 for k, v in enumerate(ordered) if v == r_oos[best]]
        w = statistics.mean(places) / (n + 1)
        logits.append(np.log(w / (1 - w)))
        in_sample_best.append(r_is[best])
        out_of_sample.append(r_oos[best])
    return {
        "pbo": sum(lam <= 0 for lam in logits) / len(logits),
        "logits": np.array(logits),
        "in_sample_best": np.array(in_sample_best),
        "out_of_sample": np.array(out_of_sample),
    }
