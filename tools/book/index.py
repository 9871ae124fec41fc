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
import datetime as dt
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from backoffice.tools.book import clock
from backoffice.tools.book.normalize import email_key, fold, phone_e164
from backoffice.tools.book.schemas import TABLES
from backoffice.tools.book.storage import Doc

FILE = "index.sqlite"
Extract = Callable[[Doc], Any]


def _utc(value: Any) -> str | None:
    """A stored timestamp as canonical UTC text, so that instants compare as strings."""
    if not value:
        return None
    text = str(value)
    if len(text) == 25 and text.endswith("+00:00"):
        return text
    try:
        return clock.stamp(clock.parse_stamp(text).astimezone(dt.UTC))
    except ValueError:
        return text


def _words(text: Any) -> set[str]:
    return set(fold(str(text or "")).split())


def _flag(value: Any) -> int:
    return 1 if value else 0


def _field(name: str) -> Extract:
    return lambda doc: doc.get(name)


@dataclass(frozen=True)
class TableSpec:
    columns: dict[str, Extract]  # one value per record, each indexed
    multi: dict[str, Callable[[Doc], Iterable[str]]]  # several values per record (words, emails)


def _fields(*names: str) -> dict[str, Extract]:
    return {n: _field(n) for n in names}


SPEC: dict[str, TableSpec] = {
    "contacts": TableSpec(
        {
            **_fields("lifecycle_stage", "merged_into", "company_id", "source_ref"),
            "archived": lambda d: _flag(d.get("archived")),
            "name": lambda d: fold(f"{d.get('first_name') or ''} {d.get('last_name') or ''}"),
            "address": lambda d: fold(d.get("address")) or None,
            "updated_at": lambda d: _utc(d.get("updated_at")),
        },
        {
            "email": lambda d: {k for e in d.get("emails") or () if (k := email_key(e))},
            "phone": lambda d: {p for x in d.get("phones") or () if (p := phone_e164(x))},
            "word": lambda d: _words(f"{d.get('first_name') or ''} {d.get('last_name') or ''}"),
        },
    ),
    "companies": TableSpec({"name": lambda d: fold(d.get("name")), **_fields("primary_contact_id")}, {}),
    "leads": TableSpec(
        {
            **_fields("status", "pipeline_stage", "contact_id", "company_id", "source", "source_ref"),
            "created_at": lambda d: _utc(d.get("created_at")),
        },
        {"word": lambda d: _words(d.get("title"))},
    ),
    "interactions": TableSpec(
        {
            **_fields("type", "contact_id", "lead_id", "opportunity_id", "follow_up_status", "follow_up_date"),
            **_fields("message_id"),
            "ts": lambda d: _utc(d.get("timestamp")),
        },
        {},
    ),
    "opportunities": TableSpec(
        {
            **_fields("stage", "contact_id", "lead_id", "company_id", "close_date"),
            "created_at": lambda d: _utc(d.get("created_at")),
        },
        {"word": lambda d: _words(d.get("name"))},
    ),
}
LINKED_SORT = {"interactions": "ts"}  # what "latest" means for linked records
INDEXES = {
    "contacts": ["lifecycle_stage", "company_id", "source_ref", "merged_into"],
    "companies": ["name", "primary_contact_id"],
    "leads": ["status", "contact_id", "source_ref", "company_id"],
    "interactions": [
        "contact_id, ts",
        "lead_id, ts",
        "opportunity_id, ts",
        "follow_up_status, follow_up_date",
        "message_id",
    ],
    "opportunities": ["stage", "contact_id", "lead_id", "company_id"],
}


def _schema() -> list[str]:
    statements = [
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE multi (tbl TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, key INTEGER NOT NULL)",
        "CREATE INDEX multi_lookup ON multi (tbl, name, value)",
        "CREATE INDEX multi_key ON multi (tbl, key)",
        "CREATE TABLE events (tx TEXT NOT NULL, n INTEGER NOT NULL, record_id TEXT, at TEXT, event BLOB NOT NULL,"
        " PRIMARY KEY (tx, n))",
        "CREATE INDEX events_record ON events (record_id)",
        "CREATE INDEX events_at ON events (at)",
    ]
    for table, spec in SPEC.items():
        columns = "".join(f", {c}" for c in spec.columns)
        statements.append(f"CREATE TABLE t_{table} (key INTEGER PRIMARY KEY, doc BLOB NOT NULL{columns})")
        for i, cols in enumerate(INDEXES[table]):
            statements.append(f"CREATE INDEX t_{table}_{i} ON t_{table} ({cols})")
    return statements


SCHEMA = _schema()
# a changed SPEC means a different index: it is rebuilt rather than migrated
VERSION = hashlib.sha256("\n".join([*SCHEMA, "3"]).encode()).hexdigest()[:16]


class Index:
    """One connection to ``index.sqlite``. Writes happen only inside ``batch()``."""

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

    def create(self) -> None:
        """A new, empty index (any old one is removed first)."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        db = self._connect()
        db.execute("BEGIN")
        for statement in SCHEMA:
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
    def put(self, table: str, key: str, doc: Doc) -> None:
        spec = SPEC[table]
        k = int(key)
        values = [k, orjson.dumps(doc), *(_cell(f(doc)) for f in spec.columns.values())]
        marks = ", ".join("?" * len(values))
        self.conn.execute(f"INSERT OR REPLACE INTO t_{table} VALUES ({marks})", values)
        if spec.multi:
            self.conn.execute("DELETE FROM multi WHERE tbl = ? AND key = ?", (table, k))
            rows = [(table, name, v, k) for name, f in spec.multi.items() for v in f(doc)]
            self.conn.executemany("INSERT INTO multi VALUES (?, ?, ?, ?)", rows)

    def add_events(self, tx: str, events: list[Doc], start: int = 0) -> None:
        """Events of transaction ``tx``, numbered from ``start``; adding the same ones again changes nothing."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?)",
            [(tx, start + n, e.get("record_id"), e.get("at"), orjson.dumps(e)) for n, e in enumerate(events)],
        )

    # ------------------------------------------------------------------ reading
    def get(self, table: str, key: str) -> Doc | None:
        row = self.conn.execute(f"SELECT doc FROM t_{table} WHERE key = ?", (int(key),)).fetchone()
        return orjson.loads(row[0]) if row else None

    def select(
        self,
        table: str,
        where: dict[str, Any] | None = None,
        order: str = "key",
        limit: int | None = None,
        extra: str = "",
        params: tuple[Any, ...] = (),
    ) -> list[Doc]:
        """Records whose indexed columns equal ``where``'s values (a tuple/list/set: any of them)."""
        clauses, values = _where(where or {})
        if extra:
            clauses.append(extra)
            values.extend(params)
        sql = f"SELECT doc FROM t_{table}" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        sql += f" ORDER BY {order}" + (f" LIMIT {int(limit)}" if limit else "")
        return [orjson.loads(r[0]) for r in self.conn.execute(sql, values)]

    def column(self, table: str, column: str, where: dict[str, Any] | None = None) -> list[tuple[int, Any]]:
        """(key, value) of one indexed column, without reading the documents."""
        clauses, values = _where(where or {})
        sql = f"SELECT key, {column} FROM t_{table}" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        return list(self.conn.execute(sql + " ORDER BY key", values))

    def count(self, table: str, where: dict[str, Any] | None = None) -> int:
        clauses, values = _where(where or {})
        sql = f"SELECT count(*) FROM t_{table}" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        return int(self.conn.execute(sql, values).fetchone()[0])

    def max_key(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT coalesce(max(key), 0) FROM t_{table}").fetchone()[0])

    def by_multi(self, table: str, name: str, values: Iterable[str], prefix: bool = False) -> set[int]:
        keys: set[int] = set()
        for value in values:
            if prefix:
                rows = self.conn.execute(
                    "SELECT key FROM multi WHERE tbl = ? AND name = ? AND value >= ? AND value < ?",
                    (table, name, value, value + "\U0010ffff"),
                )
            else:
                rows = self.conn.execute(
                    "SELECT key FROM multi WHERE tbl = ? AND name = ? AND value = ?", (table, name, value)
                )
            keys.update(r[0] for r in rows)
        return keys

    def docs(self, table: str, keys: Iterable[int]) -> list[Doc]:
        wanted = sorted(set(keys))
        out: list[Doc] = []
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self.conn.execute(f"SELECT doc FROM t_{table} WHERE key IN ({marks}) ORDER BY key", chunk)
            out.extend(orjson.loads(r[0]) for r in rows)
        return out

    def raw(self, table: str) -> Iterator[tuple[int, bytes]]:
        """Every record as stored, by key: for writing the TinyDB file without parsing anything."""
        yield from self.conn.execute(f"SELECT key, doc FROM t_{table} ORDER BY key")

    def quiet_leads(self, statuses: Iterable[str], cutoff: str) -> list[tuple[Doc, str | None]]:
        """Leads in ``statuses`` whose last activity (their creation, or their latest interaction) is
        before ``cutoff`` (canonical UTC text): each with the time of that latest interaction."""
        wanted = sorted(statuses)
        marks = ", ".join("?" * len(wanted))
        rows = self.conn.execute(
            f"""SELECT doc, last_ts FROM (
                  SELECT l.doc AS doc, l.created_at AS created,
                         (SELECT max(i.ts) FROM t_interactions i
                          WHERE i.lead_id = 'L-' || l.key AND i.type != 'system') AS last_ts
                  FROM t_leads l WHERE l.status IN ({marks}))
                WHERE max(created, coalesce(last_ts, created)) < ?""",
            [*wanted, cutoff],
        )
        return [(orjson.loads(doc), last) for doc, last in rows]

    def latest_by(self, link: str, record_ids: list[str], human_only: bool = False) -> dict[str, Doc]:
        """The latest interaction of each record (by ``link``), in one pass per 500 records;
        ``human_only`` leaves the agent's system records out."""
        out: dict[str, Doc] = {}
        human = " AND type != 'system'" if human_only else ""
        for i in range(0, len(record_ids), 500):
            chunk = record_ids[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self.conn.execute(
                f"""SELECT {link}, doc FROM (
                      SELECT {link}, doc, row_number() OVER (PARTITION BY {link} ORDER BY ts DESC, key DESC) AS n
                      FROM t_interactions WHERE {link} IN ({marks}){human}) WHERE n = 1""",
                chunk,
            )
            out.update((rid, orjson.loads(doc)) for rid, doc in rows)
        return out

    def events_for(self, record_id: str) -> list[Doc]:
        rows = self.conn.execute("SELECT event FROM events WHERE record_id = ? ORDER BY at, rowid", (record_id,))
        return [orjson.loads(r[0]) for r in rows]

    def events_for_many(self, record_ids: list[str]) -> list[Doc]:
        """The events of several records in the order they were logged (by time, then as written)."""
        found: list[tuple[str, int, bytes]] = []
        for i in range(0, len(record_ids), 500):
            chunk = record_ids[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            found.extend(self.conn.execute(
                f"SELECT at, rowid, event FROM events WHERE record_id IN ({marks})", chunk))  # fmt: skip
        found.sort(key=lambda r: (r[0] or "", r[1]))
        return [orjson.loads(r[2]) for r in found]


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)


def _where(where: dict[str, Any]) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    values: list[Any] = []
    for column, wanted in where.items():
        if isinstance(wanted, tuple | list | set | frozenset):
            items = sorted(wanted, key=str)
            if not items:
                clauses.append("0")
                continue
            clauses.append(f"{column} IN ({', '.join('?' * len(items))})")
            values.extend(_cell(v) for v in items)
        elif wanted is None:
            clauses.append(f"{column} IS NULL")
        else:
            clauses.append(f"{column} = ?")
            values.append(_cell(wanted))
    return clauses, values


def indexed(table: str, column: str) -> bool:
    return column in SPEC[table].columns


__all__ = ["FILE", "SPEC", "TABLES", "Index", "LINKED_SORT", "indexed"]
