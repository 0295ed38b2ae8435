"""Audit: one event's trail through the platform (event, predictions, labels, model version,
training run, promotions), assembled from the topics and the registry alone."""

from __future__ import annotations

from driftloop.audit.trail import AuditTrail, assemble, collect, render_text

__all__ = ["AuditTrail", "assemble", "collect", "render_text"]
