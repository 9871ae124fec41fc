"""The PostgreSQL book's tables, made and upgraded by the numbered SQL files in ``migrations/``.

``0001_book.sql``, ``0002_….sql``… ship inside the package and are applied in order, each once,
in the same transaction as the row that records it in ``backoffice_migrations`` (level, file,
when): a migration is in whole or not at all. The database's *level* is the highest applied.

- Level 0 (no such table): the database holds no book. Reading it reads an empty book; the first
  write creates the tables (as the first write on files creates the folder).
- Below this backoffice's level: brought up to date by the first command that opens it.
- Above it: the database was upgraded by a newer backoffice; this one refuses to touch it.

Two computers upgrading at once take turns on an advisory lock, and the second finds nothing
left to do. A book may live in a schema of its own (``?options=-csearch_path%3Dname`` in the
address): the schema is created with the book.

A new indexed column (``spec.SPEC``) needs a migration that adds it and fills it; a test compares
the migrated tables with ``SPEC``.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import Any

from backoffice.tools.errors import StoreError

TABLE = "backoffice_migrations"
LOCK = 7_441_820_018  # pg_advisory_xact_lock key: "backoffice is migrating"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@cache
def shipped() -> tuple[tuple[int, str, str], ...]:
    """(level, file name, SQL) of every migration in the package, in order."""
    found = []
    for entry in files("backoffice.tools.book").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    levels = [level for level, _, _ in found]
    if levels != list(range(1, len(found) + 1)):
        raise StoreError(f"the migrations shipped with backoffice are not numbered 1, 2, 3...: {levels}")
    return tuple(found)


def latest() -> int:
    return len(shipped())


def level(conn: Any) -> int:
    """The database's migration level (0: no book)."""
    row = conn.execute(f"SELECT to_regclass('{TABLE}') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    return int(conn.execute(f"SELECT coalesce(max(level), 0) FROM {TABLE}").fetchone()[0])


def check_not_ahead(current: int, where: str) -> None:
    if current > latest():
        raise StoreError(
            f"The book in {where} is at migration level {current}, but this backoffice knows only up to level "
            f"{latest()}: a newer backoffice upgraded it. Upgrade backoffice on this computer "
            "(pip install -U backoffice); nothing was read or changed."
        )


def upgrade(conn: Any, where: str) -> list[str]:
    """Inside the caller's transaction: apply every migration the database lacks; their names.
    A book already at the latest level is left without taking the migration lock: that lock is
    held until the caller's transaction ends, and another connection of the same process (the
    pending actions' while a write is open) must not wait for it."""
    if level(conn) == latest():
        return []
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
    current = level(conn)
    check_not_ahead(current, where)
    if current == latest():
        return []
    if current == 0:
        _ensure_schema(conn)
        conn.execute(
            f"CREATE TABLE {TABLE} (level integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
    applied = []
    for number, name, sql in shipped()[current:]:
        conn.execute(sql)
        conn.execute(f"INSERT INTO {TABLE} (level, name) VALUES (%s, %s)", (number, name))
        applied.append(name)
    return applied


def _ensure_schema(conn: Any) -> None:
    """The first schema of the search path, made if the address names one that is not there yet."""
    if conn.execute("SELECT current_schema()").fetchone()[0] is not None:
        return
    path = str(conn.execute("SELECT current_setting('search_path')").fetchone()[0])
    names = [n.strip().strip('"') for n in path.split(",") if n.strip() and n.strip() != '"$user"']
    if not names:
        raise StoreError("The database address gives an empty search_path: there is no schema to put the book in.")
    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{names[0].replace(chr(34), "")}"')
