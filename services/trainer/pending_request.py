"""The retrain request the trainer owes a run: kept until a run trains on it, never dropped.

A request may arrive while a run is in flight, or when the training window (which the request
itself may just have moved to a change point) holds too few labels to train on. Either way it
waits here, durably (the trainer's store), and trains as soon as a run slot is free and enough
labels are in. Requests do not queue: the newest supersedes the older ones, because each asks
for the same thing (a model fit for the world as it is now) and the newest knows most about
it; the superseded ids are kept, so the run that answers says which requests it answered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

DOCUMENT = "pending_request"  # its key in the trainer's store; `driftloop status` reads it


@dataclass(frozen=True)
class PendingRequest:
    request_id: str
    reason: str
    requested_by: str
    received_ms: int                     # wall clock when the trainer took it
    supersedes: tuple[str, ...] = ()     # older requests this one answers too
    attempts: int = 0                    # runs refused for too little data so far
    waiting_for: str = ""                # why it has not trained yet (for status and logs)
    attempt_label_seq: int = 0           # labels seen at the last refusal; retry after more
    links: tuple[Any, ...] = field(default=(), compare=False)  # trace links (not stored)

    @classmethod
    def from_record(cls, record: dict[str, Any], received_ms: int) -> PendingRequest:
        return cls(str(record["request_id"]), str(record["reason"]),
                   str(record["requested_by"]), received_ms)

    def superseding(self, older: PendingRequest | None) -> PendingRequest:
        """This request, answering ``older`` (and whatever it answered) too."""
        if older is None:
            return self
        ids = (*older.supersedes, older.request_id, *self.supersedes)
        return replace(self, supersedes=tuple(dict.fromkeys(ids)),
                       links=(*older.links, *self.links))

    def refused(self, why: str, label_seq: int) -> PendingRequest:
        return replace(self, attempts=self.attempts + 1, waiting_for=why,
                       attempt_label_seq=label_seq)

    def without(self, answered: Sequence[str]) -> PendingRequest:
        """This request, no longer claiming to answer ``answered`` (a run just did)."""
        return replace(self, supersedes=tuple(i for i in self.supersedes if i not in answered))

    @property
    def answers(self) -> list[str]:
        """Every request id a run on this request answers, oldest first."""
        return [*self.supersedes, self.request_id]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("links")
        out["supersedes"] = list(self.supersedes)
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PendingRequest:
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        known["supersedes"] = tuple(known.get("supersedes", ()))
        return cls(**known)


def newest(requests: Sequence[PendingRequest], pending: PendingRequest | None
           ) -> PendingRequest | None:
    """Fold arriving requests (in arrival order) into the pending one: the last wins."""
    for request in requests:
        pending = request.superseding(pending)
    return pending
