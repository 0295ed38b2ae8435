"""The Grafana dashboards under deploy/ and the PromQL they run, read without a Prometheus.

Shared by tests/unit/test_deployment.py (the metrics a dashboard queries against those the
code declares) and tests/integration/test_live_metrics.py (against live /metrics pages). The
PromQL reading is deliberately small: metric names, ``metric{label="value"}`` selectors and
``by (labels)`` groupings, which is all the dashboards use; label values inside strings are
never mistaken for metric names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DASHBOARD_DIR = REPO / "deploy" / "grafana" / "dashboards"

PROMQL_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
METRIC = re.compile(r"\bdriftloop_[a-zA-Z0-9_:]+")
SELECTOR = re.compile(r'\b(driftloop_[a-zA-Z0-9_:]+)\s*\{((?:[^{}"]|"(?:[^"\\]|\\.)*")*)\}')
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
GROUPING = re.compile(r"\bby\s*\(([^()]*)\)")


@dataclass(frozen=True)
class Matcher:
    """One ``label op "value"`` of a selector on ``metric``."""

    metric: str
    label: str
    op: str
    value: str


@dataclass(frozen=True)
class Grouping:
    """``by (labels)`` of an aggregation, and the driftloop metrics it aggregates."""

    labels: frozenset[str]
    metrics: frozenset[str]


def dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard JSON by file name (a file that does not parse fails here)."""
    paths = sorted(DASHBOARD_DIR.glob("*.json"))
    assert paths, f"no dashboard under {DASHBOARD_DIR}"
    return {p.name: json.loads(p.read_text()) for p in paths}


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    """The PromQL of every panel target (rows' nested panels included) and query variable."""
    exprs = []
    stack = list(dashboard.get("panels", []))
    while stack:
        panel = stack.pop()
        stack.extend(panel.get("panels", []))
        exprs.extend(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if variable.get("type") == "query" and isinstance(query, str):
            exprs.append(query)
    return exprs


def all_exprs() -> dict[str, list[str]]:
    """Every dashboard's PromQL expressions, by dashboard file name."""
    return {name: dashboard_exprs(d) for name, d in dashboards().items()}


def _blank_strings(expr: str) -> str:
    return PROMQL_STRING.sub('""', expr)


def promql_metrics(expr: str) -> set[str]:
    """The driftloop metric names a PromQL expression selects (label values are skipped)."""
    return set(METRIC.findall(_blank_strings(expr)))


def promql_matchers(expr: str) -> list[Matcher]:
    """Every label matcher of every ``driftloop_...{...}`` selector."""
    return [Matcher(metric, label, op, value)
            for metric, body in SELECTOR.findall(expr)
            for label, op, value in MATCHER.findall(body)]


def _group_end(text: str, start: int) -> int:
    """The index after the parenthesis that closes the one at ``text[start]``."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    raise ValueError(f"unbalanced parentheses in {text!r}")


def _group_start(text: str, end: int) -> int:
    """The index of the parenthesis that opens the one at ``text[end]``."""
    depth = 0
    for i in range(end, -1, -1):
        depth += {")": 1, "(": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise ValueError(f"unbalanced parentheses in {text!r}")


def promql_groupings(expr: str) -> list[Grouping]:
    """Every ``by (labels)`` with the metrics of the expression it aggregates: the group after
    it (``sum by (le) (rate(m[5m]))``) or, in the trailing form, before it
    (``sum(rate(m[5m])) by (le)``)."""
    text = _blank_strings(expr)
    found = []
    for match in GROUPING.finditer(text):
        labels = frozenset(p.strip() for p in match.group(1).split(",") if p.strip())
        after = match.end()
        while after < len(text) and text[after].isspace():
            after += 1
        if after < len(text) and text[after] == "(":
            scope = text[after:_group_end(text, after)]
        else:
            before = match.start() - 1
            while before >= 0 and text[before].isspace():
                before -= 1
            if before < 0 or text[before] != ")":
                raise ValueError(f"cannot tell what `{match.group(0)}` aggregates in {expr!r}")
            scope = text[_group_start(text, before):before + 1]
        found.append(Grouping(labels, frozenset(METRIC.findall(scope))))
    return found
