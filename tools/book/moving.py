"""``backoffice migrate``: copy a whole book into an empty PostgreSQL database, or into an empty folder.

What moves: every record, the whole audit log, the pending actions, the reports and emails made
for the owner, which of them the chat has shown, and the import log. What stays: the Gmail and
QuickBooks sign-ins (secrets of the computer that connected them) and the outbox. Going to a
folder, the settings come along too (without ``database_url``).

All or nothing:
- into PostgreSQL, everything is one transaction; the counts and checksums are compared inside
  it, before COMMIT. Interrupted (Ctrl-C, a lost connection, a kill), the database is left as
  empty as it was;
- into a folder, everything is written to a hidden folder beside it, checked by opening it as a
  book, and only then renamed into place. Interrupted, the target is not there at all.

A checksum is SHA-256 over a table's records in key order, each as canonical JSON (keys sorted),
so the files and the database, which store the same document differently, agree on it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from backoffice.tools.book import keeping
from backoffice.tools.book.location import DATABASE_SETTING, SCHEMES, safe_url
from backoffice.tools.book.queries import Queries
from backoffice.tools.book.schemas import LAYOUT, TABLES
from backoffice.tools.book.storage import atomic_write_bytes, fsync_dir
from backoffice.tools.book.store import Store
from backoffice.tools.errors import BadInput

Progress = Callable[[str, int, int], None]  # (what, done, total)
EVENTS = "events"
SLOTS = ("pending", "chat_state", "imports")


@dataclass
class Book:
    """Everything that moves, read in one consistent view of the source."""

    records: dict[str, list[tuple[int, bytes]]]
    events: list[dict[str, Any]]
    slots: dict[str, Any]
    notes: list[dict[str, Any]]

    def total(self) -> int:
        return sum(len(r) for r in self.records.values()) + len(self.events)


@dataclass
class Tally:
    counts: dict[str, int] = field(default_factory=dict)
    sums: dict[str, str] = field(default_factory=dict)


@dataclass
class Moved:
    target: str
    source: Tally
    copied: Tally

    @property
    def same(self) -> bool:
        return self.source.counts == self.copied.counts and self.source.sums == self.copied.sums


def is_database(target: str) -> bool:
    return target.startswith(SCHEMES)


# ---------------------------------------------------------------------------- reading the source
def read_book(store: Store) -> Book:
    with store.db.reading() as view:
        records = {table: list(view.raw(table)) for table in TABLES}
        events = view.all_events() if store.database_url else []
    if not store.database_url:
        events = store.events()  # events.jsonl: the file book's audit log, which the index also holds
    url = store.database_url or ""
    slots = {name: keeping.slot(store.directory, name, url).load() for name in SLOTS}
    return Book(records, events, slots, _notes(store))


def _notes(store: Store) -> list[dict[str, Any]]:
    shelf = keeping.shelf(store.directory, store.database_url or "")
    if shelf is not None:
        return shelf.read(set())
    folder = store.directory / "notifications"
    return [orjson.loads(p.read_bytes()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def tally(
    records: dict[str, Any], events: list[dict[str, Any]], notes: list[dict[str, Any]], slots: dict[str, Any]
) -> Tally:
    out = Tally()
    for table, rows in records.items():
        digest = hashlib.sha256()
        for key, raw in rows:
            digest.update(f"{int(key)}\t".encode() + _canon(orjson.loads(raw)) + b"\n")
        out.counts[table], out.sums[table] = len(rows), digest.hexdigest()
    digest = hashlib.sha256()
    for event in events:
        digest.update(_canon(event) + b"\n")
    out.counts[EVENTS], out.sums[EVENTS] = len(events), digest.hexdigest()
    digest = hashlib.sha256()
    for note in notes:
        digest.update(_canon(note) + b"\n")
    out.counts["notifications"], out.sums["notifications"] = len(notes), digest.hexdigest()
    for name, value in slots.items():
        out.counts[name] = 0 if value is None else 1
        out.sums[name] = hashlib.sha256(_canon(value)).hexdigest()
    return out


def _canon(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)


def book_tally(book: Book) -> Tally:
    return tally(book.records, book.events, book.notes, book.slots)


# ---------------------------------------------------------------------------- into PostgreSQL
def to_database(store: Store, url: str, progress: Progress | None = None) -> Moved:
    from backoffice.tools.book import pg, pgschema
    from backoffice.tools.book.pgbook import PgIndex

    where = safe_url(url)
    if store.database_url and store.database_url == url:
        raise BadInput("Cannot migrate", [f"the book is already in {where}, so there is nothing to copy"])
    book = read_book(store)
    source = book_tally(book)
    conn = pg.connect(url)
    try:
        with pg.translated(url):
            conn.execute("BEGIN")
            try:
                if pgschema.level(conn) > 0:
                    _refuse_unless_empty(conn, where)
                pgschema.upgrade(conn, where)
                target = PgIndex(_Held(conn))
                _copy_into(conn, target, book, progress)
                copied = _database_tally(conn, target)
                moved = Moved(where, source, copied)
                if not moved.same:
                    raise BadInput("Cannot migrate", [_mismatch(moved), "nothing was saved in the database"])
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.execute("ROLLBACK")
                raise
    finally:
        conn.close()
    return moved


class _Held:
    def __init__(self, conn: Any):
        self.connection = conn


def _refuse_unless_empty(conn: Any, where: str) -> None:
    held = {}
    for table in [*(f"t_{t}" for t in TABLES), "events", "notifications", "state_docs"]:
        held[table] = int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    if any(held.values()):
        what = ", ".join(f"{n} in {t.removeprefix('t_')}" for t, n in held.items() if n)
        raise BadInput(
            "Cannot migrate",
            [
                f"the database {where} already holds a book ({what})",
                "migrate copies only into an empty database, so nothing is ever mixed or overwritten: give an "
                "empty database (or a schema of its own: add ?options=-csearch_path%3Dname to the address)",
            ],
        )


def _copy_into(conn: Any, target: Queries, book: Book, progress: Progress | None) -> None:
    from backoffice.tools.book.spec import SPEC

    total, done = book.total(), 0
    for table, rows in book.records.items():
        columns = ["key", "doc", *SPEC[table].columns]
        with conn.cursor() as cur:
            with cur.copy(f"COPY t_{table} ({', '.join(columns)}) FROM STDIN") as copy:
                for key, raw in rows:
                    copy.write_row(target.record_row(table, int(key), orjson.loads(raw), raw))
                    done += 1
                    if progress and done % 5000 == 0:
                        progress("records", done, total)
            with cur.copy("COPY multi (tbl, name, value, key) FROM STDIN") as copy:
                for key, raw in rows:
                    for row in target.multi_rows(table, int(key), orjson.loads(raw)):
                        copy.write_row(row)
    target.touch_all()
    with conn.cursor() as cur, cur.copy("COPY events (tx, n, record_id, at, event) FROM STDIN") as copy:
        numbered: dict[str, int] = {}
        for i, event in enumerate(book.events):
            tx = str(event.get("tx") or f"line-{i}")
            n = numbered.get(tx, 0)
            numbered[tx] = n + 1
            copy.write_row((tx, n, event.get("record_id"), event.get("at"), orjson.dumps(event).decode()))
            done += 1
            if progress and done % 5000 == 0:
                progress("records", done, total)
    for name, value in book.slots.items():
        if value is not None:
            conn.execute("INSERT INTO state_docs (name, doc) VALUES (%s, %s)", (name, _canon(value).decode()))
    for note in book.notes:
        conn.execute(
            "INSERT INTO notifications (id, kind, doc) VALUES (%s, %s, %s)",
            (note["id"], note.get("kind") or "", orjson.dumps(note).decode()),
        )
    if progress:
        progress("records", total, total)


def _database_tally(conn: Any, view: Queries) -> Tally:
    records = {table: list(view.raw(table)) for table in TABLES}
    events = view.all_events()
    notes = [orjson.loads(r[0]) for r in conn.execute("SELECT doc FROM notifications ORDER BY id")]
    slots: dict[str, Any] = dict.fromkeys(SLOTS)
    for name, doc in conn.execute("SELECT name, doc FROM state_docs"):
        slots[name] = orjson.loads(doc) if doc is not None else None
    return tally(records, events, notes, slots)


# ---------------------------------------------------------------------------- into a folder
def to_folder(store: Store, directory: Path, progress: Progress | None = None) -> Moved:
    target = directory.expanduser().resolve()
    if target == store.directory.resolve() and not store.database_url:
        raise BadInput("Cannot migrate", [f"the book is already in {target}, so there is nothing to copy"])
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BadInput(
            "Cannot migrate",
            [
                f"{target} is not an empty folder",
                "migrate copies only into a new or empty folder, so nothing is ever mixed or overwritten",
            ],
        )
    book = read_book(store)
    source = book_tally(book)
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.parent / f".{target.name}.migrating-{uuid.uuid4().hex[:8]}"
    building.mkdir(mode=0o700)
    try:
        _write_folder(store, building, book, progress)
        check = Store(building, database_url="")
        try:
            copied = tally_store(check)
        finally:
            check.close()
        moved = Moved(str(target), source, copied)
        if not moved.same:
            raise BadInput("Cannot migrate", [_mismatch(moved), f"{target} was not made"])
        with contextlib.suppress(FileNotFoundError):
            target.rmdir()  # an empty folder given as the target: the new one takes its place
        os.rename(building, target)
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return moved


def tally_store(store: Store) -> Tally:
    return book_tally(read_book(store))


def _write_folder(store: Store, folder: Path, book: Book, progress: Progress | None) -> None:
    total, done = book.total(), 0
    for name, tables in LAYOUT.items():
        with open(folder / name, "wb", buffering=1 << 20) as out:
            out.write(b"{")
            for t, table in enumerate(tables):
                out.write((b"," if t else b"") + orjson.dumps(table) + b":{")
                for i, (key, raw) in enumerate(book.records[table]):
                    out.write((b',"' if i else b'"') + str(int(key)).encode() + b'":' + raw)
                    done += 1
                    if progress and done % 5000 == 0:
                        progress("records", done, total)
                out.write(b"}")
            out.write(b"}")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(folder / name, 0o600)
    with open(folder / "events.jsonl", "wb", buffering=1 << 20) as out:
        for event in book.events:
            out.write(orjson.dumps(event) + b"\n")
        out.flush()
        os.fsync(out.fileno())
    os.chmod(folder / "events.jsonl", 0o600)
    for name, value in book.slots.items():
        if value is not None:
            file, _ = keeping.FILES[name]
            keeping.FileSlot(folder / file, None).save(value)
    if book.notes:
        (folder / "notifications").mkdir(mode=0o700)
        for note in book.notes:
            atomic_write_bytes(
                folder / "notifications" / f"{note['id']}.json", orjson.dumps(note, option=orjson.OPT_INDENT_2)
            )
    settings = store.directory / "settings.json"
    if settings.is_file():
        data = orjson.loads(settings.read_bytes())
        data.pop(DATABASE_SETTING, None)
        atomic_write_bytes(folder / "settings.json", orjson.dumps(data, option=orjson.OPT_INDENT_2))
    if progress:
        progress("records", total, total)


def _mismatch(moved: Moved) -> str:
    wrong = sorted(k for k in moved.source.sums if moved.source.sums.get(k) != moved.copied.sums.get(k))
    details = ", ".join(f"{k} ({moved.source.counts.get(k)} -> {moved.copied.counts.get(k)})" for k in wrong)
    return f"the copy in {moved.target} does not match the book: {details}"


def rows_in(moved: Moved) -> Iterator[tuple[str, int, str]]:
    for name, count in moved.copied.counts.items():
        yield name, count, moved.copied.sums[name][:12]
