"""Liveness and readiness of one service process."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Health:
    """``live`` is false only when the process should be restarted; ``ready`` lists what is
    still missing (broker, topics, model...) so /readyz can say why it is not ready."""

    live: bool = True
    waiting_for: set[str] = field(default_factory=set)

    def waiting(self, what: str) -> None:
        self.waiting_for.add(what)

    def done(self, what: str) -> None:
        self.waiting_for.discard(what)

    @property
    def ready(self) -> bool:
        return self.live and not self.waiting_for
