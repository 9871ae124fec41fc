"""``backoffice check`` says whether the whole data dir is healthy, listing every problem (it reads
the files itself: one damaged file never hides the others)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from backoffice.tools.book.store import Store

from .conftest import add_contact, call

# `check` reads the data dir's files as they are; its reading of a book in PostgreSQL is in test_pgbook
pytestmark = pytest.mark.files_only


@pytest.fixture
def book(cli, data_dir: Path, tmp_path: Path) -> Path:
    """The sample business, made by the real command (so every file is as backoffice writes it)."""
    code, out = cli("demo")
    assert code == 0, out
    return data_dir


def problems(cli) -> list[str]:
    code, out = cli("--json", "check")
    report = json.loads(out)
    assert code == (1 if report["problems"] else 0) and report["ok"] is (not report["problems"])
    return list(report["problems"])


def edit_json(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    os.chmod(path, 0o600)


def test_a_healthy_book_passes(cli, book: Path):
    assert problems(cli) == []
    code, out = cli("check")
    assert code == 0 and "Every record and file" in out


def test_every_problem_in_the_book_is_listed_at_once(cli, book: Path):
    def damage(crm: dict[str, Any]) -> None:
        crm["contacts"]["3"].pop("contact_id")  # a record without its id
        crm["contacts"]["4"]["contact_id"] = "C-40"  # key and id disagree
        crm["leads"]["1"]["status"] = "maybe"  # breaks the schema
        crm["leads"]["2"]["contact_id"] = "C-99"  # a link to nowhere
        crm["_default"] = {"1": {"x": 1}}  # a table backoffice does not use
        first = next(iter(crm["interactions"].values()))
        second = crm["interactions"][list(crm["interactions"])[1]]
        first["message_id"] = second["message_id"] = "<same@example.com>"  # one email recorded twice

    edit_json(book / "crm.json", damage)
    found = "\n".join(problems(cli))
    assert "contacts record '3' has no contact_id" in found
    assert "has contact_id 'C-40', which should be C-4" in found
    assert "L-1: status is 'maybe'" in found
    assert "L-2: contact_id points at C-99, which does not exist" in found
    assert "table '_default' is not one of backoffice's" in found
    assert "the email <same@example.com> is recorded 2 times" in found
    assert (book / "crm.json").stat().st_size > 0  # nothing was repaired behind the owner's back


def test_logs_pending_actions_and_settings_are_checked_too(cli, book: Path):
    with open(book / "events.jsonl", "ab") as log:
        log.write(b"not an event\n")
        log.write(b'{"at": "2026-11-20", "act')  # torn
    (book / "journal.jsonl").write_bytes(b'{"journal": "abc"}\n{"tx": "1", "ops": 5}\n')
    (book / "pending.json").write_text(json.dumps([{"id": "P-1"}]))
    (book / "settings.json").write_text(json.dumps({"default_phone_region": "XX"}))
    for name in ("pending.json", "settings.json", "journal.jsonl"):
        os.chmod(book / name, 0o600)
    found = "\n".join(problems(cli))
    assert "events.jsonl: the last line is torn" in found and "events.jsonl: 1 line(s) are not events" in found
    assert "journal.jsonl: line 2 is not a journal entry" in found
    assert "pending.json (actions waiting for your approval) holds a list" in found
    assert "default_phone_region 'XX' is not a region" in found


def test_an_action_left_running_by_a_dead_process_is_reported(cli, store: Store, data_dir: Path):
    from backoffice.agent.gate.gate import Gate
    from backoffice.agent.gate.pending import PendingStore

    add_contact(store, name="Joe Smith", phone="555-201-7788", email="joe@example.com")
    Gate(store, PendingStore(data_dir)).call("create_contact_anyway", {"name": "Joe Smith", "phone": "555-201-7788"})
    state = json.loads((data_dir / "pending.json").read_text())
    claim = {"pid": 2**22 + 9, "host": os.uname().nodename, "token": "00ff00ff00ff00ff", "at": "2026-11-20T10:00:00"}
    state["actions"][0].update(status="running", claim=claim)
    (data_dir / "pending.json").write_text(json.dumps(state))
    os.chmod(data_dir, 0o700)
    os.chmod(data_dir / "pending.json", 0o600)
    found = "\n".join(problems(cli))
    assert "pending.json: P-1 (" in found and "was left running by process" in found
    assert "`backoffice approve` finishes it, `backoffice reject` drops it" in found


def test_an_index_that_says_it_is_current_but_is_not_is_reported(cli, book: Path):
    store = Store(book)
    store.count("contacts")  # the index is current now
    store.close()
    with sqlite3.connect(book / "index.sqlite") as db:  # changed behind the files' back
        db.execute("UPDATE t_contacts SET doc = json_set(doc, '$.first_name', 'Mallory') WHERE key = 1")
    found = "\n".join(problems(cli))
    assert "index.sqlite: 1 contacts record(s) differ from the files (keys 1)" in found


def test_a_damaged_settings_file_is_listed_with_the_rest_not_instead_of_it(cli, book: Path):
    (book / "settings.json").write_bytes(b"\xff\xfe not json")
    (book / "opportunity.json").write_bytes(b"")
    os.chmod(book / "settings.json", 0o600)
    os.chmod(book / "opportunity.json", 0o600)
    found = "\n".join(problems(cli))
    assert "settings.json (your business settings) is not UTF-8" in found
    assert "opportunity.json is empty" in found


def test_files_open_to_other_users_are_reported(cli, book: Path):
    os.chmod(book / "crm.json", 0o644)
    os.chmod(book, 0o755)
    found = problems(cli)
    assert any("crm.json: this file can be read or changed by other users" in p and "chmod 600" in p for p in found)
    assert any(p.startswith(f"{book}: this folder") and "chmod 700" in p for p in found)


def test_check_works_on_a_copy_of_a_book_left_by_a_crash(cli, store: Store, data_dir: Path, tmp_path: Path):
    """A journal-mode book (large books) is checked with the changes not folded into the files yet."""
    journal = Store(data_dir, write_through_below=0)
    add_contact(journal, name="Sam Lee", phone="555-301-2222")
    call(journal, "create_lead", title="Leaky tap", contact_id="C-1")
    journal.close()
    assert not (data_dir / "crm.json").exists()
    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    os.chmod(copy, 0o700)
    code, out = cli("--data-dir", str(copy), "check")
    assert code == 0, out
