"""The audit trail's assembly: which lifecycle changes are shown, and what is missing."""

from __future__ import annotations

from pathlib import Path

from driftloop.audit import assemble, render_text
from driftloop.audit.trail import _around
from driftloop.registry import ModelRegistry, RunTracker

HISTORY = [
    {"action": "TRAINED", "version": "v1", "at": 100},
    {"action": "PROMOTED", "version": "v1", "at": 110, "reason": "first"},
    {"action": "PROMOTED", "version": "v2", "at": 200, "reason": "beats v1"},
    {"action": "REJECTED", "version": "v3", "at": 250},
    {"action": "ROLLED_BACK", "version": "v1", "at": 300, "reason": "v2 worse live"},
    {"action": "PROMOTED", "version": "v4", "at": 400},
]


def test_around_shows_what_made_the_version_serve_and_what_ended_it() -> None:
    shown = [(h["action"], h["version"]) for h in _around(HISTORY, "v2", 260)]
    assert shown == [("PROMOTED", "v1"), ("PROMOTED", "v2"), ("ROLLED_BACK", "v1")]
    # v1 served again after the rollback, until v4
    shown = [(h["action"], h["version"]) for h in _around(HISTORY, "v1", 350)]
    assert shown == [("PROMOTED", "v2"), ("ROLLED_BACK", "v1"), ("PROMOTED", "v4")]


def test_a_rule_scored_unlabelled_event_says_what_is_missing(tmp_path: Path) -> None:
    prediction = {"event_id": "e1", "model_name": "fraud", "model_version": "baseline-rules-1",
                  "score": 0.2, "threshold": 0.5, "label": 0, "shadow": False,
                  "scored_at": 1_000, "features": {"amount": 12.0},
                  "defaulted_features": [], "degraded": False}
    root = str(tmp_path)
    trail = assemble("e1", [{"event_id": "e1", "amount": 12.0}], [], [prediction], [],
                     ModelRegistry(root), RunTracker(root))
    assert trail.model is not None and trail.model["declared_rule"] is True
    assert trail.missing == ["a label: none was given (yet)"]
    text = render_text(trail)
    assert "prediction (served) by fraud baseline-rules-1" in text
    assert "features as scored: amount=12" in text
    nothing = assemble("e2", [], [], [], [], ModelRegistry(root), RunTracker(root))
    assert nothing.missing == ["the event: neither on events.valid nor dead-lettered"]
