"""The book on PostgreSQL: the same seam as ``filebook`` (``reading()``, ``writing()``), one server.

The tables are the file index's (``t_contacts``... with ``doc jsonb`` and the indexed columns of
``spec.SPEC``, ``multi`` for emails, phones and name words, ``events``, and each lead's derived
``last_ts``), made by ``pgschema`` from the SQL in ``migrations/``. Here they are the book itself:
nothing else is kept, nothing is rebuilt. The Store above does not know which engine it talks to;
it validates every record before ``put`` either way.

Reading: ``reading()`` is one REPEATABLE READ, READ ONLY transaction, so several queries see one
state of the book; a reader never waits for a writer.

Writing: ``writing()`` is one transaction that first locks the book's single row in table
``book`` (``SELECT … FOR UPDATE``). Writers from every computer therefore take turns, exactly as
they do on the file book's exclusive lock, and a transaction's reads see everything committed
before it. Why a row lock on the whole book and not finer ones, or SERIALIZABLE:
- the Store's transactions check, then write: "is this Message-ID captured?", "is there a contact
  with this email?", "is the lead still open?". A row lock guards a row that exists; it cannot
  guard the absence that an idempotent capture or a duplicate check relies on;
- SERIALIZABLE would guard it, but a failed transaction must then be run again from the start,
  and a transaction here is a ``with`` block of Python (sometimes after an email went out), which
  cannot be replayed safely;
- an office of a few people writes a few times a minute, each write a few milliseconds: taking
  turns costs nothing anyone notices (``bench/store_bench.py`` measures two writers).
Ids come from ``max(key) + 1`` read under that lock, so two computers never hand out the same id,
and a refused write burns none (as on files: after a rejected C-4, the next contact is still C-4).

The events of a transaction are inserted in it, just before COMMIT: a change and its audit entry
are saved together or not at all.

A database that holds no book (migration level 0) reads as an empty book and is created by the
first write, as a data dir is on files.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import orjson
import psycopg

from backoffice.tools.book import pg, pgschema
from backoffice.tools.book.index import Index
from backoffice.tools.book.location import safe_url
from backoffice.tools.book.queries import POSTGRES, Queries
from backoffice.tools.book.spec import SPEC
from backoffice.tools.book.storage import Doc
from backoffice.tools.errors import StoreError

log = logging.getLogger("backoffice.store")


class Connected(Protocol):
    """What holds the connection ``PgIndex`` asks on: the book, or ``migrate``'s own transaction."""

    @property
    def connection(self) -> psycopg.Connection[Any]: ...


class PgIndex(Queries):
    """``Queries`` on the book's connection (the tables are the book, not an index of it)."""

    dialect = POSTGRES

    def __init__(self, book: Connected):
        self.book = book

    @property
    def conn(self) -> psycopg.Connection[Any]:
        return self.book.connection

    def run(self, sql: str, params: Any = ()) -> Any:
        return self.conn.execute(_pg(sql), tuple(params))

    def run_many(self, sql: str, rows: list[Any]) -> None:
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(_pg(sql), rows)

    def _stored(self, raw: bytes) -> str:
        return raw.decode()  # text is taken for jsonb; bytes would be bytea


def _pg(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PgTransaction:
    """Whole-document puts inside the open transaction; see ``PgBook.writing``."""

    def __init__(self, book: PgBook):
        self.book = book
        self.events: list[Doc] = []
        self.tx = uuid.uuid4().hex
        self.after_commit: list[Callable[[], None]] = []
        self._next: dict[str, int] = {}

    def get(self, table: str, key: str) -> Doc | None:
        return self.book.index.get(table, key)

    def put(self, table: str, key: str, doc: Doc) -> None:
        if table not in SPEC:
            raise StoreError(f"unknown table {table!r}")
        self.book.index.put(table, key, doc, orjson.dumps(doc))

    def next_key(self, table: str) -> str:
        if table not in self._next:
            self._next[table] = self.book.index.max_key(table)  # under the book's row lock
        self._next[table] += 1
        return str(self._next[table])


class _AuditLog:
    """The audit log as the Store reads it whole (``Store.events()``), oldest first."""

    def __init__(self, book: PgBook):
        self.book = book

    def read(self) -> Iterator[Doc]:
        with self.book.reading() as view:
            found = view.all_events()
        yield from found


class PgBook:
    def __init__(self, url: str):
        self.url = url
        self.where = safe_url(url)
        self.index = PgIndex(self)
        self.events = _AuditLog(self)
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.RLock()
        self._depth = 0
        self._view: Queries | None = None
        self._tx: PgTransaction | None = None
        self._current = False  # the database is known to hold a book at this backoffice's level
        self._empty: Index | None = None

    # ------------------------------------------------------------------ the connection
    @property
    def connection(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            raise StoreError("internal error: the database is used outside reading() or writing()")
        return self._conn

    def _open(self) -> psycopg.Connection[Any]:
        if pg.broken(self._conn):
            if self._conn is not None:
                with contextlib.suppress(psycopg.Error):
                    self._conn.close()
            self._conn, self._current = pg.connect(self.url), False
        assert self._conn is not None
        return self._conn

    def exists(self) -> bool:
        """Whether the database holds a book (any migration level)."""
        with self._lock, pg.translated(self.url):
            if self._current:
                return True
            return pgschema.level(self._open()) > 0

    def level(self) -> int:
        with self._lock, pg.translated(self.url):
            return pgschema.level(self._open())

    def server_version(self) -> str:
        with self._lock, pg.translated(self.url):
            return pg.server_version(self._open())

    def _ready(self, conn: psycopg.Connection[Any]) -> bool:
        """Whether there is a book to read; one a level behind is upgraded first (its own transaction)."""
        if self._current:
            return True
        current = pgschema.level(conn)
        pgschema.check_not_ahead(current, self.where)
        if current == 0:
            return False
        if current < pgschema.latest():
            conn.execute("BEGIN")
            try:
                applied = pgschema.upgrade(conn, self.where)
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
            log.info("upgraded the book in %s: %s", self.where, ", ".join(applied))
        self._current = True
        return True

    @property
    def view(self) -> Queries:
        if self._empty is None:
            self._empty = Index.in_memory()
        return self._empty

    # ------------------------------------------------------------------ the seam
    @contextlib.contextmanager
    def reading(self) -> Iterator[Queries]:
        with self._lock:
            if self._depth:
                assert self._view is not None
                self._depth += 1
                try:
                    yield self._view
                finally:
                    self._depth -= 1
                return
            with pg.translated(self.url):
                conn = self._open()
                if not self._ready(conn):
                    self._view, self._depth = self.view, 1
                    try:
                        yield self.view
                    finally:
                        self._view, self._depth = None, 0
                    return
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                self._view, self._depth = self.index, 1
                try:
                    yield self.index
                finally:
                    self._view, self._depth = None, 0
                    _rollback(conn)  # read only: nothing to commit

    @property
    def current_tx(self) -> PgTransaction | None:
        return self._tx

    @contextlib.contextmanager
    def writing(self) -> Iterator[PgTransaction]:
        """One transaction under the book's row lock; nested calls join it. The events are
        inserted in it, and COMMIT saves the change and its events together."""
        with self._lock:
            if self._tx is not None:
                yield self._tx
                return
            if self._depth:
                raise StoreError("internal error: a write was started inside a read")
            with pg.translated(self.url):
                conn = self._open()
                created = False
                if not self._current:
                    # in a transaction of its own, committed before the write begins: the tables of
                    # a new book must be visible to this process's other connection (pending
                    # actions, reports), which would otherwise wait on the migration lock this
                    # transaction holds
                    conn.execute("BEGIN")
                    try:
                        created = bool(pgschema.upgrade(conn, self.where))
                        conn.execute("COMMIT")
                    except BaseException:
                        _rollback(conn)
                        raise
                conn.execute("BEGIN")
                try:
                    conn.execute("SELECT id FROM book WHERE id = 1 FOR UPDATE")
                    tx = PgTransaction(self)
                    self._tx, self._view, self._depth = tx, self.index, 1
                    yield tx
                    for event in tx.events:
                        event["tx"] = tx.tx
                    self.index.add_events(tx.tx, tx.events)
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
                finally:
                    self._tx, self._view, self._depth = None, None, 0
                self._current = True
                if created:
                    log.info("created the book's tables in %s", self.where)
            for hook in tx.after_commit:
                hook()

    def fold(self) -> None:
        """Nothing to fold: the database is the book."""

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(psycopg.Error):
                    self._conn.close()
                self._conn = None
            if self._empty is not None:
                self._empty.close()
                self._empty = None


def _rollback(conn: psycopg.Connection[Any]) -> None:
    if not conn.closed:
        with contextlib.suppress(psycopg.Error):
            conn.execute("ROLLBACK")
