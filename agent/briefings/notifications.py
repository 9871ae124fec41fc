"""Produced reports and emails for the owner: one JSON file each in ``<data dir>/notifications/``.

A report's file is named by its day and kind, so it is both the record that it ran (a second
attempt for the same day finds it and stops) and the delivery (the chat shows the ones not seen yet).
With the book in PostgreSQL they are rows of its ``notifications`` table instead (``keeping.shelf``),
seen from every computer of the office."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from backoffice.agent.reply import Block, Reply
from backoffice.tools.book import keeping
from backoffice.tools.book.datafiles import read_object
from backoffice.tools.book.storage import atomic_write_bytes, file_lock
from backoffice.tools.errors import StoreCorrupt

log = logging.getLogger("backoffice.reports")
FOLDER = "notifications"


# ---------------------------------------------------------------------------- the record
@dataclass
class Notification:
    id: str
    kind: str
    day: str
    title: str
    created_at: str
    origin: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def reply(self) -> Reply:
        return Reply(planner="reports", blocks=[Block(**b) for b in self.blocks])


@functools.cache
def _adapters() -> tuple[Any, Any]:
    from pydantic import TypeAdapter  # built once: a TypeAdapter costs more than reading the file

    return TypeAdapter(Notification), TypeAdapter(Block)


def read_note(path: Path) -> Notification:
    """One notification file, checked field by field (``StoreCorrupt`` naming it otherwise)."""
    return checked_note(read_object(path, "a report or email for you") or {}, str(path))


def checked_note(data: dict[str, Any], where: str) -> Notification:
    """A notification as kept (a file's or a database row's object), checked field by field."""
    from pydantic import ValidationError

    note_adapter, block_adapter = _adapters()
    try:
        note = note_adapter.validate_python(data)
        for block in note.blocks:
            block_adapter.validate_python(block)
    except ValidationError as exc:
        first = exc.errors()[0]
        field_at = ".".join(str(p) for p in first["loc"]) or "the top level"
        problem = f"{field_at}: {first['msg']}"
        raise StoreCorrupt(f"{where} is not a notification ({problem}); it was left as it is.") from exc
    return note


def check_folder(data_dir: Path) -> list[str]:
    """Every file in ``notifications/`` that is not a notification (for ``backoffice check``)."""
    folder = data_dir / FOLDER
    if folder.exists() and not folder.is_dir():
        return [f"{folder} is a file; it should be the folder of your reports"]
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            read_note(path)
        except StoreCorrupt as exc:
            found.append(str(exc))
    return found


def report_id(kind: str, day: dt.date) -> str:
    return f"{day.isoformat()}-{kind}"


class Notifications:
    """One JSON file per produced report in ``<data dir>/notifications/``."""

    def __init__(self, data_dir: Path):
        self.directory = data_dir / FOLDER
        self.shelf = keeping.shelf(data_dir)  # None: the folder
        self.problems: list[str] = []  # files in the folder that could not be read, by the last ``unseen``

    def exists(self, kind: str, day: dt.date) -> bool:
        if self.shelf is not None:
            return self.shelf.has(report_id(kind, day))
        return (self.directory / f"{report_id(kind, day)}.json").exists()

    def add(self, note: Notification) -> bool:
        """Store ``note`` unless one with its id exists (a report's id is its day and kind); True if stored."""
        if self.shelf is not None:
            return self.shelf.add(note.id, note.kind, asdict(note))
        path = self.directory / f"{note.id}.json"
        with file_lock(self.directory / ".lock"):
            if path.exists():
                return False
            atomic_write_bytes(path, orjson.dumps(asdict(note), default=str, option=orjson.OPT_INDENT_2))
        return True

    def any(self, kind: str) -> bool:
        if self.shelf is not None:
            return self.shelf.any(kind)
        return next(self.directory.glob(f"*-{kind}.json"), None) is not None

    def all(self) -> list[Notification]:
        return self.unseen(set())

    def unseen(self, seen: set[str]) -> list[Notification]:
        """The notifications whose ids are not in ``seen``, oldest first; only those files are read.
        A file that is not a notification is left as it is and named in ``problems``, so the owner
        hears about it instead of missing a report in silence."""
        notes = []
        self.problems = []
        if self.shelf is not None:
            for doc in self.shelf.read(seen):
                try:
                    notes.append(checked_note(doc, f"the report {doc.get('id')!r} kept in the database"))
                except StoreCorrupt as exc:
                    log.warning("%s", exc)
                    self.problems.append(str(exc))
            return notes
        for path in sorted(p for p in self.directory.glob("*.json") if p.stem not in seen):
            try:
                notes.append(read_note(path))
            except StoreCorrupt as exc:
                log.warning("%s", exc)
                self.problems.append(str(exc))
        return notes
