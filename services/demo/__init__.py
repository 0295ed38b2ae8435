"""Demo: the closed loop made visible. A supervisor that runs the broker and every service
as separate processes, live progress read from the topics, baselines on the same stream, and
the final report (text, PNG timeline, JSON summary) that says whether the loop closed."""

from __future__ import annotations

from services.demo.baselines import Baselines, HabitFeatures
from services.demo.demo_run import Demo, DemoConfig, run_demo
from services.demo.loop_ledger import LoopLedger
from services.demo.loop_report import RECOVERY_TOLERANCE, Truth, build_report, render_text
from services.demo.roc_auc import roc_auc
from services.demo.service_process import ServiceProcess, ServiceStartError
from services.demo.supervisor import Supervisor, SupervisorConfig, runnable_services
from services.demo.timeline_plot import plot_timeline

__all__ = [
    "RECOVERY_TOLERANCE",
    "Baselines",
    "Demo",
    "DemoConfig",
    "HabitFeatures",
    "LoopLedger",
    "ServiceProcess",
    "ServiceStartError",
    "Supervisor",
    "SupervisorConfig",
    "Truth",
    "build_report",
    "plot_timeline",
    "render_text",
    "roc_auc",
    "run_demo",
    "runnable_services",
]
