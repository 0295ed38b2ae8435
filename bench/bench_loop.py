"""Loop time: from the concept drift's onset to the new model promoted, at 2,000 events/s with
labels delayed by a few seconds; and the scoreboard: the closed loop against a static model
and River's online learners (logistic regression, Hoeffding adaptive tree, adaptive random
forest) on the same events and labels, with each learner's cost per event. Runs the demo
(broker + every service as processes) on free ports and prints its figures; on the domain of
DRIFTLOOP_DOMAIN (``python -m bench loop --domain loans``), its own label flow."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from driftloop.contracts import Domain
from driftloop.demo.loop_report import render_scoreboard

RATE = int(os.environ.get("DRIFTLOOP_BENCH_LOOP_RATE", "2000"))
DURATION_S = int(os.environ.get("DRIFTLOOP_BENCH_LOOP_DURATION", "150"))
ONSET_S = 50


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    domain = Domain.load()
    out = Path(tempfile.mkdtemp(prefix=f"bench-loop-{domain.name}-"))
    ports = ",".join(f"{s}={_free_port()}"
                     for s in ("ingest", "features", "scorer", "trainer", "monitor"))
    cmd = [sys.executable, "-c", "from driftloop.cli.main import app; app()", "demo",
           "--domain", domain.name, "--duration", str(DURATION_S), "--rate", str(RATE),
           "--drifts", f"concept@{ONSET_S}", "--output", str(out),
           "--broker-port", str(_free_port()), "--ports", ports, "--drain-timeout", "180"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    summary_path = out / "summary.json"
    if not summary_path.exists():
        print(f"the demo produced no summary (exit {proc.returncode}):\n{proc.stdout[-2000:]}"
              f"\n{proc.stderr[-2000:]}")
        return
    s = json.loads(summary_path.read_text())
    t, q = s["times_s"], s["quality_roc_auc"]
    sent = s["events"]["sent"]
    delay = s["config"]["label_delay_s"]
    print(f"domain {domain.name}: {sent} events at {RATE}/s target "
          f"({sent / DURATION_S:.0f}/s achieved), labels delayed {delay[0]:g}-{delay[1]:g} s, "
          f"concept drift at t={ONSET_S}s")
    print(f"loop time (drift onset -> new model promoted): "
          f"{t['loop_time'] if t['loop_time'] is not None else 'did not close'} s "
          f"(target <= 60 s); detected t={t['drift_detected']}, retrain requested "
          f"t={t['retrain_requested']}, promoted t={t['new_model_promoted']}")
    print(f"recovery time (drift onset -> the promotion after which ROC AUC stays within "
          f"{q['recovery_tolerance']} of before): "
          f"{t['recovery_time'] if t['recovery_time'] is not None else 'not recovered'} s; "
          f"ROC AUC before {q['champion']['before']}, after {q['champion']['after']}")
    print("\n".join(render_scoreboard(s["scoreboard"])))
    print(f"loop closed: {s['loop_closed']}, beat the baselines: {s['beat_baselines']} "
          f"(demo exit {proc.returncode}); report, PNG and JSON in {out}")


if __name__ == "__main__":
    main()
