"""How big a chaos run is: ``make test`` runs the defaults (the whole chaos directory in a
few minutes on two busy cores); ``make chaos`` sets the DRIFTLOOP_CHAOS_* variables higher."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ChaosSizes:
    events: int = 3000       # events of the kill -9 stream (at least: it flows until the kills end)
    rate: float = 300.0      # events per second of every stream
    kills: int = 1           # SIGKILLs of each of the five services
    fuzz: int = 2000         # fuzzed payloads (half over HTTP, half on events.raw)
    freeze_s: float = 4.0    # how long Redis stays SIGSTOPped
    seed: int = 3            # seeds every stream, kill schedule and mutation

    @classmethod
    def from_env(cls) -> ChaosSizes:
        env = os.environ
        return cls(events=int(env.get("DRIFTLOOP_CHAOS_EVENTS", cls.events)),
                   rate=float(env.get("DRIFTLOOP_CHAOS_RATE", cls.rate)),
                   kills=int(env.get("DRIFTLOOP_CHAOS_KILLS", cls.kills)),
                   fuzz=int(env.get("DRIFTLOOP_CHAOS_FUZZ", cls.fuzz)),
                   freeze_s=float(env.get("DRIFTLOOP_CHAOS_FREEZE_S", cls.freeze_s)),
                   seed=int(env.get("DRIFTLOOP_CHAOS_SEED", cls.seed)))
