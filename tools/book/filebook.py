"""The book as files: TinyDB snapshots and a journal are the truth; ``index.sqlite`` answers.

Layout in the data dir::

    crm.json            TinyDB file: {"contacts": {"1": {...}}, "companies": ..., "leads": ..., ...}
    opportunity.json    TinyDB file: {"opportunities": {...}}
    journal.jsonl       committed transactions not yet folded into the files above (``journal``)
    events.jsonl        the audit log (``eventlog``)
    index.sqlite        a derived index of all of it (``index``); deleted, it is rebuilt
    .lock               the cross-process lock

A transaction commits by appending one fsynced line to the journal (about a millisecond); the
index is updated in the same breath and the events are appended to the audit log. The TinyDB
files are brought up to date by *folding*: every snapshot file touched is rewritten atomically
(temp file, fsync, rename, fsync the directory) straight from the index, then the journal starts
afresh. Small books (nearly every real business) fold after every transaction, so ``crm.json``
is always complete on its own; large books fold when the journal grows past a quarter of the
snapshot, so no command pays for rewriting 120 MB on every write.

Crash safety: files are only replaced by rename or appended to, and the journal line is the
commit point. A crash before it changes nothing; after it, the next command finds the index
behind the journal and replays the rest (journal lines hold whole documents, so a replay is
harmless), appending any events the dead process had not written. If the index cannot be trusted
(deleted, damaged, from another version, or the files were changed by hand) it is rebuilt from
the files.

Concurrency: readers hold a shared lock, writers an exclusive one, and the index is only ever
written under the exclusive lock. A reader that finds the index behind (another process died
mid-commit) takes the exclusive lock, brings it up to date, and reads again. Nothing is ever
served from a stale index.

A data dir that holds no book is read as an empty one and nothing is created: the directory,
the lock and the index appear with the first write.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import orjson

from backoffice.tools.book import locks
from backoffice.tools.book.eventlog import EventLog
from backoffice.tools.book.index import SPEC, Index
from backoffice.tools.book.journal import Entry, Journal, Position
from backoffice.tools.book.schemas import TABLES
from backoffice.tools.book.storage import Doc, atomic_file
from backoffice.tools.errors import StoreCorrupt, StoreError

log = logging.getLogger("backoffice.store")

LOCKFILE = ".lock"
SHARED, EXCLUSIVE = "shared", "exclusive"
# Books whose files total less than this are folded after every transaction.
WRITE_THROUGH_BELOW = 4 * 1024 * 1024
JOURNAL_MIN = 1024 * 1024


def _sig(path: Path) -> list[int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


@contextlib.contextmanager
def _book_files() -> Iterator[None]:
    """The book's own files that cannot be used (a folder where the journal should be, no
    permission) are the book's problem, named as such, never a bare OSError."""
    try:
        yield
    except (IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        raise StoreCorrupt(
            f"{exc.filename} cannot be used as part of the book ({exc.strerror}); it was left as it is. "
            "Move it aside or fix it, then try again."
        ) from exc


class Transaction:
    """Whole-document puts, visible at once to reads inside the transaction; see ``FileBook.writing``."""

    def __init__(self, book: FileBook):
        self.book = book
        self.ops: list[tuple[str, str, Any]] = []  # documents as orjson fragments, serialised at put
        self.events: list[Doc] = []
        self.tx = uuid.uuid4().hex
        self.after_commit: list[Callable[[], None]] = []
        self._next: dict[str, int] = {}

    def get(self, table: str, key: str) -> Doc | None:
        return self.book.index.get(table, key)

    def put(self, table: str, key: str, doc: Doc) -> None:
        """Stage ``doc``: it is serialised now, once, for the index and the journal alike, so the
        caller may go on using the dict without changing what is committed."""
        if table not in SPEC:
            raise StoreError(f"unknown table {table!r}")
        raw = orjson.dumps(doc)
        self.book.index.put(table, key, doc, raw)
        self.ops.append((table, key, orjson.Fragment(raw)))

    def next_key(self, table: str) -> str:
        if table not in self._next:
            self._next[table] = self.book.index.max_key(table)
        self._next[table] += 1
        return str(self._next[table])


class FileBook:
    """The tables of several TinyDB files, with the index kept in step with the disk.

    ``layout`` maps snapshot file names to the tables they hold. Use ``reading()`` for a
    consistent view and ``writing()`` for a read-modify-write; both may nest.
    """

    def __init__(
        self,
        directory: Path,
        layout: Mapping[str, tuple[str, ...]],
        *,
        write_through_below: int = WRITE_THROUGH_BELOW,
    ):
        self.directory = Path(directory)
        self.layout = dict(layout)
        self.file_of = {table: name for name, tables in layout.items() for table in tables}
        self.write_through_below = write_through_below
        self.journal = Journal(self.directory)
        self.events = EventLog(self.directory)
        self.index = Index(self.directory)
        self._empty: Index | None = None  # what a data dir without a book reads as
        self._thread_lock = threading.RLock()
        self._lock_file: IO[bytes] | None = None
        self._mode: str | None = None  # SHARED or EXCLUSIVE while held
        self._depth = 0
        self._tx: Transaction | None = None
        self.on_rebuild: Callable[[int], None] | None = None  # told how many records a rebuild indexed

    # ------------------------------------------------------------------ is there a book?
    def exists(self) -> bool:
        """Whether the data dir holds a book (any of its files)."""
        names = [*self.layout, self.journal.path.name]
        return any((self.directory / n).exists() for n in names)

    @property
    def view(self) -> Index:
        """The index to read from: the book's, or an empty one when there is no book here."""
        if self.index.db is not None:
            return self.index
        if self._empty is None:
            self._empty = Index.in_memory()
        return self._empty

    # ------------------------------------------------------------------ locking
    @contextlib.contextmanager
    def _locked(self, mode: str) -> Iterator[None]:
        with self._thread_lock:
            if self._depth and (self._mode == EXCLUSIVE or mode == SHARED):
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            if self._depth:
                raise StoreError("internal error: a write was started inside a read")
            if self._lock_file is None:
                if mode == SHARED and not self.exists():
                    yield  # no book: nothing to lock, nothing is created
                    return
                self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(self.directory / LOCKFILE, os.O_RDWR | os.O_CREAT, 0o600)
                self._lock_file = os.fdopen(fd, "r+b")
            locks.lock(self._lock_file, shared=mode == SHARED)
            self._mode, self._depth = mode, 1
            try:
                yield
            finally:
                self._depth, self._mode = 0, None
                locks.unlock(self._lock_file)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Index]:
        with self._thread_lock:
            if self._depth:
                with self._locked(SHARED):
                    yield self.view
                return
            for _ in range(5):
                with self._locked(SHARED):
                    with _book_files():
                        current = self._lock_file is None or self._current()
                    if current:
                        with self.view.snapshot():
                            yield self.view
                        return
                with self._locked(EXCLUSIVE), _book_files():  # behind the disk: catch up, then read
                    self._refresh()
            raise StoreError(
                f"The book in {self.directory} keeps changing under its lock; is something else editing it?"
            )

    @property
    def current_tx(self) -> Transaction | None:
        return self._tx

    @contextlib.contextmanager
    def writing(self) -> Iterator[Transaction]:
        """A read-modify-write under the exclusive lock. Nested calls join the open transaction.

        Puts go to the index at once (reads inside the transaction see them) and are rolled back
        if the block raises or the commit fails. The fsynced journal line is the commit point.
        """
        with self._thread_lock:
            if self._tx is not None:
                yield self._tx
                return
            with self._locked(EXCLUSIVE):
                with _book_files():
                    self._refresh()
                tx = Transaction(self)
                self._tx = tx
                try:
                    with self.index.batch():
                        yield tx
                        with _book_files():
                            self._commit(tx)
                finally:
                    self._tx = None
                with contextlib.suppress(OSError, StoreError):
                    self._maybe_fold()
            for hook in tx.after_commit:
                hook()

    def close(self) -> None:
        with self._thread_lock:
            self.index.close()
            if self._empty is not None:
                self._empty.close()
                self._empty = None
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None

    # ------------------------------------------------------------------ keeping the index current
    def _snapshot_sigs(self) -> dict[str, list[int] | None]:
        return {name: _sig(self.directory / name) for name in self.layout}

    def _current(self) -> bool:
        """Whether the index reflects the files exactly (cheap: a few stats and a meta read)."""
        if not self.index.open():
            return False
        pos = self.journal.position()
        return self.index.meta("snapshots") == self._snapshot_sigs() and self.index.meta("journal") == [
            pos.inode,
            pos.token,
            pos.offset,
        ]

    def _refresh(self) -> None:
        """Under the exclusive lock: replay journal lines the index lacks, or rebuild it."""
        pos = self.journal.position()
        if not self.index.open() or self.index.meta("snapshots") != self._snapshot_sigs():
            self._rebuild(pos)
            return
        inode, token, offset = self.index.meta("journal") or [None, None, 0]
        if [inode, token] != [pos.inode, pos.token] or offset > pos.offset:
            self._rebuild(pos)
            return
        if offset < pos.offset:
            entries = list(self.journal.read(after=offset))
            end = entries[-1].end if entries else offset
            if end < pos.offset:  # a torn tail: never acknowledged, cut off so the next line starts clean
                self.journal.truncate(end)
            with self.index.batch():
                for entry in entries:
                    for table, key, doc in entry.ops:
                        self.index.put(table, key, doc)
                    self.index.add_events(entry.tx, entry.events)
                self.index.set_meta("journal", [pos.inode, pos.token, end])
        self._recover_events()

    def _recover_events(self) -> None:
        """A writer that died between its journal line and the audit log left events unwritten: only
        the last transaction can be short, since every writer recovers before it commits."""
        last = self.journal.last()
        if last is None or not last.events:
            return
        written = self.events.written_of(last.tx)
        if written < len(last.events):
            self.events.append(last.events[written:])

    def _rebuild(self, pos: Position) -> None:
        """Index everything from the files: the snapshots, then the journal, then the audit log."""
        log.info("indexing the book in %s", self.directory)
        self.index.create(indexes=False)
        count = 0
        gc_was = gc.isenabled()
        gc.disable()  # a big book is millions of small objects the collector would walk for nothing
        try:
            with self.index.batch():
                for name, tables in self.layout.items():
                    data = self._read_snapshot(name)
                    for table in tables:
                        records = data.pop(table, None) or {}
                        for key, doc in records.items():
                            self._check_record(name, table, key, doc)
                        count += self.index.load(table, records.items())
                        del records
                    self.index.set_meta(f"extra:{name}", sorted(data))
                    del data
                self.index.add_indexes()
                self.index.touch_all()
                entries_end = pos.offset
                for entry in self.journal.read():
                    for table, key, doc in entry.ops:
                        self.index.put(table, key, doc)
                    entries_end = entry.end
                numbered: dict[str, int] = {}
                for n, event in enumerate(self.events.read()):
                    tx = str(event.get("tx") or f"line-{n}")
                    self.index.add_events(tx, [event], start=numbered.get(tx, 0))
                    numbered[tx] = numbered.get(tx, 0) + 1
                self.index.set_meta("snapshots", self._snapshot_sigs())
                self.index.set_meta("journal", [pos.inode, pos.token, min(entries_end, pos.offset)])
        finally:
            if gc_was:
                gc.enable()
        if self.on_rebuild:
            self.on_rebuild(count)

    def _read_snapshot(self, name: str) -> dict[str, Any]:
        path = self.directory / name
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return {}
        except IsADirectoryError:
            raise StoreCorrupt(f"{path} is a directory, not a file; it was left untouched.") from None
        except OSError as exc:
            raise StoreCorrupt(f"{path} cannot be read ({exc.strerror}); it was left untouched.") from exc
        if not raw.strip():
            raise StoreCorrupt(
                f"{path} is empty ({len(raw)} bytes), so the book in it is gone or was never written; it was left "
                "untouched. Restore it from a backup, or delete it to start an empty book."
            )
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise StoreCorrupt(
                f"{path} is damaged and was left untouched ({exc}). Restore it from a backup, or fix it by hand; "
                "backoffice will not overwrite it."
            ) from exc
        if not isinstance(data, dict):
            raise StoreCorrupt(
                f"{path} does not hold a TinyDB database (its top level is a {type(data).__name__}, not an object); "
                "it was left untouched."
            )
        tables = self.layout[name]
        for table, content in data.items():
            if not isinstance(content, dict):
                raise StoreCorrupt(f"{path}: table {table!r} is not an object; the file was left untouched.")
            if table not in tables and content:
                raise StoreCorrupt(
                    f"{path} holds a table {table!r} with {len(content)} record(s) that backoffice does not use "
                    f"(its tables are {', '.join(tables)}); the file was left untouched so nothing is lost. "
                    "Move that table to a file of its own, then try again."
                )
        return data

    def _check_record(self, name: str, table: str, key: str, doc: Any) -> None:
        id_field, prefix = TABLES[table][2], TABLES[table][3]
        where = f"{self.directory / name}: {table} record {key!r}"
        if not isinstance(doc, dict):
            raise StoreCorrupt(f"{where} is not an object; the file was left untouched.")
        if not str(key).isdigit():
            raise StoreCorrupt(f"{where}: record keys are numbers; the file was left untouched.")
        if doc.get(id_field) != f"{prefix}-{int(key)}":
            raise StoreCorrupt(
                f"{where} has {id_field} {doc.get(id_field)!r}, which should be {prefix}-{int(key)}; the file was "
                "left untouched. `backoffice check` lists every such problem."
            )

    # ------------------------------------------------------------------ writing
    def _commit(self, tx: Transaction) -> None:
        if not tx.ops and not tx.events:
            return
        for event in tx.events:
            event["tx"] = tx.tx
        pos = self.journal.position()
        pos = self.journal.append(Entry(tx.tx, tx.ops, tx.events), pos)
        # committed: from here on the change stands even if what follows fails
        self.index.add_events(tx.tx, tx.events)
        self.index.set_meta("journal", [pos.inode, pos.token, pos.offset])
        if self.index.meta("snapshots") is None:
            self.index.set_meta("snapshots", self._snapshot_sigs())
        try:
            self.events.append(tx.events)
        except OSError as exc:  # the next writer appends them from the journal
            log.error("could not append to %s: %s", self.events.path, exc)

    def _maybe_fold(self) -> None:
        snapshot_bytes = sum(s[1] for s in self._snapshot_sigs().values() if s)
        journal_bytes = self.journal.position().offset
        if journal_bytes and (
            snapshot_bytes + journal_bytes < self.write_through_below
            or journal_bytes > max(JOURNAL_MIN, snapshot_bytes // 4)
        ):
            with self._locked(EXCLUSIVE):
                self.fold()

    def fold(self) -> None:
        """Rewrite the TinyDB files from the index, then start the journal afresh."""
        with self._locked(EXCLUSIVE):
            if not self.index.open():
                return
            dirty = {self.file_of[t] for entry in self.journal.read() for t, _, _ in entry.ops}
            for name in sorted(dirty):
                self._write_snapshot(name)
            pos = self.journal.start()  # only now is the old journal no longer needed
            with self.index.batch():
                self.index.set_meta("snapshots", self._snapshot_sigs())
                self.index.set_meta("journal", [pos.inode, pos.token, pos.offset])

    def _write_snapshot(self, name: str) -> None:
        """The TinyDB file, streamed from the index: documents are copied as stored, never re-parsed."""
        with atomic_file(self.directory / name, mode=0o600) as out:
            out.write(b"{")
            tables = [*self.layout[name], *(self.index.meta(f"extra:{name}") or [])]
            for t, table in enumerate(tables):
                out.write(b"," if t else b"")
                out.write(orjson.dumps(table) + b":{")
                if table in SPEC:
                    for i, (key, doc) in enumerate(self.index.raw(table)):
                        out.write(b',"' if i else b'"')
                        out.write(str(key).encode() + b'":')
                        out.write(doc)
                out.write(b"}")
            out.write(b"}")
