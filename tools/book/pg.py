"""Talking to PostgreSQL: the connection, its settings, and its errors in the owner's words.

psycopg 3 is imported here and by nothing that a book on files runs, so a one-machine owner never
pays for loading it.

Each connection works in autocommit mode and opens its transactions itself (``BEGIN`` ...
``COMMIT``), the same way the file book drives SQLite. It waits at most ``LOCK_WAIT`` for the
book's write lock (another computer writing), and the server ends a session that sits in an open
transaction longer than ``IDLE_IN_TRANSACTION`` (a laptop closed mid-write), so one stuck
computer cannot hold the others up for long.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.adapt import Loader

from backoffice.tools.book.location import safe_url
from backoffice.tools.errors import StoreError

# as long as a big import by another computer may hold the book (the files wait without limit); a
# computer that died mid-write is ended by the server after IDLE_IN_TRANSACTION anyway
LOCK_WAIT = "5min"
IDLE_IN_TRANSACTION = "10min"
CONNECT_TIMEOUT = 10  # seconds


class _RawJson(Loader):
    """jsonb arrives as its JSON text, for orjson to parse (as the SQLite index's blobs are)."""

    def load(self, data: Any) -> bytes:
        return bytes(data)


def connect(url: str) -> psycopg.Connection[Any]:
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, application_name="backoffice")
    except psycopg.Error as exc:
        raise StoreError(
            f"Cannot reach the database {safe_url(url)}: {_first_line(exc)}. Check the address "
            "(BACKOFFICE_DATABASE_URL, or database_url in settings.json), that the server is running, and that "
            "this computer may connect to it. Nothing was read or changed."
        ) from exc
    conn.adapters.register_loader("jsonb", _RawJson)
    conn.execute(f"SET lock_timeout = '{LOCK_WAIT}'")
    conn.execute(f"SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION}'")
    return conn


@contextlib.contextmanager
def translated(url: str) -> Iterator[None]:
    """Database failures as ``StoreError`` with a sentence for the owner; other errors pass."""
    try:
        yield
    except psycopg.errors.LockNotAvailable as exc:
        raise StoreError(
            f"The book in {safe_url(url)} stayed locked by another computer's change for {LOCK_WAIT}; nothing was "
            "changed here. Try again in a moment; if it keeps happening, `backoffice doctor` on the other computers "
            "shows which one is stuck."
        ) from exc
    except psycopg.OperationalError as exc:
        raise StoreError(
            f"The database {safe_url(url)} stopped answering ({_first_line(exc)}); the change in progress was not "
            "saved. Check the server and the network, then try again."
        ) from exc
    except psycopg.Error as exc:
        raise StoreError(f"The database {safe_url(url)} refused a request: {_first_line(exc)}") from exc


def broken(conn: psycopg.Connection[Any] | None) -> bool:
    return conn is None or conn.closed or conn.broken


def server_version(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split(" ")[0] if row else "?"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
