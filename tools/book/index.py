"""The book's index: a SQLite copy of the TinyDB files that answers lookups without loading them.

The TinyDB files and the journal are the book; ``index.sqlite`` is derived from them and can be
deleted at any time (the next command rebuilds it, saying so). It holds every record as its JSON
document plus the columns lookups need (``SPEC``): a name found by its words, a phone in E.164, a
lead's status, an interaction's lead and time. So "find Dana" at 100,000 leads reads a few rows,
not 120 MB of JSON.

It also remembers which state of the files it reflects (``meta``): the snapshots' signatures and
how far into which journal it has read. The database layer (``filebook``) compares that with the
disk before every use and brings the index up to date, under the book's lock; this module only
stores and answers.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from backoffice.tools.book.queries import SQLITE, Queries
from backoffice.tools.book.schemas import TABLES
from backoffice.tools.book.spec import INDEXES, LINKED_SORT, SPEC, indexed
from backoffice.tools.book.storage import Doc

FILE = "index.sqlite"


def _tables() -> list[str]:
    statements = [
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE multi (tbl TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, key INTEGER NOT NULL)",
        "CREATE TABLE events (tx TEXT NOT NULL, n INTEGER NOT NULL, record_id TEXT, at TEXT, event BLOB NOT NULL,"
        " PRIMARY KEY (tx, n))",
    ]
    for table, spec in SPEC.items():
        columns = "".join(f", {c}" for c in spec.columns)
        statements.append(f"CREATE TABLE t_{table} (key INTEGER PRIMARY KEY, doc BLOB NOT NULL{columns})")
    return statements


def _indexes() -> list[str]:
    statements = [
        "CREATE INDEX multi_lookup ON multi (tbl, name, value)",
        "CREATE INDEX multi_key ON multi (tbl, key)",
        "CREATE INDEX events_record ON events (record_id)",
        "CREATE INDEX events_at ON events (at)",
    ]
    for table in SPEC:
        for i, cols in enumerate(INDEXES[table]):
            statements.append(f"CREATE INDEX t_{table}_{i} ON t_{table} ({cols})")
    return statements


TABLE_SCHEMA, INDEX_SCHEMA = _tables(), _indexes()
SCHEMA = TABLE_SCHEMA + INDEX_SCHEMA
# a changed SPEC means a different index: it is rebuilt rather than migrated
VERSION = hashlib.sha256("\n".join([*SCHEMA, "3"]).encode()).hexdigest()[:16]


class Index(Queries):
    """One connection to ``index.sqlite``. Writes happen only inside ``batch()``; the questions
    it answers are ``Queries``', shared with the PostgreSQL book."""

    dialect = SQLITE

    def __init__(self, directory: Path):
        self.path = directory / FILE
        self.db: sqlite3.Connection | None = None

    # ------------------------------------------------------------------ opening
    def open(self) -> bool:
        """Connect; False when there is no usable index (missing, damaged, or another version)."""
        if self.db is not None:
            return True
        if not self.path.exists():
            return False
        try:
            db = self._connect()
            row = db.execute("SELECT value FROM meta WHERE name = 'version'").fetchone()
        except sqlite3.DatabaseError:
            self.close()
            return False
        if not row or row[0] != VERSION:
            db.close()
            return False
        self.db = db
        return True

    @classmethod
    def in_memory(cls) -> Index:
        """An empty index in memory: what a data dir without a book reads as."""
        index = cls(Path("."))
        index.path = Path(":memory:")
        index.db = index._connect()
        for statement in SCHEMA:
            index.db.execute(statement)
        return index

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")  # derived data: a lost tail is replayed from the journal
        db.execute("PRAGMA cache_size = -16000")
        db.execute("PRAGMA temp_store = MEMORY")
        return db

    def create(self, indexes: bool = True) -> None:
        """A new, empty index (any old one is removed first). ``indexes=False`` leaves the lookup
        indexes out, to be made by ``add_indexes`` once a bulk load is in: much faster."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        db = self._connect()
        db.execute("BEGIN")
        for statement in SCHEMA if indexes else TABLE_SCHEMA:
            db.execute(statement)
        db.execute("INSERT INTO meta VALUES ('version', ?)", (VERSION,))
        db.execute("COMMIT")
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.chmod(f"{self.path}{suffix}", 0o600)
        self.db = db

    def close(self) -> None:
        if self.db is not None:
            with contextlib.suppress(sqlite3.Error):
                self.db.close()
            self.db = None

    @property
    def conn(self) -> sqlite3.Connection:
        assert self.db is not None, "index not open"
        return self.db

    # ------------------------------------------------------------------ state
    def meta(self, name: str) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def set_meta(self, name: str, value: Any) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, orjson.dumps(value).decode()))

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """One SQLite write transaction: everything or nothing."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: several queries see one state."""
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    # ------------------------------------------------------------------ writing
    def add_indexes(self) -> None:
        for statement in INDEX_SCHEMA:
            self.conn.execute(statement)

    def load(self, table: str, records: Iterable[tuple[str, Doc]]) -> int:
        """Bulk-insert records into a table that does not hold them yet (a rebuild)."""
        marks = ", ".join("?" * (2 + len(SPEC[table].columns)))
        multi: list[tuple[str, str, str, int]] = []
        rows = []
        for key, doc in records:
            k = int(key)
            rows.append(self.record_row(table, k, doc))
            multi.extend(self.multi_rows(table, k, doc))
            if len(rows) >= 5000:
                self._flush(table, marks, rows, multi)
        self._flush(table, marks, rows, multi)
        return self.count(table)

    def _flush(self, table: str, marks: str, rows: list[Any], multi: list[Any]) -> None:
        self.conn.executemany(f"INSERT OR REPLACE INTO t_{table} VALUES ({marks})", rows)
        self.conn.executemany("INSERT INTO multi VALUES (?, ?, ?, ?)", multi)
        rows.clear()
        multi.clear()


__all__ = ["FILE", "SPEC", "TABLES", "Index", "LINKED_SORT", "indexed"]
