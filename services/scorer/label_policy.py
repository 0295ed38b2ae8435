"""Which events to ask a person about: the ones the champion is unsure of, plus a random audit
sample. The sample is drawn by hashing the event id with a seed, so it is reproducible, the
same on every replica, and a re-scored event gets the same answer (no duplicate requests)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

LOW_CONFIDENCE = "LOW_CONFIDENCE"
RANDOM_SAMPLE = "RANDOM_SAMPLE"


def confidence(score: float, threshold: float) -> float:
    """0 at the threshold, 1 at 0 or 1: how far the score is from changing the decision."""
    if score >= threshold:
        return (score - threshold) / (1.0 - threshold) if threshold < 1.0 else 1.0
    return (threshold - score) / threshold if threshold > 0.0 else 1.0


@dataclass(frozen=True)
class LabelPolicy:
    low_confidence: float = 0.1
    sample_rate: float = 0.01
    seed: int = 7

    def _sampled(self, event_id: str) -> bool:
        if self.sample_rate <= 0.0:
            return False
        digest = hashlib.blake2b(event_id.encode(), digest_size=8,
                                 key=self.seed.to_bytes(8, "big")).digest()
        return int.from_bytes(digest, "big") < self.sample_rate * 2**64

    def propensity(self, confidence_value: float) -> float:
        """The probability that an event of this confidence is sent for labelling: every
        unsure one, and the audit share of the others (the hash draw is uniform)."""
        return 1.0 if confidence_value < self.low_confidence else self.sample_rate

    def reason(self, event_id: str, confidence_value: float) -> str | None:
        """Why a label is wanted for this event, or None."""
        if confidence_value < self.low_confidence:
            return LOW_CONFIDENCE
        if self._sampled(event_id):
            return RANDOM_SAMPLE
        return None
