"""Produced reports and emails for the owner: one JSON file each in ``<data dir>/notifications/``.

A report's file is named by its day and kind, so it is both the record that it ran (a second
attempt for the same day finds it and stops) and the delivery (the chat shows the ones not seen yet).
With the book in PostgreSQL they are rows of its ``notifications`` table instead (``keeping.shelf``),
seen from every computer of the office."""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from backoffice.agent.reply import Block, Reply
from backoffice.tools.book import keeping
from backoffice.tools.book.storage import atomic_write_bytes, file_lock

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


def report_id(kind: str, day: dt.date) -> str:
    return f"{day.isoformat()}-{kind}"


class Notifications:
    """One JSON file per produced report in ``<data dir>/notifications/``."""

    def __init__(self, data_dir: Path):
        self.directory = data_dir / FOLDER
        self.shelf = keeping.shelf(data_dir)  # None: the folder

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
        """The notifications whose ids are not in ``seen``, oldest first; only those files are read."""
        if self.shelf is not None:
            return [Notification(**doc) for doc in self.shelf.read(seen)]
        notes = []
        for path in sorted(p for p in self.directory.glob("*.json") if p.stem not in seen):
            try:
                notes.append(Notification(**json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError) as exc:
                log.warning("skipping unreadable notification %s: %s", path, exc)
        return notes
