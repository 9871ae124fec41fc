from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BACKOFFICE_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "backoffice", *args], capture_output=True, text=True, env=env, cwd=ROOT
    )


def test_demo_loads_a_valid_sample_business_once(data_dir: Path):
    first = run("demo", data_dir=data_dir)
    assert first.returncode == 0, first.stderr
    assert "8 contacts" in first.stdout
    check = run("--json", "check", data_dir=data_dir)
    assert check.returncode == 0 and json.loads(check.stdout) == {"ok": True, "problems": []}
    again = run("demo", data_dir=data_dir)
    assert again.returncode == 1 and "already holds a customer book" in again.stderr


@pytest.mark.files_only  # a hand-broken crm.json; test_pgbook breaks a row in the database
def test_check_reports_a_hand_broken_record(data_dir: Path):
    assert run("demo", data_dir=data_dir).returncode == 0
    crm = json.loads((data_dir / "crm.json").read_text())
    crm["leads"]["1"]["status"] = "maybe"
    (data_dir / "crm.json").write_text(json.dumps(crm))
    result = run("check", data_dir=data_dir)
    assert result.returncode == 1 and "L-1: status is 'maybe'" in result.stdout


def test_bad_clock_override_is_a_clear_error(data_dir: Path, monkeypatch):
    monkeypatch.setenv("BACKOFFICE_NOW", "next tuesday")
    result = run("demo", data_dir=data_dir)
    assert result.returncode == 1 and "BACKOFFICE_NOW" in result.stderr and "Traceback" not in result.stderr


def test_no_command_prints_usage_and_exits_2(data_dir: Path):
    assert run(data_dir=data_dir).returncode == 2


def test_chat_answers_read_requests_from_piped_input(data_dir: Path):
    assert run("demo", data_dir=data_dir).returncode == 0
    env = {**os.environ, "BACKOFFICE_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    script = (
        "what's our pipeline?\nwhat follow-ups are due?\nany leads gone quiet?\n"
        "how long since we talked to Marcus Chen?\nfind 555.201.7788\nmake me a sandwich\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "backoffice", "chat"], input=script, capture_output=True, text=True, env=env, cwd=ROOT
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "Offline planner answering (no ANTHROPIC_API_KEY set)" in out
    assert "Proposals out: 2 (total value: $5,900)" in out and "Lost this week: 1" in out
    assert "Linda Ortiz" in out and "overdue 1 d" in out and "Tom Becker" in out
    assert "Heads up: the Kitchen remodel plumbing at 77 Pine Ave lead from Marcus Chen" in out
    assert "Last contact with Marcus Chen: 8 days ago" in out
    assert "Dana Reyes" in out and "(555) 201-7788" in out  # as the book displays phones
    assert "I didn't catch that." in out
    assert out.rstrip().endswith("Bye.")
