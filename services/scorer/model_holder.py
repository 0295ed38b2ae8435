"""The models serving right now. A batch takes one snapshot at its start and scores with it to
the end, and a swap replaces the snapshot between batches: the batch in flight finishes on
the old model, and every prediction names exactly one version."""

from __future__ import annotations

from dataclasses import dataclass

from services.scorer.model import Model


@dataclass(frozen=True)
class Serving:
    """An immutable pair: the champion (always set: a registry version or the baseline) and
    the challenger scored in shadow, if any."""

    champion: Model
    challenger: Model | None = None


class ModelHolder:
    def __init__(self, baseline: Model) -> None:
        self.baseline = baseline
        self._serving = Serving(baseline)

    def snapshot(self) -> Serving:
        return self._serving

    def set_champion(self, model: Model) -> None:
        challenger = self._serving.challenger
        if challenger is not None and challenger.version == model.version:
            challenger = None  # the challenger was promoted: no point scoring it twice
        # One reference assignment: readers see the old pair or the new one, never a mix.
        self._serving = Serving(model, challenger)

    def set_challenger(self, model: Model | None) -> None:
        self._serving = Serving(self._serving.champion, model)
