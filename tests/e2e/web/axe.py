"""Accessibility checks with axe-core (from the npm registry, ``make assets``) in a Playwright page.

``violations(page)`` injects ``node_modules/axe-core/axe.min.js`` and runs its WCAG 2.0 and 2.1
A and AA rules and its best practices; ``blocking(page, what)`` describes those of serious or critical impact (for each
the rule, its help text and the first elements it found), for a test to collect and assert on.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0 and 2.1, levels A and AA, and axe's best practices (landmarks, heading order, ...).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = ("serious", "critical")
# Markup that is not ours and that no attribute of ours can fix, each with the reason; none so far
# (CodeMirror's editor and lightweight-charts' canvases pass as they are).
EXCLUDE: list[list[str]] = []


def screenshots_dir() -> Path | None:
    """Where README screenshots go (``QG_SCREENSHOTS``, relative to the repository), or None.

    Unset in CI, so that a test run does not rewrite the committed pictures."""
    wanted = os.environ.get("QG_SCREENSHOTS")
    if not wanted:
        return None
    path = Path(wanted) if Path(wanted).is_absolute() else ROOT / wanted
    path.mkdir(parents=True, exist_ok=True)
    return path


def violations(page) -> list[dict]:
    """Run axe-core on the page as it is now; return its violations (any impact)."""
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing; run `make assets` (npm ci installs axe-core)")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """([tags, exclude]) => axe.run({include: [document], exclude: exclude},
                                         {runOnly: {type: "tag", values: tags},
                                          resultTypes: ["violations"]})
                                .then(r => r.violations)""",
        [TAGS, EXCLUDE],
    )


def describe(found: list[dict], nodes: int = 3) -> str:
    lines = []
    for v in found:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} [{len(v['nodes'])} elements]")
        for node in v["nodes"][:nodes]:
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    {node['target']}: {summary[:300]}")
    return "\n".join(lines)


def blocking(page, what: str) -> str:
    """The serious or critical WCAG A/AA violations on the page, described; "" if none."""
    found = [v for v in violations(page) if v["impact"] in BLOCKING]
    path = page.url.split("/", 3)[-1]
    return f"{what} (/{path}):\n{describe(found)}" if found else ""
