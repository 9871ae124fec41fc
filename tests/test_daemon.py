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
    data_dir.mkdir(parents=True, exist_ok=True)  # a book to run for: the daemon never starts an empty one
    if os.environ.get("BACKOFFICE_DATABASE_URL"):  # on PostgreSQL the book is its tables, made by a first write
        from backoffice.tools.book.store import Store

        book = Store(data_dir)
        with book.transaction():
            pass
        book.close()
    env = {**os.environ, "BACKOFFICE_NOW": now, "BACKOFFICE_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "backoffice", "run", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _reports(data_dir: Path) -> list[str]:
    """The reports produced, named as their files are (on PostgreSQL they are rows)."""
    from backoffice.agent.briefings.notifications import Notifications

    return sorted(f"{note.id}.json" for note in Notifications(data_dir).all())


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
    produced = _reports(data_dir)
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
    notes = _reports(data_dir)
    assert notes == ["2026-11-23-digest.json", "2026-11-23-pipeline.json"]
    assert (data_dir / "logs" / "daemon.log").read_text().count("produced Morning digest") == 1


def test_the_daemon_follows_an_owner_procedure_that_moves_the_digest_and_reports_a_bad_one(data_dir: Path):
    procedures = data_dir / "procedures"
    procedures.mkdir(parents=True)
    (procedures / "early.md").write_text(
        "---\nname: early\nschedule:\n  - name: daily_digest\n    report: digest\n"
        "    when: every business day at 06:00\n  - name: nightly\n    report: digest\n    when: nightly\n---\n"
    )
    proc = _start(data_dir, "--once", now="2026-11-23T06:10:00")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "Reports at 06:00, 07:30 (America/New_York)" in out
    assert f"procedure file problem: {procedures / 'early.md'}:9: schedule 'nightly'" in out
    # Monday 06:10: the moved digest is due, the pipeline (07:30) is not yet
    assert _reports(data_dir) == ["2026-11-23-digest.json"]


INQUIRY = """From: Person {i} <person{i}@example.test>
To: office@reyesplumbing.test
Subject: Leak number {i}
Message-ID: <daemon-{i}@example.test>
Content-Type: text/plain; charset=utf-8

Hello, tap {i} is leaking.
"""


def test_the_daemon_and_a_chat_writing_at_the_same_time_lose_nothing(data_dir: Path):
    inbox = data_dir / "inbox"
    inbox.mkdir(parents=True)
    n = 25
    daemon = _start(data_dir, "--check-every", "0.3", "--poll-every", "0.05", now="2026-11-20T10:00:00")
    try:
        _wait_for(lambda: (data_dir / "daemon.json").exists())
        chat_lines = "".join(f"new inquiry from Caller{i} Test, 555-010-{i:04d}, drain {i}\n" for i in range(n))
        env = {**os.environ, "BACKOFFICE_NOW": "2026-11-20T10:00:00", "BACKOFFICE_DATA_DIR": str(data_dir)}
        chat = subprocess.Popen(
            [sys.executable, "-m", "backoffice", "chat"],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(n):  # emails land while the chat is writing
            tmp = inbox / f".{i}.part"
            tmp.write_text(INQUIRY.format(i=i))
            tmp.rename(inbox / f"{i:03d}.eml")
        out, _ = chat.communicate(chat_lines, timeout=120)
        assert chat.returncode == 0, out
        _wait_for(lambda: len(list((inbox / "done").glob("*.eml"))) == n, seconds=60)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=30)
    assert daemon.returncode == 0
    from backoffice.tools.book.store import Store

    store = Store(data_dir)
    with store.reading():
        leads = list(store.scan("leads"))
        phones = {p for c in store.scan("contacts") for p in c["phones"]}
    assert len(leads) == 2 * n and len({lead["lead_id"] for lead in leads}) == 2 * n
    by_email = sorted(lead["title"] for lead in leads if lead["source"] == "email")
    assert by_email == sorted(f"Leak number {i}" for i in range(n))
    assert sum(lead["source"] == "phone_call" for lead in leads) == n
    assert phones == {f"+1555010{i:04d}" for i in range(n)}
    assert store.count("contacts") == 2 * n and store.count("interactions") == 2 * n
    assert not list(inbox.glob("*.eml")) and not (inbox / "failed").exists()
    store.close()
