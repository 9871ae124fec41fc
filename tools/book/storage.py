"""Crash-safe storage for the TinyDB files, shared safely by several processes.

Layout in the data dir::

    crm.json            TinyDB file: {"contacts": {"1": {...}}, "companies": ..., "leads": ..., ...}
    opportunity.json    TinyDB file: {"opportunities": {...}}
    journal.jsonl       committed transactions not yet folded into the files above
    .lock               the cross-process lock (portalocker: flock on POSIX, LockFileEx on Windows)

Why a journal: rewriting a 100,000-lead book costs about half a second (serialise ~120 MB, fsync),
far too slow for every "log a call". So a transaction commits by appending one line to the
journal and fsyncing it (about a millisecond). The TinyDB files are then brought up to date by
*compaction*: every snapshot file touched is rewritten atomically (temp file, fsync, rename, fsync
the directory) and the journal is replaced by an empty one. Small books, which is nearly every real
business, compact after every transaction, so ``crm.json`` is always complete on its own; large
books compact when the journal grows past a quarter of the snapshot and when a process closes.

Crash safety: each file is only ever replaced by rename, and the journal only appended to. A torn
last journal line (a crash mid-append) was never acknowledged and is dropped. Journal operations
hold whole documents, so replaying the journal over a snapshot that already contains some of it
gives the same result: a crash anywhere during compaction loses nothing.

Concurrency: readers hold a shared lock, writers an exclusive one. Before serving anything the
in-memory copy is brought up to date: new journal lines written by another process are applied
incrementally; a replaced snapshot or journal (another process compacted) means a full reload.
Nothing is ever served from a stale cache.

A book that does not exist yet: nothing creates its folder but the first write (which takes the
exclusive lock, so it makes the folder and the lock file). A read finds no folder, so there is no
file to lock and nothing to lock it against: no writer can be half-way through a book whose folder
is not there, and a writer that starts the book a moment later is simply after this read. So a
reader of a missing book sees an empty one without locking, and leaves no trace on disk.

Portability: the locks are portalocker's; ``os.fchmod`` and the fsync of a directory exist only on
POSIX and are skipped elsewhere (Windows makes a rename durable itself). Tested on Linux only.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
import portalocker
from tinydb.storages import Storage

from backoffice.tools.errors import StoreCorrupt, StoreError

Doc = dict[str, Any]
Tables = dict[str, dict[str, Doc]]

JOURNAL = "journal.jsonl"
LOCKFILE = ".lock"
# Books whose files total less than this are compacted after every transaction.
WRITE_THROUGH_BELOW = 4 * 1024 * 1024
JOURNAL_MIN = 1024 * 1024
SHARED = portalocker.LockFlags.SHARED
EXCLUSIVE = portalocker.LockFlags.EXCLUSIVE


def _open_lock_file(path: Path) -> IO[bytes]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return os.fdopen(fd, "r+b")


@contextlib.contextmanager
def file_lock(path: Path, blocking: bool = True, shared: bool = False) -> Iterator[bool]:
    """A cross-process lock on ``path``: exclusive (the file and its folder are created if
    missing), or ``shared`` for readers. A shared lock in a folder that does not exist creates
    nothing and yields True: there is nothing there to read or to wait for. Yields False instead
    of waiting when ``blocking`` is off and another process holds the lock."""
    if shared and not path.parent.is_dir():
        yield True
        return
    if not shared:
        path.parent.mkdir(parents=True, exist_ok=True)
    with _open_lock_file(path) as handle:
        flags = SHARED if shared else EXCLUSIVE
        try:
            portalocker.lock(handle, flags if blocking else flags | portalocker.LockFlags.NON_BLOCKING)
        except portalocker.LockException:  # AlreadyLocked in recent portalockers, its base class in 2.7
            yield False
            return
        try:
            yield True
        finally:
            portalocker.unlock(handle)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable. POSIX only: Windows has no directory handle to
    fsync, and its renames are durable once they return."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, payload: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``payload`` so that a crash leaves either the old or the new file."""
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        if mode is not None:
            _chmod(fd, tmp, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def _chmod(fd: int, path: str, mode: int) -> None:
    if hasattr(os, "fchmod"):  # POSIX: set before the first byte is written
        os.fchmod(fd, mode)
    else:  # Windows knows only read-only or not; the file is private to the user's profile anyway
        os.chmod(path, mode)


def _dumps(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


def load_json_file(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise StoreCorrupt(
            f"{path} is damaged and was left untouched (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
            "Restore it from a backup, or fix it by hand; backoffice will not overwrite it."
        ) from exc


class AtomicJSONStorage(Storage):
    """A TinyDB storage that never rewrites a file in place.

    ``TinyDB(path, storage=AtomicJSONStorage)`` opens any of backoffice's files with stock TinyDB;
    backoffice itself uses it to write snapshots.
    """

    def __init__(self, path: str | os.PathLike[str], create_dirs: bool = False, **_: Any):
        self.path = Path(path)
        if create_dirs:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def read(self) -> dict[str, dict[str, Any]] | None:
        data = load_json_file(self.path)
        if data is not None and not isinstance(data, dict):
            raise StoreCorrupt(f"{self.path} does not hold a TinyDB database (top level is not an object)")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        atomic_write_bytes(self.path, _dumps(data))

    def close(self) -> None:
        pass


@dataclass
class Op:
    """Put one whole document (journal operations are idempotent because they are whole)."""

    table: str
    key: str
    doc: Doc


@dataclass
class _FileSig:
    ino: int
    size: int
    mtime_ns: int


def _sig(path: Path) -> _FileSig | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return _FileSig(st.st_ino, st.st_size, st.st_mtime_ns)


Listener = Callable[[str, str, "Doc | None", "Doc | None"], None]


@dataclass
class Journaled:
    """State of the in-memory copy versus the files on disk."""

    snapshot_sigs: dict[str, _FileSig | None] = field(default_factory=dict)
    journal_ino: int | None = None
    journal_token: str | None = None
    journal_offset: int = 0  # bytes of the journal already applied (always at a line end)
    dirty_files: set[str] = field(default_factory=set)


class Database:
    """The tables of several TinyDB files, kept in memory and in step with the disk.

    ``layout`` maps snapshot file names to the tables they hold. Use ``reading()`` for a
    consistent view and ``writing()`` for a read-modify-write; both may nest.
    """

    def __init__(
        self,
        directory: Path,
        layout: Mapping[str, tuple[str, ...]],
        *,
        write_through_below: int = WRITE_THROUGH_BELOW,
        on_reset: Callable[[Tables], None] | None = None,
        on_put: Listener | None = None,
    ):
        self.directory = Path(directory)
        self.layout = dict(layout)
        self.file_of = {table: name for name, tables in layout.items() for table in tables}
        self.write_through_below = write_through_below
        self.tables: Tables = {table: {} for table in self.file_of}
        self._state = Journaled()
        self._on_reset = on_reset
        self._on_put = on_put
        self._thread_lock = threading.RLock()
        self._lock_file: IO[bytes] | None = None
        self._lock_mode: portalocker.LockFlags | None = None  # SHARED or EXCLUSIVE while held
        self._depth = 0
        self._loaded = False
        self._tx: Transaction | None = None
        self._max_key: dict[str, int] = {}
        # no mkdir here: the folder is made by the first write (see the module docstring)

    # ------------------------------------------------------------------ locking
    @contextlib.contextmanager
    def _locked(self, mode: portalocker.LockFlags) -> Iterator[None]:
        with self._thread_lock:
            if self._depth and (self._lock_mode == EXCLUSIVE or mode == SHARED):
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            if self._depth:
                # A write inside a read: the shared lock cannot be upgraded safely.
                raise StoreError("internal error: a write was started inside a read")
            handle = self._lock_handle(mode)
            if handle is not None:
                portalocker.lock(handle, mode)
            self._lock_mode = mode
            self._depth = 1
            try:
                self._refresh(repair=mode == EXCLUSIVE)
                yield
            finally:
                self._depth = 0
                self._lock_mode = None
                if handle is not None:
                    portalocker.unlock(handle)

    def _lock_handle(self, mode: portalocker.LockFlags) -> IO[bytes] | None:
        """The open lock file; None for a read of a book whose folder does not exist (nothing to
        lock, nothing created). A write makes the folder: it is the start of the book."""
        if self._lock_file is None:
            if mode == SHARED and not self.directory.is_dir():
                return None
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_file = _open_lock_file(self.directory / LOCKFILE)
        return self._lock_file

    @contextlib.contextmanager
    def reading(self) -> Iterator[Tables]:
        with self._locked(SHARED):
            yield self.tables

    @property
    def current_tx(self) -> Transaction | None:
        return self._tx

    @contextlib.contextmanager
    def writing(self) -> Iterator[Transaction]:
        """A read-modify-write under the exclusive lock. Nested calls join the open transaction.

        Puts are applied to memory at once (lookups inside the transaction see them) and undone if
        the block raises or the commit fails. The fsynced journal line is the commit point. Memory
        ahead of disk is invisible to others: other processes read the files, other threads wait
        for the lock.
        """
        with self._thread_lock:
            if self._tx is not None:
                yield self._tx
                return
            with self._locked(EXCLUSIVE):
                tx = Transaction(self)
                self._tx = tx
                try:
                    yield tx
                    self._commit(tx.ops)
                except BaseException:
                    tx.rollback()
                    raise
                finally:
                    self._tx = None
                for hook in tx.after_commit:
                    hook()

    def close(self) -> None:
        """Fold the journal into the TinyDB files so they are complete on their own."""
        with self._thread_lock:
            if self._lock_file is None:  # never locked: nothing read from disk, nothing to fold in
                return
            with self._locked(EXCLUSIVE):
                if self._state.journal_offset > self._journal_header_len():
                    self._compact()
            self._lock_file.close()
            self._lock_file = None

    # ------------------------------------------------------------------ loading
    @property
    def journal_path(self) -> Path:
        return self.directory / JOURNAL

    def _journal_header_len(self) -> int:
        return len(self._journal_header(self._state.journal_token or ""))

    @staticmethod
    def _journal_header(token: str) -> bytes:
        return _dumps({"journal": token}) + b"\n"

    def _refresh(self, repair: bool) -> None:
        sigs = {name: _sig(self.directory / name) for name in self.layout}
        jsig = _sig(self.journal_path)
        state = self._state
        if (
            not self._loaded
            or sigs != state.snapshot_sigs
            or (jsig is None) != (state.journal_ino is None)
            or (jsig is not None and (jsig.ino != state.journal_ino or jsig.size < state.journal_offset))
        ):
            self._full_reload(sigs, repair)
        elif jsig is not None and jsig.size > state.journal_offset:
            self._replay_journal(from_offset=state.journal_offset, repair=repair)

    def _full_reload(self, sigs: dict[str, _FileSig | None], repair: bool) -> None:
        tables: Tables = {table: {} for table in self.file_of}
        for name, names in self.layout.items():
            data = AtomicJSONStorage(self.directory / name).read() or {}
            for table in names:
                raw = data.get(table) or {}
                if not isinstance(raw, dict):
                    raise StoreCorrupt(f"{self.directory / name}: table {table!r} is not an object")
                tables[table] = raw
        self.tables = tables
        self._max_key = {}
        self._state = Journaled(snapshot_sigs=sigs)
        self._loaded = True
        self._replay_journal(from_offset=0, repair=repair, notify=False)
        if self._on_reset:
            self._on_reset(self.tables)

    def _replay_journal(self, from_offset: int, repair: bool, notify: bool = True) -> None:
        state = self._state
        try:
            fd = os.open(self.journal_path, os.O_RDONLY)
        except FileNotFoundError:
            state.journal_ino, state.journal_offset, state.journal_token = None, 0, None
            return
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            handle.seek(from_offset)
            blob = handle.read()
        state.journal_ino = st.st_ino
        offset = from_offset
        for line in blob.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # torn tail: never acknowledged
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                break
            if offset == 0:
                state.journal_token = entry.get("journal")
            else:
                for table, key, doc in entry.get("ops", ()):
                    self._apply(Op(table, key, doc), notify=notify)
            offset += len(line)
        state.journal_offset = offset
        if repair and offset < st.st_size:
            # Drop the torn tail so the next append starts on a clean line.
            self._truncate_journal(offset)

    def _truncate_journal(self, offset: int) -> None:
        with contextlib.suppress(OSError), open(self.journal_path, "r+b") as handle:
            handle.truncate(offset)
            os.fsync(handle.fileno())

    def _apply(self, op: Op, notify: bool = True) -> Doc | None:
        highest = self._max_key.get(op.table)
        if highest is not None and int(op.key) > highest:
            self._max_key[op.table] = int(op.key)
        table = self.tables.setdefault(op.table, {})
        before = table.get(op.key)
        table[op.key] = op.doc
        self._state.dirty_files.add(self.file_of[op.table])
        if notify and self._on_put:
            self._on_put(op.table, op.key, before, op.doc)
        return before

    def _restore(self, table_name: str, key: str, before: Doc | None) -> None:
        table = self.tables.setdefault(table_name, {})
        current = table.get(key)
        if before is None:
            table.pop(key, None)
        else:
            table[key] = before
        self._max_key.pop(table_name, None)
        if self._on_put:
            self._on_put(table_name, key, current, before)

    # ------------------------------------------------------------------ writing
    def _commit(self, ops: list[Op]) -> None:
        if not ops:
            return
        state = self._state
        if state.journal_ino is None:
            self._new_journal()
        line = _dumps({"ops": [[op.table, op.key, op.doc] for op in ops]}) + b"\n"
        try:
            with open(self.journal_path, "ab") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            self._truncate_journal(state.journal_offset)
            raise StoreError(f"Could not save to {self.journal_path}: {exc.strerror}. Nothing was changed.") from exc
        state.journal_offset += len(line)
        # committed in the journal already; if compaction fails the next write or close() retries it
        with contextlib.suppress(OSError):
            self._maybe_compact()

    def _new_journal(self) -> None:
        token = uuid.uuid4().hex
        atomic_write_bytes(self.journal_path, self._journal_header(token))
        jsig = _sig(self.journal_path)
        assert jsig is not None
        self._state.journal_ino = jsig.ino
        self._state.journal_token = token
        self._state.journal_offset = jsig.size

    def _maybe_compact(self) -> None:
        snapshot_bytes = sum(s.size for s in self._state.snapshot_sigs.values() if s)
        journal_bytes = self._state.journal_offset
        if snapshot_bytes + journal_bytes < self.write_through_below or journal_bytes > max(
            JOURNAL_MIN, snapshot_bytes // 4
        ):
            self._compact()

    def _compact(self) -> None:
        for name in sorted(self._state.dirty_files):
            payload = {table: self.tables.get(table, {}) for table in self.layout[name]}
            AtomicJSONStorage(self.directory / name).write(payload)
        self._state.dirty_files.clear()
        self._new_journal()  # only now is the old journal no longer needed
        self._state.snapshot_sigs = {name: _sig(self.directory / name) for name in self.layout}

    def next_key(self, table: str) -> str:
        highest = self._max_key.get(table)
        if highest is None:
            highest = max((int(k) for k in self.tables.get(table, {})), default=0)
            self._max_key[table] = highest
        return str(highest + 1)


class Transaction:
    """Whole-document puts, visible at once inside the transaction; see ``Database.writing``."""

    def __init__(self, db: Database):
        self.db = db
        self.ops: list[Op] = []
        self._undo: list[tuple[str, str, Doc | None]] = []
        self.after_commit: list[Callable[[], None]] = []

    def get(self, table: str, key: str) -> Doc | None:
        return self.db.tables.get(table, {}).get(key)

    def put(self, table: str, key: str, doc: Doc) -> None:
        if table not in self.db.file_of:
            raise StoreError(f"unknown table {table!r}")
        op = Op(table, key, doc)
        self._undo.append((table, key, self.db._apply(op)))
        self.ops.append(op)

    def rollback(self) -> None:
        for table, key, before in reversed(self._undo):
            self.db._restore(table, key, before)
        self._undo.clear()
        self.ops.clear()

    def next_key(self, table: str) -> str:
        return self.db.next_key(table)
