"""The metric names that the Grafana dashboards and the alert rules use (for the tests)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

OPS = Path(__file__).resolve().parents[3] / "ops"
_NOT_METRICS = {"by", "without", "sum", "rate", "max", "min", "avg", "count", "deriv", "on",
                "histogram_quantile", "and", "or", "unless", "increase", "le", "irate", "bool",
                "ignoring", "group_left", "time", "abs", "clamp_min", "topk"}  # fmt: skip


def expressions() -> dict[str, list[str]]:
    """Source file → its PromQL expressions."""
    out: dict[str, list[str]] = {}
    for path in sorted((OPS / "grafana" / "dashboards").glob("*.json")):
        panels = json.loads(path.read_text())["panels"]
        out[path.name] = [t["expr"] for p in panels for t in p.get("targets", [])]
    rules = yaml.safe_load((OPS / "prometheus" / "alerts.yml").read_text())
    out["alerts.yml"] = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    return out


def metric_names(expr: str) -> set[str]:
    """Series names in ``expr`` (a histogram's ``_bucket``/``_count`` names as written)."""
    expr = re.sub(r"\{[^}]*\}", "{}", expr)  # label matchers hold no metric names
    expr = re.sub(r"\[[^\]]*\]", "[]", expr)
    names = set(re.findall(r"\b([a-z_][a-z0-9_]*)\s*(?:\{|\[)", expr))
    names |= {
        n
        for n in re.findall(
            r"\b([a-z_][a-z0-9_:]*_(?:total|seconds|bytes|count|bucket|sum|up|depth|streaming|active|combinations))\b",
            expr,
        )
    }  # noqa: E501
    names.add("up") if re.search(r"\bup\b", expr) else None
    return {n for n in names if n not in _NOT_METRICS}
