"""Bad input gets a sentence, never a traceback, and changes nothing; the data dir is the owner's
only, whatever the umask."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backoffice.tools.book.store import Store

from .conftest import FRIDAY, add_contact

ROOT = Path(__file__).resolve().parent.parent


def run(data_dir: Path, *args: str | bytes, stdin: bytes = b"", umask: int | None = None, **env: str):
    """The real command in its own process (arguments may be bytes: a name that is not UTF-8)."""
    environ = {**os.environ, "BACKOFFICE_DATA_DIR": str(data_dir), "BACKOFFICE_NOW": FRIDAY, "COLUMNS": "200", **env}
    environ.pop("ANTHROPIC_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "backoffice", *args],
        input=stdin,
        capture_output=True,
        env=environ,
        cwd=ROOT,
        timeout=120,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )


def screen(result: subprocess.CompletedProcess[bytes]) -> str:
    return (result.stdout + result.stderr).decode("utf-8", "replace")


# ---------------------------------------------------------------------------- options and arguments
@pytest.mark.parametrize(
    "argv, says",
    [
        (("digest", "--date", "0001-01-01"), "give a date between 1900 and 2999"),
        (("pipeline", "--date", "9999-12-31"), "give a date between 1900 and 2999"),
        (("winloss", "--month", "9999-12"), "give a month between 1900 and 2999"),
        (("run", "--check-every", "nan"), "--check-every nan is not usable"),
        (("run", "--check-every", "inf"), "--check-every inf is not usable"),
        (("run", "--poll-every", "-1"), "--poll-every -1 is not usable"),
        (("merge", "C-1", "C-" + "9" * 5000), "is not a contact id"),
        (("merge", "C-1", "C-²"), "is not a contact id"),
        (("approve", "P-" + "1" * 5000), "There is no pending action"),
    ],
)
def test_odd_values_are_refused_with_a_sentence(cli, store: Store, argv: tuple[str, ...], says: str):
    add_contact(store)
    code, out = cli(*argv)
    assert code in (1, 2) and says in out and "Traceback" not in out
    assert len(out) < 2000  # a 5,000-digit id is not echoed back in full
    assert store.count("contacts") == 1


def test_a_very_long_message_is_refused_at_once_and_the_patterns_stay_linear(cli, store: Store):
    from backoffice.agent.planners.offline.understand import find_email, find_phone

    started = time.perf_counter()
    code, out = cli("ask", "1 " * 50_000)
    assert code == 1 and "messages of up to 20,000 are read" in out and "Nothing was done" in out
    for hostile in ("a" * 100_000, "a@" * 50_000, "1 " * 50_000, "1-" * 50_000, ("9" * 9 + " ") * 10_000):
        assert find_email(hostile) is None or "@" in hostile
        find_phone(hostile, "US")
    assert time.perf_counter() - started < 10  # was over 60 s for one 100 KB message
    assert find_email("write to Dana.R+x@Reyes-Plumbing.co.uk.") == "Dana.R+x@reyes-plumbing.co.uk"
    assert find_phone("call (555) 201-7788 ext 12 please", "US") == ("(555) 201-7788 ext 12", "+15552017788")


# ---------------------------------------------------------------------------- text that is not UTF-8
def test_bytes_that_are_not_utf8_neither_end_the_chat_nor_reach_the_book(store: Store, data_dir: Path):
    add_contact(store, name="Dana Reyes", phone="555-201-7788")
    lines = b"find Dana\n\xff\xfe\xfa garbage \x80\nwhat's our pipeline?\n"
    # a strict UTF-8 terminal, where Python would otherwise raise on the second line
    result = run(data_dir, "chat", stdin=lines, PYTHONIOENCODING="utf-8:strict")
    out = screen(result)
    assert result.returncode == 0 and "Traceback" not in out, out
    assert "Pipeline" in out and out.rstrip().endswith("Bye.")
    result = run(data_dir, "ask", b"add a new customer, Ann \xffLee, 555-301-2222", PYTHONIOENCODING="utf-8:strict")
    assert "Traceback" not in screen(result) and result.returncode in (0, 1)
    os.chmod(data_dir, 0o700)  # (made by the test fixture, not by backoffice)
    assert run(data_dir, "check").returncode == 0  # whatever was stored is valid UTF-8


def test_a_file_name_that_is_not_utf8_is_imported_and_shown(store: Store, data_dir: Path, tmp_path: Path):
    name = os.fsdecode(bytes(tmp_path) + b"/clients-\xe9t\xe9.csv")
    Path(name).write_text("Name,Phone\nSam Lee,555-301-2222\n")
    result = run(data_dir, "import", "--yes", os.fsencode(name), PYTHONIOENCODING="utf-8:strict")
    assert result.returncode == 0 and "Traceback" not in screen(result), screen(result)
    assert "Imported clients-\ufffdt\ufffd.csv" in screen(result) and Store(data_dir).count("contacts") == 1


# ---------------------------------------------------------------------------- files that are not CSV files
def test_devices_pipes_and_huge_fields_are_refused_without_hanging(cli, store: Store, tmp_path: Path):
    code, out = cli("import", "--yes", "/dev/zero")
    assert code == 1 and "is not a regular file" in out
    fifo = tmp_path / "feed.csv"
    os.mkfifo(fifo)
    started = time.perf_counter()
    code, out = cli("import", "--yes", str(fifo))
    assert code == 1 and "is not a regular file" in out and time.perf_counter() - started < 5
    huge = tmp_path / "notes.csv"
    huge.write_text('Name,Notes\nSam Lee,"' + "x" * (17 * 1024 * 1024) + "\nAnn Lee,hi\n")
    code, out = cli("import", "--yes", str(huge))
    assert code == 1 and "line 2 cannot be read" in out and "Traceback" not in out
    assert store.count("contacts") == 0


def test_sign_in_files_of_the_wrong_shape_say_so(cli, store: Store, data_dir: Path):
    (data_dir / "quickbooks.token.json").write_text('{"client_id": 5, "realm_id": ["x"]}')
    (data_dir / "gmail.token.json").write_text('{"token": 5}')
    code, out = cli("quickbooks", "status")
    assert "quickbooks.token.json" in out and "damaged" in out and "Traceback" not in out
    code, out = cli("doctor")
    assert "gmail.token.json" in out and "quickbooks.token.json" in out and "Traceback" not in out
    code, out = cli("gmail", "poll")
    assert code == 1 and "gmail.token.json" in out and "Traceback" not in out


@pytest.mark.files_only  # edits crm.json by hand (test_pgbook breaks a row and runs check)
def test_a_record_without_its_id_is_named_by_every_reader(cli, store: Store, data_dir: Path):
    add_contact(store)
    store.close()
    raw = (data_dir / "crm.json").read_text().replace('"contact_id":"C-1",', "")
    (data_dir / "crm.json").write_text(raw)
    for argv in (("digest",), ("export", "-"), ("ask", "find Dana")):
        code, out = cli(*argv)
        assert "crm.json" in out and "should be C-1" in out and "Traceback" not in out, argv
    assert (data_dir / "crm.json").read_text() == raw


def test_an_unexpected_failure_is_a_sentence_and_debug_shows_the_traceback(cli, store: Store, monkeypatch):
    def broken(*_: object, **__: object) -> None:
        raise ZeroDivisionError("deliberately")

    monkeypatch.setattr("backoffice.tools.reports.digest.digest_data", broken)
    code, out = cli("digest")
    assert code == 1 and "unexpected problem (ZeroDivisionError: deliberately)" in out and "Traceback" not in out
    monkeypatch.setenv("BACKOFFICE_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli("digest")


# ---------------------------------------------------------------------------- permissions
def _loose(data_dir: Path) -> list[str]:
    out = []
    for root, dirs, files in os.walk(data_dir):
        for name in [*dirs, *files]:
            path = Path(root) / name
            mode = stat.S_IMODE(path.lstat().st_mode)
            if mode & 0o077:
                out.append(f"{path.relative_to(data_dir)} {mode:o}")
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    return out + ([f". {mode:o}"] if mode & 0o077 else [])


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.files_only  # lists the book's own files; on PostgreSQL they are rows
def test_under_umask_000_everything_in_the_data_dir_is_the_owners_only(data_dir: Path, tmp_path: Path):
    steps = [
        ("demo",),
        ("ask", "mark the boiler service job won"),  # pending.json
        ("ask", "draft a follow-up to Marcus Chen"),
        ("run", "--once", "--quiet"),  # logs/, daemon.json, notifications/
        ("inbound", str(ROOT / "tests" / "fixtures" / "mail" / "forms" / "gravity_text_water_heater.eml")),
    ]
    for argv in steps:
        result = run(data_dir, *argv, umask=0)
        assert result.returncode in (0, 1) and b"Traceback" not in result.stderr, (argv, screen(result))
    result = run(data_dir, "chat", stdin=b"approve P-1\nquit\n", umask=0)
    assert b"Traceback" not in result.stderr
    csv = tmp_path / "people.csv"
    csv.write_text("Name,Email\nSam Lee,not-an-email\nAnn Lee,ann@example.com\n")
    assert run(data_dir, "import", "--yes", str(csv), umask=0).returncode == 0
    made = {p.name for p in data_dir.iterdir()}
    assert {"logs", "notifications", "pending.json", "crm.json", "index.sqlite", "imports.json"} <= made, made
    assert _loose(data_dir) == []
    assert (data_dir / "logs" / "daemon.log").stat().st_size > 0


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_daemon_log_left_readable_by_an_older_version_is_made_private(data_dir: Path):
    assert run(data_dir, "demo").returncode == 0
    log = data_dir / "logs" / "daemon.log"
    log.parent.mkdir(parents=True, exist_ok=True)  # on PostgreSQL the demo wrote nothing here
    log.write_text("2026-11-19 old line with a customer's phone\n")
    os.chmod(log, 0o644)
    assert run(data_dir, "run", "--once", "--quiet").returncode == 0
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and "old line" in log.read_text()


def test_the_outbox_is_private_too(cli, store: Store, data_dir: Path):
    from backoffice.agent.gate.gate import Gate
    from backoffice.agent.gate.pending import PendingStore

    c = add_contact(store, email="dana@example.com")
    old = os.umask(0)
    try:
        Gate(store, PendingStore(data_dir)).call("send_message", {"contact_id": c["contact_id"], "subject": "Hi",
                                                                  "body": "Hello"})  # fmt: skip
        assert cli("approve", "P-1")[0] == 0
    finally:
        os.umask(old)
    outbox = data_dir / "outbox"
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in outbox.iterdir())
    shutil.rmtree(outbox)
