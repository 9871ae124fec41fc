"""The store's guarantees: validation before writing, crash safety, no lost writes, fresh reads."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tinydb import TinyDB

from backoffice.tools.book.storage import AtomicJSONStorage
from backoffice.tools.book.store import Store
from backoffice.tools.errors import InvalidRecord, StoreCorrupt

from .conftest import add_contact, call

ROOT = Path(__file__).resolve().parent.parent


def _book_files(data_dir: Path) -> dict[str, bytes]:
    """The book's files (not the lock, not the index, which is derived from them)."""
    return {p.name: p.read_bytes() for p in data_dir.iterdir() if p.name != ".lock" and "index.sqlite" not in p.name}


def test_record_breaking_the_schema_is_refused_and_file_is_byte_for_byte_unchanged(store: Store, data_dir: Path):
    contact = add_contact(store, phone="555-201-7788")
    before = {
        p.name: p.read_bytes()
        for p in data_dir.iterdir()
        if p.name != ".lock" and not p.name.startswith("index.sqlite")
    }
    with pytest.raises(InvalidRecord) as err:
        store.update("contacts", contact["contact_id"], {"lifecycle_stage": "vip"})
    assert "Contact C-1" in str(err.value)
    assert "lifecycle_stage" in str(err.value) and "prospect, customer, past_customer" in str(err.value)
    with pytest.raises(InvalidRecord) as err:
        store.insert(
            "interactions",
            {
                "type": "phone_call",
                "timestamp": "2026-11-20T10:00:00+00:00",
                "outcome": "spoke",
                "follow_up_status": "none",
            },
        )
    assert "at least one of contact_id, lead_id, opportunity_id" in str(err.value)
    after = {
        p.name: p.read_bytes()
        for p in data_dir.iterdir()
        if p.name != ".lock" and not p.name.startswith("index.sqlite")
    }
    assert after == before
    assert store.get("contacts", "C-1")["lifecycle_stage"] == "prospect"


def test_a_refused_record_rolls_back_the_whole_transaction(store: Store):
    with pytest.raises(InvalidRecord), store.transaction():
        store.insert("contacts", {"first_name": "Ok", "lifecycle_stage": "prospect"})
        store.insert("contacts", {"first_name": "Bad", "lifecycle_stage": "nope"})
    assert store.count("contacts") == 0
    assert store.contacts_by_phone("555-201-7788") == []
    assert add_contact(store)["contact_id"] == "C-1"  # the aborted id is not burnt


@pytest.mark.files_only
def test_files_are_plain_tinydb_files(store: Store, data_dir: Path):
    add_contact(store, phone="555-201-7788")
    call(store, "create_lead", title="Leaky faucet at 123 Main", contact_id="C-1")
    store.close()
    db = TinyDB(data_dir / "crm.json", storage=AtomicJSONStorage)
    assert db.table("contacts").all()[0]["first_name"] == "Dana"
    assert db.table("leads").get(doc_id=1)["title"] == "Leaky faucet at 123 Main"
    stock = TinyDB(data_dir / "crm.json")  # stock JSONStorage reads it too
    assert len(stock.table("contacts")) == 1
    stock.close()


def test_other_process_changes_are_seen_without_restart(store: Store, data_dir: Path):
    add_contact(store, phone="555-201-7788")
    assert store.contacts_by_phone("555-000-1111") == []
    other = Store(data_dir)
    add_contact(other, name="Sam Lee", phone="555-000-1111")
    other.close()
    found = store.contacts_by_phone("(555) 000-1111")
    assert [c["first_name"] for c in found] == ["Sam"]


@pytest.mark.files_only
def test_journal_mode_other_process_changes_are_seen_incrementally(data_dir: Path):
    # write_through_below=0 keeps every commit in the journal, as in a large book
    a = Store(data_dir, write_through_below=0)
    b = Store(data_dir, write_through_below=0)
    add_contact(a, phone="555-201-7788")
    assert b.count("contacts") == 1
    add_contact(b, name="Sam Lee", phone="555-000-1111")
    assert [c["first_name"] for c in a.contacts_by_phone("5550001111")] == ["Sam"]
    a.close()
    b.close()
    assert not (data_dir / "crm.json").exists()  # a large book's commands do not rewrite the files on exit
    journal = [json.loads(line) for line in (data_dir / "journal.jsonl").read_text().splitlines()[1:]]
    assert [op[2]["first_name"] for entry in journal for op in entry["ops"]] == ["Dana", "Sam"]
    fresh = Store(data_dir, write_through_below=0)
    fresh.fold()  # folding writes them, and the journal starts afresh
    data = json.loads((data_dir / "crm.json").read_text())
    assert len(data["contacts"]) == 2 and (data_dir / "journal.jsonl").read_text().count("\n") == 1
    assert [c["first_name"] for c in fresh.scan("contacts")] == ["Dana", "Sam"]
    fresh.close()


@pytest.mark.files_only
def test_damaged_file_is_reported_and_left_untouched(data_dir: Path):
    data_dir.mkdir(parents=True)
    (data_dir / "crm.json").write_text('{"contacts": {"1": {"first_name": "Da')
    store = Store(data_dir)
    with pytest.raises(StoreCorrupt) as err:
        store.count("contacts")
    assert "crm.json" in str(err.value) and "line 1" in str(err.value)
    assert (data_dir / "crm.json").read_text() == '{"contacts": {"1": {"first_name": "Da'


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from backoffice.tools.book.store import Store
    from backoffice.tools.catalog import get_tool
    store = Store(Path(sys.argv[1]), write_through_below=int(sys.argv[2]), actor=sys.argv[4])
    tool = get_tool("log_interaction")
    for i in range(int(sys.argv[3])):
        body = f"{sys.argv[4]} {sys.argv[5]}{i}"
        result = tool.func(store, tool.parse({"type": "note", "contact_id": "C-1", "body": body}))
        print(result["interaction"]["body"], flush=True)   # acknowledged
    store.close()
""")


def _writer(data_dir: Path, count: int, write_through_below: int, tag: str, run: str = "") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data_dir), str(write_through_below), str(count), tag, run],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _bodies(data_dir: Path) -> set[str]:
    store = Store(data_dir)
    with store.reading():
        bodies = {i["body"] for i in store.scan("interactions")}
    return bodies


@pytest.mark.parametrize("write_through_below", [10**9, 0, 20_000])
def test_writer_killed_at_random_points_never_corrupts_or_loses_acknowledged_writes(
    store: Store, data_dir: Path, write_through_below: int, backend: str
):
    # 10**9: every commit compacts (small book); 0: journal only; 20_000: compaction now and then
    if backend == "postgresql" and write_through_below != 10**9:
        pytest.skip("how often the files are compacted means nothing to a PostgreSQL book: one run is enough")
    add_contact(store, phone="555-201-7788")
    store.close()
    rng = random.Random(write_through_below)
    acknowledged: set[str] = set()
    for round_ in range(6):
        proc = _writer(data_dir, 10_000, write_through_below, "owner" if round_ % 2 else "agent", f"r{round_}-")
        assert proc.stdout is not None
        # let it acknowledge a few writes (however slow the machine), then kill it at a random
        # point of whatever it is doing next: mid-commit, mid-fold, mid-index update
        seen = {proc.stdout.readline().strip() for _ in range(rng.randint(4, 12))}
        time.sleep(rng.random() * 0.05)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        acknowledged |= (seen | set(out.splitlines())) - {""}
        if backend == "files":
            assert json.loads((data_dir / "crm.json").read_text())  # the TinyDB file always parses on its own
        present = _bodies(data_dir)
        missing = acknowledged - present
        assert not missing, f"round {round_}: {len(missing)} acknowledged writes lost"
    assert len(acknowledged) > 30
    ids = []
    s = Store(data_dir)
    with s.reading():
        ids = sorted(int(i["interaction_id"][2:]) for i in s.scan("interactions"))
    assert len(ids) == len(set(ids))  # no id handed out twice after a crash


@pytest.mark.parametrize("write_through_below", [10**9, 0])
def test_two_processes_writing_at_once_lose_nothing(
    store: Store, data_dir: Path, write_through_below: int, backend: str
):
    if backend == "postgresql" and write_through_below != 10**9:
        pytest.skip("how often the files are compacted means nothing to a PostgreSQL book: one run is enough")
    add_contact(store, phone="555-201-7788")
    store.close()
    procs = [_writer(data_dir, 200, write_through_below, tag) for tag in ("owner", "scheduler")]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    bodies = _bodies(data_dir)
    for tag, out in zip(("owner", "scheduler"), outs, strict=True):
        assert len(out.splitlines()) == 200
        assert {f"{tag} {i}" for i in range(200)} <= bodies
    assert len(bodies) == 400
    events = Store(data_dir).events()  # events.jsonl, or the database's events table
    assert sum(e["actor"] == "scheduler" for e in events) == 200


@pytest.mark.files_only
def test_torn_journal_tail_is_ignored_and_repaired(data_dir: Path):
    store = Store(data_dir, write_through_below=0)
    add_contact(store, phone="555-201-7788")
    journal = data_dir / "journal.jsonl"
    with open(journal, "ab") as handle:
        handle.write(b'{"ops": [["contacts", "2", {"contact_id": "C-2", "first_na')  # crash mid-append
    fresh = Store(data_dir, write_through_below=0)
    assert fresh.count("contacts") == 1
    add_contact(fresh, name="Sam Lee")
    assert Store(data_dir).count("contacts") == 2
    for line in journal.read_bytes().splitlines():
        json.loads(line)  # repaired: every line parses
    os.remove(journal)


# ---------------------------------------------------------------------------- the index and the audit log
def _events(data_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (data_dir / "events.jsonl").read_text().splitlines()]


@pytest.mark.files_only
def test_a_deleted_or_damaged_index_is_rebuilt_from_the_files(data_dir: Path):
    store = Store(data_dir, write_through_below=0)
    add_contact(store, phone="555-201-7788")
    add_contact(store, name="Sam Lee", phone="555-000-1111")
    store.close()
    (data_dir / "index.sqlite").unlink()
    assert [c["first_name"] for c in Store(data_dir).contacts_by_phone("(555) 000-1111")] == ["Sam"]
    (data_dir / "index.sqlite").write_bytes(b"this is not a database")
    again = Store(data_dir)
    assert again.count("contacts") == 2 and len(again.events("C-1")) == 1
    again.close()


@pytest.mark.files_only
def test_an_index_behind_the_journal_catches_up_before_anything_is_read(data_dir: Path):
    """A writer that dies after its journal line, before the index saw it, loses nothing."""
    store = Store(data_dir, write_through_below=0)
    add_contact(store, phone="555-201-7788")
    store.close()
    stale = (data_dir / "index.sqlite").read_bytes()
    writer = Store(data_dir, write_through_below=0)
    add_contact(writer, name="Sam Lee", phone="555-000-1111")
    writer.close()
    for suffix in ("-wal", "-shm"):
        (data_dir / f"index.sqlite{suffix}").unlink(missing_ok=True)
    (data_dir / "index.sqlite").write_bytes(stale)  # as if the commit never reached the index
    reader = Store(data_dir)
    assert [c["first_name"] for c in reader.search_tokens("contacts", "Sam")] == ["Sam"]
    reader.close()


@pytest.mark.files_only
def test_events_lost_by_a_crash_after_the_commit_are_written_by_the_next_writer(data_dir: Path):
    store = Store(data_dir, write_through_below=0)
    add_contact(store, phone="555-201-7788")
    add_contact(store, name="Sam Lee", phone="555-000-1111")
    store.close()
    lines = (data_dir / "events.jsonl").read_text().splitlines()
    (data_dir / "events.jsonl").write_text(lines[0] + "\n")  # the process died before appending Sam's event
    fresh = Store(data_dir, write_through_below=0)
    add_contact(fresh, name="Ann Lee", phone="555-000-2222")
    assert [e["record_id"] for e in _events(data_dir)] == ["C-1", "C-2", "C-3"]
    fresh.close()


@pytest.mark.files_only
def test_a_torn_last_event_is_cut_off_and_never_swallows_the_next(data_dir: Path):
    store = Store(data_dir)
    add_contact(store, phone="555-201-7788")
    with open(data_dir / "events.jsonl", "ab") as handle:
        handle.write(b'{"at":"x","actor":"ow')  # a torn append
    add_contact(store, name="Sam Lee", phone="555-000-1111")
    assert [e["record_id"] for e in _events(data_dir)] == ["C-1", "C-2"]  # every line parses
    store.close()


@pytest.mark.files_only
@pytest.mark.parametrize(
    "content, says",
    [
        (b"", "is empty"),
        (b"[]", "top level is a list"),
        (b'{"contacts": {}, "_default": {"1": {"x": 1}}}', "table '_default' with 1 record"),
        (b'{"contacts": {"1": {"first_name": "Dana"}}}', "should be C-1"),
        (b'{"contacts": {"2": {"contact_id": "C-7", "first_name": "Dana"}}}', "should be C-2"),
        (b'\xff\xfe{"contacts"', "damaged"),
    ],
)
def test_odd_book_files_are_refused_and_left_as_they_are(data_dir: Path, content: bytes, says: str):
    data_dir.mkdir(parents=True)
    (data_dir / "crm.json").write_bytes(content)
    store = Store(data_dir)
    with pytest.raises(StoreCorrupt, match=says) as err:
        store.count("contacts")
    assert "crm.json" in str(err.value)
    with pytest.raises(StoreCorrupt):
        add_contact(store, phone="555-201-7788")
    assert (data_dir / "crm.json").read_bytes() == content
    store.close()


@pytest.mark.files_only
def test_an_empty_unknown_table_is_kept_when_the_file_is_rewritten(data_dir: Path):
    data_dir.mkdir(parents=True)
    (data_dir / "crm.json").write_text('{"_default": {}, "contacts": {}}')
    store = Store(data_dir)
    add_contact(store, phone="555-201-7788")
    data = json.loads((data_dir / "crm.json").read_text())
    assert data["_default"] == {} and len(data["contacts"]) == 1
    store.close()


def test_reading_a_data_dir_without_a_book_creates_nothing(tmp_path: Path):
    missing = tmp_path / "nowhere" / "data"
    store = Store(missing)
    assert store.count("contacts") == 0 and store.scan("leads") == [] and store.search_tokens("contacts", "Dana") == []
    assert not missing.exists() and not missing.parent.exists()
    store.close()
