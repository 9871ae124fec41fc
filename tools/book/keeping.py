"""What an office shares besides its records: actions waiting for the owner's answer, the reports and
emails produced for the owner, which of them the chat has shown, and the import log.

With a book of files they are files in the data dir, as they always were. With the book in
PostgreSQL they are rows of the same database (``pgkeeping``), so every computer of the office
sees the same pending actions and the same reports. The Gmail and QuickBooks sign-ins stay files
on the computer that connected them: a secret belongs to a machine, not to the office.

Two shapes of thing are kept:

- a **slot** holds one JSON object that is read and replaced whole under a lock (``pending.json``,
  ``chat_state.json``, ``imports.json``);
- a **shelf** holds many JSON objects by id, each written once (``notifications/``). On files the
  shelf is the folder that ``agent.briefings.notifications`` reads itself, so ``shelf`` gives
  None there.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from backoffice.tools.book.datafiles import read_object, shown
from backoffice.tools.book.location import database
from backoffice.tools.book.storage import atomic_write_bytes, file_lock

# slot name -> (file in the data dir, its lock file or None)
FILES: dict[str, tuple[str, str | None]] = {
    "pending": ("pending.json", ".pending.lock"),
    "chat_state": ("chat_state.json", None),
    "imports": ("imports.json", ".imports.lock"),
}
WHAT = {  # what each holds, in the owner's words, for a message about a damaged file
    "pending": "actions waiting for your approval",
    "chat_state": "which reports the chat has shown you",
    "imports": "the files you imported",
}


class Slot(Protocol):
    where: str  # where it is kept, for messages

    def locked(self, shared: bool = False) -> contextlib.AbstractContextManager[None]:
        """Hold the slot: shared for reading, exclusive (the default) to change it."""
        ...

    def load(self) -> Any:
        """The object kept (None: nothing saved yet)."""
        ...

    def save(self, data: dict[str, Any]) -> None:
        """Replace the object (inside an exclusive ``locked()``)."""
        ...


class Shelf(Protocol):
    def has(self, ident: str) -> bool: ...

    def add(self, ident: str, kind: str, data: dict[str, Any]) -> bool:
        """Keep ``data`` unless something is kept under ``ident`` already; True if kept."""
        ...

    def any(self, kind: str) -> bool: ...

    def read(self, skip: set[str]) -> list[dict[str, Any]]:
        """Everything kept whose id is not in ``skip``, by id."""
        ...


def slot(directory: Path, name: str, database_url: str | None = None) -> Slot:
    """The slot ``name`` of the book whose data dir is ``directory``; ``database_url`` as for
    ``Store`` (None: the book's own choice, "" the files)."""
    url = _url(directory, database_url)
    if url:
        from backoffice.tools.book.pgkeeping import PgSlot  # psycopg loads only for a book on a server

        return PgSlot(url, name, WHAT[name])
    file, lock = FILES[name]
    return FileSlot(directory / file, directory / lock if lock else None, WHAT[name])


def shelf(directory: Path, database_url: str | None = None) -> Shelf | None:
    """The database's shelf, or None when the book is files (the folder is read directly)."""
    url = _url(directory, database_url)
    if not url:
        return None
    from backoffice.tools.book.pgkeeping import PgShelf

    return PgShelf(url)


def _url(directory: Path, database_url: str | None) -> str:
    if database_url is not None:
        return database_url
    found = database(directory)
    return found.url if found else ""


class FileSlot:
    """A JSON file replaced atomically, under a cross-process lock file when it has one."""

    def __init__(self, path: Path, lock: Path | None, what: str = ""):
        self.path = path
        self.lock = lock
        self.what = what
        self.where = shown(path)

    @contextlib.contextmanager
    def locked(self, shared: bool = False) -> Iterator[None]:
        if self.lock is None:
            yield
            return
        with file_lock(self.lock, shared=shared):
            yield

    def load(self) -> Any:
        return read_object(self.path, self.what)  # damage is reported, never read as "nothing saved"

    def save(self, data: dict[str, Any]) -> None:
        atomic_write_bytes(self.path, json.dumps(data, sort_keys=True, indent=1).encode() + b"\n")
