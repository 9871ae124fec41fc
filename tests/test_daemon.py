"""``backoffice run`` as the owner runs it: a real subprocess, a pinned clock, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _start(data_dir: Path, *args: str, now: str = "2026-11-23T08:00:00") -> subprocess.Popen[str]:
    env = {**os.environ, "BACKOFFICE_NOW": now, "BACKOFFICE_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "run", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the daemon")
        time.sleep(0.05)


def test_daemon_produces_the_digest_once_and_stops_cleanly_on_sigterm(data_dir: Path):
    proc = _start(data_dir, "--check-every", "0.2")
    try:
        state = data_dir / "daemon.json"
        _wait_for(lambda: state.exists() and "last_check" in json.loads(state.read_text()))
        first_check = json.loads(state.read_text())["last_check"]
        _wait_for(lambda: (data_dir / "logs" / "daemon.log").read_text().count("next catch-up") == 1)
        time.sleep(1.5)  # several more catch-up checks on the same (pinned) Monday morning
        # a second daemon on the same book is refused while the first runs
        second = _start(data_dir, "--once")
        out, _ = second.communicate(timeout=30)
        assert second.returncode == 1 and "Another daemon is already running" in out
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    produced = sorted(p.name for p in (data_dir / "notifications").glob("*.json"))
    assert produced == ["2026-11-23-digest.json", "2026-11-23-pipeline.json"]
    log = (data_dir / "logs" / "daemon.log").read_text()
    assert log.count("produced Morning digest — Monday November 23") == 1
    assert "received SIGTERM" in log and log.rstrip().endswith("stopped")
    final = json.loads((data_dir / "daemon.json").read_text())
    assert final["last_check"] == first_check and "stopped_at" in final  # the clock is pinned
    assert "Reports at 07:30 (America/New_York)" in out


def test_daemon_once_is_for_cron_and_a_restart_does_not_repeat(data_dir: Path):
    for _ in range(2):
        proc = _start(data_dir, "--once", "--quiet")
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0 and out == ""
    notes = sorted(p.name for p in (data_dir / "notifications").glob("*.json"))
    assert notes == ["2026-11-23-digest.json", "2026-11-23-pipeline.json"]
    assert (data_dir / "logs" / "daemon.log").read_text().count("produced Morning digest") == 1
