"""Fault injection: damaged files, killed processes and simultaneous runs lose nothing.

Three parts, each bounded in time so the module stays in the suite:

1. The corruption matrix: every data file, damaged six ways, under every command. No traceback
   ever; each command that reads the file names it; the damaged file is left byte for byte as it
   was (the audit log is append-only instead: what it held stays, a torn tail is cut).
2. Kills: ``approve`` of a merge, and an import, each SIGKILLed at random moments; afterwards the
   book is whole, nothing ran twice, and the owner can finish or drop what was cut short.
3. Simultaneous runs: two imports of one file, five approvals of one action, and an import whose
   owner answers after another import changed the same contact.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from backoffice.tools.book.store import Store

from .conftest import FRIDAY

ROOT = Path(__file__).resolve().parent.parent
INQUIRY = ROOT / "tests" / "fixtures" / "mail" / "forms" / "gravity_text_water_heater.eml"


def backoffice(data_dir: Path, *args: str, stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m backoffice`` as its own process, as an owner (or cron) runs it."""
    env = {**os.environ, "BACKOFFICE_DATA_DIR": str(data_dir), "BACKOFFICE_NOW": FRIDAY, "COLUMNS": "200"}
    env.pop("ANTHROPIC_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "backoffice", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )


class Books:
    """Books for the tests below, one per data dir. On files a book is its folder. With
    ``--backend=postgresql`` each data dir gets a database of its own, named in its settings.json
    (several books live side by side in one test, so the one address in the environment is put
    aside), and a copy is made the way an owner would move one: ``backoffice migrate``."""

    def __init__(self, new_database: Any | None):
        self.new_database = new_database

    def own(self, data_dir: Path) -> Path:
        """``data_dir`` with a new, empty book of its own."""
        if self.new_database is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._point(data_dir, self.new_database())
        return data_dir

    def copy(self, source: Path, data_dir: Path) -> Path:
        """A copy of the book of files in ``source`` at ``data_dir`` (on PostgreSQL: in a new database)."""
        shutil.copytree(source, data_dir)
        if self.new_database is not None:
            from backoffice.tools.book.moving import to_database

            url = self.new_database()
            book = Store(data_dir, database_url="")
            try:
                to_database(book, url)
            finally:
                book.close()
            for name in ("crm.json", "opportunity.json", "journal.jsonl", "events.jsonl", "index.sqlite",
                         "pending.json", "chat_state.json", "imports.json"):  # fmt: skip
                (data_dir / name).unlink(missing_ok=True)  # the records now live in the database only
            shutil.rmtree(data_dir / "notifications", ignore_errors=True)
            self._point(data_dir, url)
        return data_dir

    @staticmethod
    def _point(data_dir: Path, url: str) -> None:
        path = data_dir / "settings.json"
        settings = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**settings, "database_url": url}))
        path.chmod(0o600)


@pytest.fixture
def books(backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Books:
    if backend != "postgresql":
        return Books(None)
    monkeypatch.delenv("BACKOFFICE_DATABASE_URL")
    made = Books(request.getfixturevalue("new_database"))
    made.own(data_dir)
    return made


def started(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "BACKOFFICE_DATA_DIR": str(data_dir), "BACKOFFICE_NOW": FRIDAY, "COLUMNS": "200"}
    env.pop("ANTHROPIC_API_KEY", None)
    return subprocess.Popen(
        [sys.executable, "-m", "backoffice", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


# ---------------------------------------------------------------------------- 1. the corruption matrix
@pytest.fixture(scope="module")
def full_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with every kind of file in it, made by the real commands: the sample business,
    two pending actions, the chat's state, a daemon run, a Gmail state, an import preview and an
    unseen report."""
    book = tmp_path_factory.mktemp("full") / "data"
    steps = [
        (("demo",), ""),
        (("merge", "C-2", "C-8"), ""),  # nobody answers: waits as P-1
        (("ask", "mark the boiler service job won"), ""),  # from a script: waits as P-2
        (("chat",), "quit\n"),
        (("run", "--once", "--quiet"), ""),
    ]
    for args, stdin in steps:
        result = backoffice(book, *args, stdin=stdin)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    csv = book.parent / "people.csv"
    csv.write_text("Name,Phone\nSam Lee,555-301-2222\n")
    assert backoffice(book, "import", str(csv)).returncode == 0  # the preview: imports.json
    (book / "gmail.json").write_text(json.dumps({"email": "owner@example.com", "last_check": None}))
    digest = json.loads((book / "notifications" / "2026-11-20-digest.json").read_text())
    (book / "notifications" / "2026-11-19-digest.json").write_text(json.dumps({**digest, "id": "2026-11-19-digest"}))
    for name in ("crm.json", "pending.json", "chat_state.json", "daemon.json", "imports.json", "journal.jsonl"):
        assert (book / name).is_file(), name
    return book


CORRUPTIONS = {  # the data files: each is one JSON object
    "not UTF-8": lambda raw: b"\xff\xfe\xfa" + raw[:60],
    "cut in half": lambda raw: raw[: len(raw) // 2],
    "a list": lambda raw: b"[1, 2, 3]\n",  # valid JSON, not what the file holds
    "empty": lambda raw: b"",
    "a folder": None,
}
LOG_CORRUPTIONS = {  # the journal and the audit log: JSON lines
    "a garbage line": lambda raw: raw + b"\x00\x01 this is { not ] json\n",
    "not UTF-8": lambda raw: raw + b"\xff\xfe\xfa\n",
    "cut in half": lambda raw: raw[: len(raw) // 2],
    "a folder": None,
}
FILES = [
    "crm.json",
    "opportunity.json",
    "journal.jsonl",
    "events.jsonl",
    "pending.json",
    "settings.json",
    "chat_state.json",
    "daemon.json",
    "gmail.json",
    "imports.json",
    "notifications/2026-11-19-digest.json",
    "gmail.token.json",
    "quickbooks.token.json",
]
COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {  # in this order: the first ones see the damage as made
    "check": (("check",), ""),
    "doctor": (("doctor",), ""),
    "pending": (("pending",), ""),
    "approve": (("approve", "P-2"), ""),
    "reject": (("reject", "P-1"), ""),
    "digest": (("digest",), ""),
    "pipeline": (("pipeline",), ""),
    "winloss": (("winloss",), ""),
    "export": (("export", "leads", "-"), ""),
    "duplicates": (("duplicates",), ""),
    "ask": (("ask", "log a call with Joe Smith, he wants a quote for the boiler"), ""),
    "chat": (("chat",), "what's our pipeline?\nquit\n"),
    "import": (("import", "--yes", "{csv}"), ""),
    "merge": (("merge", "C-3", "C-5"), "no\n"),
    "inbound": (("inbound", str(INQUIRY)), ""),
    "run": (("run", "--once", "--quiet"), ""),
    "gmail": (("gmail", "status"), ""),
    "quickbooks": (("quickbooks", "status"), ""),
}
EVERY = set(COMMANDS)
BOOK = EVERY - {"reject", "gmail", "quickbooks"}  # rejecting needs no record; the two statuses read their own files
# Which commands must name each damaged file: those that read it. The rest must still end without
# a traceback and leave it as it is.
READERS: dict[str, set[str]] = {
    "crm.json": BOOK,
    "opportunity.json": BOOK,
    "journal.jsonl": BOOK,
    "events.jsonl": {"check"},  # history: a damaged line is skipped, never a reason to stop working
    "pending.json": {"pending", "approve", "reject", "chat", "merge", "check", "doctor"},
    "settings.json": EVERY,
    "chat_state.json": {"chat", "check"},
    "daemon.json": {"run", "check", "doctor"},
    "gmail.json": {"gmail", "check"},
    "imports.json": {"import", "check", "doctor"},
    "notifications/2026-11-19-digest.json": {"chat", "check", "doctor"},
    "gmail.token.json": {"check", "doctor"},
    "quickbooks.token.json": {"quickbooks", "check", "doctor"},
}


def must_name(name: str, corruption: str) -> set[str]:
    if name.endswith(".jsonl") and corruption == "cut in half":
        return {"check"}  # a torn last line was never acknowledged: the next write cuts it, by design
    return READERS[name]


def _snapshot(path: Path) -> bytes | str:
    return sorted(os.listdir(path)).__repr__() if path.is_dir() else path.read_bytes()


MATRIX = [
    (name, corruption) for name in FILES for corruption in (LOG_CORRUPTIONS if name.endswith(".jsonl") else CORRUPTIONS)
]


@pytest.mark.parametrize("name, corruption", MATRIX)
def test_a_damaged_file_is_named_by_every_command_that_reads_it_and_left_as_it_is(
    full_book: Path, data_dir: Path, cli, name: str, corruption: str, tmp_path: Path, backend: str
):
    if backend == "postgresql":
        pytest.skip("the matrix damages a book of files; on PostgreSQL those records and state are rows")
    shutil.copytree(full_book, data_dir)
    target = data_dir / name
    original = target.read_bytes() if target.is_file() else b'{"note": "a file that was not there"}'
    target.unlink(missing_ok=True)
    damage = {**CORRUPTIONS, **LOG_CORRUPTIONS}[corruption] if name.endswith(".jsonl") else CORRUPTIONS[corruption]
    if damage is None:
        target.mkdir()
    else:
        target.write_bytes(damage(original))
    before = _snapshot(target)
    csv = tmp_path / "new.csv"
    csv.write_text("Name,Phone\nAnn Lee,555-301-9999\n")
    silent = []
    for command, (argv, stdin) in COMMANDS.items():
        code, screen = cli(*(a.replace("{csv}", str(csv)) for a in argv), stdin=stdin)
        assert "Traceback" not in screen and "unexpected problem" not in screen, (command, screen)
        if name.endswith(".jsonl"):
            # append-only logs: every complete line that was there still is, in order; a torn last
            # line (as "cut in half" leaves) was never acknowledged and is cut by the next write
            kept = original if damage is None else damage(original)
            kept = kept[: kept.rfind(b"\n") + 1]
            assert damage is None or target.read_bytes().startswith(kept), command
        else:
            assert _snapshot(target) == before, f"{command} changed {name}"
        if command in must_name(name, corruption) and name.rsplit("/", 1)[-1] not in screen:
            silent.append(command)
    assert not silent, f"these commands read {name} ({corruption}) without saying it is damaged: {silent}"


# ---------------------------------------------------------------------------- 2. kills
NOTES = 400  # interactions moved by the merge: long enough to be killed in the middle of


@pytest.fixture(scope="module")
def merge_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample business, a contact with a long history, and its merge waiting as P-1."""
    from backoffice.agent.gate.gate import Gate
    from backoffice.agent.gate.pending import PendingStore
    from backoffice.tools.demo import load_demo

    book = tmp_path_factory.mktemp("merge") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BACKOFFICE_NOW", FRIDAY)
        store = Store(book)
        load_demo(store)
        with store.transaction():
            for i in range(NOTES):
                store.insert("interactions", {"type": "note", "contact_id": "C-8", "body": f"note {i}",
                                              "timestamp": "2026-11-01T10:00:00+00:00", "outcome": "none",
                                              "follow_up_status": "none"})  # fmt: skip
        outcome = Gate(store, PendingStore(book)).call("merge_contacts", {"keep": "C-2", "merge": ["C-8"]})
        assert outcome.status == "pending" and outcome.action and outcome.action.id == "P-1"
        store.close()
    return book


def merged_once(data_dir: Path) -> bool | None:
    """True: the merge is in the book exactly once; False: not at all; anything else fails."""
    store = Store(data_dir)
    try:
        kevin = store.require("contacts", "C-8")
        on_kevin = store.count_linked("interactions", "contact_id", "C-8")
        merges = [e for e in store.events("C-2") if e["action"] == "merge"]
        if kevin.get("merged_into") == "C-2":
            assert kevin.get("archived") and on_kevin == 0 and len(merges) == 1, (on_kevin, len(merges))
            return True
        assert not kevin.get("archived") and on_kevin >= NOTES and merges == [], (on_kevin, len(merges))
        return False
    finally:
        store.close()


def _wait_for(data_dir: Path, status: str, proc: subprocess.Popen[str], limit: float = 60) -> bool:
    """Until P-1 is ``status`` (read as ``backoffice pending`` reads it, on either backend)."""
    from backoffice.agent.gate.pending import PendingStore

    end = time.monotonic() + limit
    while time.monotonic() < end and proc.poll() is None:
        with contextlib.suppress(Exception):
            if PendingStore(data_dir).get("P-1").status == status:
                return True
        time.sleep(0.01)
    return False


def _status(data_dir: Path, action_id: str = "P-1") -> str:
    """What ``backoffice pending --all`` shows for the action ("interrupted" once its process is gone)."""
    from backoffice.agent.gate.pending import PendingStore

    return PendingStore(data_dir).get(action_id).shown_status


def _approve_until_killed(data_dir: Path, after: float | None) -> float:
    """``approve P-1``, SIGKILLed ``after`` seconds after it claimed the action. With ``after``
    None it runs to the end: how long from its claim until the action was done."""
    proc = started(data_dir, "approve", "P-1")
    _wait_for(data_dir, "running", proc)
    start = time.monotonic()
    if after is None:
        _wait_for(data_dir, "done", proc)
        elapsed = time.monotonic() - start
        proc.communicate(timeout=300)
        return elapsed
    time.sleep(after)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return after


def test_approvals_killed_mid_merge_are_finished_or_dropped_and_never_run_twice(
    merge_book: Path, tmp_path: Path, books: Books
):
    calibration = books.copy(merge_book, tmp_path / "calibration")
    run_time = _approve_until_killed(calibration, None)  # how long the merge takes on this machine now
    assert merged_once(calibration) is True
    rng = random.Random(14)
    seen: dict[str, int] = {"interrupted": 0, "done before the kill": 0, "killed before its claim": 0}
    round_ = 0
    while round_ < 4 or (seen["interrupted"] < 2 and round_ < 8):
        data_dir = books.copy(merge_book, tmp_path / f"round{round_}")
        _approve_until_killed(data_dir, run_time * rng.uniform(0.05, 0.9))
        status = _status(data_dir)
        if status == "interrupted":  # listed for the owner again, and the book is whole either way
            seen["interrupted"] += 1
            assert merged_once(data_dir) in (True, False)
        else:
            seen["done before the kill" if status == "done" else "killed before its claim"] += 1
        if round_ % 2 == 0:  # the owner finishes it: run again, or found done, never twice
            result = backoffice(data_dir, "approve", "P-1")
            assert result.returncode == 0 and "Traceback" not in result.stderr, result.stdout + result.stderr
            assert merged_once(data_dir) is True
        else:  # the owner drops it: settled as done if it had got through, otherwise nothing happened
            result = backoffice(data_dir, "reject", "P-1")
            assert "Traceback" not in result.stderr
            after = _status(data_dir)
            assert after in ("done", "rejected") and merged_once(data_dir) is (after == "done"), result.stdout
        round_ += 1
    assert seen["interrupted"] >= 2, seen
    print(f"approve kills ({round_} rounds, merge {run_time:.2f} s): {seen}")


def _people_csv(path: Path, count: int) -> Path:
    rows = ["First Name,Last Name,Phone,Email,Lead Status,Description"]
    rows += [f"Pat{i},Doe{i},555-{600 + i // 1000:03d}-{i % 10000:04d},pat{i}@example.com,New,Leaky tap {i}"
             for i in range(count)]  # fmt: skip
    path.write_text("\n".join(rows) + "\n")
    return path


def test_imports_killed_at_random_leave_all_or_nothing_and_a_rerun_completes(
    tmp_path: Path, data_dir: Path, books: Books
):
    csv = _people_csv(tmp_path / "people.csv", 400)
    assert backoffice(data_dir, "demo").returncode == 0
    calibration = books.own(tmp_path / "calibration")
    assert backoffice(calibration, "demo").returncode == 0
    began = time.monotonic()
    assert backoffice(calibration, "import", "--yes", str(csv)).returncode == 0
    run_time = time.monotonic() - began
    outcomes = []
    for fraction in (0.5, 0.8, 0.97):  # early, late, and about when it commits
        proc = started(data_dir, "import", "--yes", str(csv))
        time.sleep(run_time * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        store = Store(data_dir)
        contacts, leads = store.count("contacts"), store.count("leads")
        store.close()
        assert (contacts, leads) in ((8, 8), (408, 408)), (contacts, leads)
        outcomes.append("all" if contacts == 408 else "nothing")
    again = backoffice(data_dir, "--json", "import", "--yes", str(csv))
    assert again.returncode == 0, again.stderr
    store = Store(data_dir)
    assert (store.count("contacts"), store.count("leads")) == (408, 408)
    store.close()
    print(f"import kills (import {run_time:.2f} s): {outcomes}")


# ---------------------------------------------------------------------------- 3. simultaneous runs
def test_two_imports_of_one_file_at_once_create_each_person_once(tmp_path: Path, data_dir: Path):
    csv = _people_csv(tmp_path / "people.csv", 2000)
    assert backoffice(data_dir, "demo").returncode == 0
    procs = [started(data_dir, "--json", "import", "--yes", str(csv)) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1] for r in results]
    store = Store(data_dir)
    phones = [c["phones"][0] for c in store.scan("contacts") if c.get("phones")]
    titles = [lead["title"] for lead in store.scan("leads")]
    assert store.count("contacts") == 2008 and len(phones) == len(set(phones))
    assert store.count("leads") == 2008 and len(titles) == len(set(titles))
    store.close()
    reports = [json.loads(out) for out, _ in results]
    created = sorted(r["imported"]["contacts created"] for r in reports)
    assert created == [0, 2000] or sum(created) == 2000, created  # whoever came second found them there


def test_five_approvals_of_one_merge_at_once_run_it_once(merge_book: Path, tmp_path: Path, books: Books):
    data_dir = books.copy(merge_book, tmp_path / "merge")
    procs = [started(data_dir, "--json", "approve", "P-1") for _ in range(5)]
    answers = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert sum(a["status"] == "ok" for a in answers) == 1, answers
    assert all(a["status"] in ("ok", "pending", "already") for a in answers), answers
    assert merged_once(data_dir) is True


def test_an_update_import_answered_after_another_import_overwrites_nothing(cli, store: Store, tmp_path, monkeypatch):
    """Left at "Import now?" while a second import adds a phone and a note; then yes."""
    from backoffice.agent.chat.loop import LineReader

    known = {"first_name": "Dana", "last_name": "Reyes", "phones": ["+15552017788"], "emails": ["dana@example.com"]}
    store.insert("contacts", {**known, "notes": "Met at the fair", "lifecycle_stage": "prospect"})
    first = tmp_path / "first.csv"
    first.write_text("Name,Email,Mobile,Notes\nDana Reyes,dana@example.com,555-444-0001,Wants a quote\n")
    second = tmp_path / "second.csv"
    second.write_text("Name,Email,Phone,Notes\nDana Reyes,dana@example.com,555-444-0002,Has a dog\n")
    assert cli("import", "--duplicates", "update", str(first))[0] == 0  # the preview
    read = LineReader.read

    def meanwhile(self: LineReader, prompt: str) -> str | None:
        if prompt.startswith("Import now"):  # while the owner reads the question, another import runs
            other = backoffice(store.directory, "import", "--yes", "--duplicates", "update", str(second))
            assert other.returncode == 0, other.stderr
        return read(self, prompt)

    monkeypatch.setattr(LineReader, "read", meanwhile)
    code, screen = cli("import", "--duplicates", "update", str(first), stdin="yes\n")
    assert code == 0 and "Traceback" not in screen, screen
    dana = store.require("contacts", "C-1")
    assert dana["phones"] == ["+15552017788", "+15554440002", "+15554440001"]
    assert dana["notes"] == "Met at the fair\nHas a dog\nWants a quote"
