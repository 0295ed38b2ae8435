"""Demo: the closed loop made visible. A supervisor that runs the broker and every service
as separate processes, live progress read from the topics, baselines on the same stream, and
the final report (text, PNG timeline, JSON summary) that says whether the loop closed and
whether it beat the baselines (the scoreboard)."""

from __future__ import annotations

from driftloop.demo.baselines import (
    BaselineProcess,
    BaselineRun,
    Baselines,
    BaselineSpec,
    event_inputs,
)
from driftloop.demo.demo_run import Demo, DemoConfig, run_demo
from driftloop.demo.loop_ledger import LoopLedger
from driftloop.demo.loop_report import (
    RECOVERY_TOLERANCE,
    Truth,
    build_report,
    exit_code,
    render_text,
)
from driftloop.demo.roc_auc import roc_auc
from driftloop.demo.scoreboard import ModelScores, build_scoreboard
from driftloop.demo.service_process import ServiceProcess, ServiceStartError
from driftloop.demo.supervisor import Supervisor, SupervisorConfig, runnable_services
from driftloop.demo.timeline_plot import plot_timeline

__all__ = [
    "RECOVERY_TOLERANCE",
    "BaselineProcess",
    "BaselineRun",
    "BaselineSpec",
    "Baselines",
    "Demo",
    "DemoConfig",
    "LoopLedger",
    "ModelScores",
    "ServiceProcess",
    "ServiceStartError",
    "Supervisor",
    "SupervisorConfig",
    "Truth",
    "build_report",
    "build_scoreboard",
    "event_inputs",
    "exit_code",
    "plot_timeline",
    "render_text",
    "roc_auc",
    "run_demo",
    "runnable_services",
]
