"""De-duplication by id. Delivery is at-least-once (a restart re-reads the uncommitted tail),
so consumers that must act once per event keep the recent ids they have already handled."""

from __future__ import annotations

from collections import OrderedDict


class SeenIds:
    """A bounded, insertion-ordered set: remembers the last ``capacity`` ids."""

    def __init__(self, capacity: int = 1_000_000) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, event_id: str) -> bool:
        """True the first time an id is seen (and remembers it), False for a duplicate."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._ids)
