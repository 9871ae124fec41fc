"""The journal: committed transactions not yet folded into the TinyDB files.

One JSON line per transaction, after a header line naming this journal (a random token, so a
reader can tell a journal that was replaced from one that only grew)::

    {"journal": "9f2c..."}
    {"tx": "4be1...", "ops": [["leads", "12", {...whole document...}], ...], "events": [{...}, ...]}

The fsynced line is the commit point of a transaction. Operations hold whole documents, so
applying a line twice gives the same book. A last line without its newline was never
acknowledged (the writer died mid-append): readers stop before it and the next writer cuts it off.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from backoffice.tools.book.storage import atomic_write_bytes
from backoffice.tools.errors import StoreCorrupt, StoreError

FILE = "journal.jsonl"


@dataclass
class Entry:
    """One committed transaction."""

    tx: str
    ops: list[tuple[str, str, Any]]  # (table, key, document: a dict, or an orjson fragment when staged)
    events: list[dict[str, Any]] = field(default_factory=list)
    end: int = 0  # byte offset just after this line


@dataclass(frozen=True)
class Position:
    """Where a reader is: which journal (inode and token) and how far into it."""

    inode: int | None
    token: str | None
    offset: int


def _header(token: str) -> bytes:
    return orjson.dumps({"journal": token}) + b"\n"


class Journal:
    def __init__(self, directory: Path):
        self.path = directory / FILE

    def position(self) -> Position:
        """The journal as it is on disk now: no file is ``Position(None, None, 0)``."""
        try:
            with open(self.path, "rb") as handle:
                st = os.fstat(handle.fileno())
                first = handle.readline()
        except FileNotFoundError:
            return Position(None, None, 0)
        return Position(st.st_ino, _token(first, self.path), st.st_size)

    def start(self) -> Position:
        """Replace the journal by an empty one with a new token (after its lines were folded)."""
        token = uuid.uuid4().hex
        atomic_write_bytes(self.path, _header(token), mode=0o600)
        st = os.stat(self.path)
        return Position(st.st_ino, token, st.st_size)

    def read(self, after: int = 0) -> Iterator[Entry]:
        """The complete lines after byte ``after`` (0: from the start, header skipped)."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            header = handle.readline()
            if not header.endswith(b"\n"):
                return
            offset = max(after, len(header))
            handle.seek(offset)
            for line in handle:
                if not line.endswith(b"\n"):
                    return  # torn tail: never acknowledged
                offset += len(line)
                try:
                    raw = orjson.loads(line)
                    ops = [(str(t), str(k), dict(d)) for t, k, d in raw["ops"]]
                    yield Entry(str(raw.get("tx", "")), ops, list(raw.get("events") or []), offset)
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                    raise StoreCorrupt(
                        f"{self.path} has a damaged line at byte {offset - len(line)} ({exc}); it was left untouched. "
                        "Restore the data dir from a backup, or run `backoffice check` for details."
                    ) from exc

    def last(self) -> Entry | None:
        """The last complete transaction, found from the end (a big import's line may be megabytes)."""
        if not self.path.exists():
            return None
        with open(self.path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            end = size
            handle.seek(max(0, size - 1))
            if size and handle.read(1) != b"\n":  # a torn tail: the last complete line ends before it
                end = _line_start(handle, size)
            if end == 0:
                return None
            start = _line_start(handle, end - 1)
            if start == 0:
                return None  # only the header
            handle.seek(start)
            line = handle.read(end - start)
        try:
            raw = orjson.loads(line)
            return Entry(str(raw.get("tx", "")), [tuple(op) for op in raw["ops"]], list(raw.get("events") or []), end)
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise StoreCorrupt(f"{self.path} has a damaged last line ({exc}); it was left untouched.") from exc

    def truncate(self, offset: int) -> None:
        """Cut a torn tail (bytes never acknowledged) so the file ends on a complete line."""
        with open(self.path, "r+b") as handle:
            handle.truncate(offset)
            os.fsync(handle.fileno())

    def append(self, entry: Entry, position: Position) -> Position:
        """Commit ``entry``: one line, fsynced. A torn tail left by a crash is cut off first."""
        line = orjson.dumps({"tx": entry.tx, "ops": entry.ops, "events": entry.events}) + b"\n"
        if position.inode is None or position.token is None:
            # no journal, or one whose header line was never completed (nothing can have been
            # committed after it): a fresh one, rather than a line glued to the torn header
            position = self.start()
        try:
            with open(self.path, "r+b") as handle:
                handle.truncate(position.offset)
                handle.seek(position.offset)
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            with contextlib.suppress(OSError), open(self.path, "r+b") as handle:
                handle.truncate(position.offset)
            raise StoreError(f"Could not save to {self.path}: {exc.strerror}. Nothing was changed.") from exc
        return Position(position.inode, position.token, position.offset + len(line))


def _line_start(handle: Any, before: int) -> int:
    """The offset where the line holding byte ``before - 1`` starts (0 for the first line)."""
    pos, chunk = before, 64 * 1024
    while pos > 0:
        start = max(0, pos - chunk)
        handle.seek(start)
        cut = handle.read(pos - start).rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        pos = start
    return 0


def _token(first: bytes, path: Path) -> str | None:
    if not first.endswith(b"\n"):
        return None  # a header torn while the journal was being created: nothing was ever committed to it
    try:
        token = orjson.loads(first).get("journal")
    except (orjson.JSONDecodeError, AttributeError) as exc:
        raise StoreCorrupt(f"{path} does not start with a journal header; it was left untouched.") from exc
    return str(token) if token else None
