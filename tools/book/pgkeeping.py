"""``keeping``'s slots and shelf in PostgreSQL: tables ``state_docs`` and ``notifications``.

A slot is one row of ``state_docs``; changing it locks that row (``SELECT … FOR UPDATE``), so two
computers approving the same pending action take turns and the second finds it claimed. A shelf
entry is one row of ``notifications``, added with ``ON CONFLICT DO NOTHING``: a report made by two
computers for the same day is kept once.

These small reads and writes share one connection per process (``_link``), apart from the
book's own: a pending action changes in a transaction of its own, as ``pending.json`` did.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg

from backoffice.tools.book import pg, pgschema
from backoffice.tools.book.location import safe_url
from backoffice.tools.errors import StoreError

_lock = threading.RLock()
_conn: psycopg.Connection[Any] | None = None
_url: str | None = None
_current: set[str] = set()  # addresses known to hold a book at this backoffice's level


@contextlib.contextmanager
def _link(url: str) -> Iterator[psycopg.Connection[Any]]:
    """The process's connection for these things (one address at a time), errors in plain words."""
    global _conn, _url
    with _lock, pg.translated(url):
        if _url != url or pg.broken(_conn):
            if _conn is not None:
                with contextlib.suppress(psycopg.Error):
                    _conn.close()
            _conn, _url = None, None
            _conn, _url = pg.connect(url), url
        assert _conn is not None
        yield _conn


def _has_book(conn: psycopg.Connection[Any], url: str) -> bool:
    if url in _current:
        return True
    level = pgschema.level(conn)
    pgschema.check_not_ahead(level, safe_url(url))
    if level == pgschema.latest():
        _current.add(url)
    return level > 0


@contextlib.contextmanager
def _changing(conn: psycopg.Connection[Any], url: str) -> Iterator[None]:
    """A transaction that may write: the book's tables are made first if this is its first write."""
    conn.execute("BEGIN")
    try:
        if url not in _current:
            pgschema.upgrade(conn, safe_url(url))
        yield
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(psycopg.Error):
            conn.execute("ROLLBACK")
        raise
    _current.add(url)


class PgSlot:
    def __init__(self, url: str, name: str, what: str = ""):
        self.url = url
        self.name = name
        self.where = f"The row holding {what or name.replace('_', ' ')} in {safe_url(url)}"
        self._held: psycopg.Connection[Any] | None = None

    @contextlib.contextmanager
    def locked(self, shared: bool = False) -> Iterator[None]:
        with _link(self.url) as conn:
            if shared:  # one SELECT sees one committed state: nothing to hold
                self._held = conn
                try:
                    yield
                finally:
                    self._held = None
                return
            with _changing(conn, self.url):
                conn.execute("INSERT INTO state_docs (name) VALUES (%s) ON CONFLICT (name) DO NOTHING", (self.name,))
                conn.execute("SELECT 1 FROM state_docs WHERE name = %s FOR UPDATE", (self.name,))
                self._held = conn
                try:
                    yield
                finally:
                    self._held = None

    def load(self) -> Any:
        if self._held is not None:
            return self._load(self._held)
        with _link(self.url) as conn:
            return self._load(conn)

    def _load(self, conn: psycopg.Connection[Any]) -> Any:
        if not _has_book(conn, self.url):
            return None
        row = conn.execute("SELECT doc FROM state_docs WHERE name = %s", (self.name,)).fetchone()
        return orjson.loads(row[0]) if row and row[0] is not None else None

    def save(self, data: dict[str, Any]) -> None:
        if self._held is None:
            raise StoreError(f"internal error: {self.where} was changed without holding it")
        self._held.execute(
            "UPDATE state_docs SET doc = %s, updated_at = now() WHERE name = %s",
            (orjson.dumps(data, default=str).decode(), self.name),
        )


class PgShelf:
    def __init__(self, url: str):
        self.url = url

    def has(self, ident: str) -> bool:
        with _link(self.url) as conn:
            if not _has_book(conn, self.url):
                return False
            return conn.execute("SELECT 1 FROM notifications WHERE id = %s", (ident,)).fetchone() is not None

    def add(self, ident: str, kind: str, data: dict[str, Any]) -> bool:
        with _link(self.url) as conn, _changing(conn, self.url):
            cur = conn.execute(
                "INSERT INTO notifications (id, kind, doc) VALUES (%s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (ident, kind, orjson.dumps(data, default=str).decode()),
            )
            return cur.rowcount == 1

    def any(self, kind: str) -> bool:
        with _link(self.url) as conn:
            if not _has_book(conn, self.url):
                return False
            return conn.execute("SELECT 1 FROM notifications WHERE kind = %s LIMIT 1", (kind,)).fetchone() is not None

    def read(self, skip: set[str]) -> list[dict[str, Any]]:
        with _link(self.url) as conn:
            if not _has_book(conn, self.url):
                return []
            rows = conn.execute(
                "SELECT doc FROM notifications WHERE NOT (id = ANY(%s)) ORDER BY id", (sorted(skip),)
            ).fetchall()
            return [orjson.loads(r[0]) for r in rows]

    def count(self) -> int:
        with _link(self.url) as conn:
            if not _has_book(conn, self.url):
                return 0
            row = conn.execute("SELECT count(*) FROM notifications").fetchone()
            return int(row[0]) if row else 0
