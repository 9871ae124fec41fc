"""The audit log, ``events.jsonl``: one line per change, appended forever, never rewritten.

Each event names its transaction (``tx``). A transaction's events are also in its journal line,
and the journal line is the commit point, so an acknowledged change always has its events: if the
process died after the commit and before appending here, the next writer finds the last journal
transaction missing from this file and appends its events then (``recover``).

A last line without its newline is a torn append (the process died mid-write, or something else
wrote to the file): it is cut off before the next append, never extended, so the next event
always starts on a clean line of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

FILE = "events.jsonl"
TAIL = 64 * 1024  # how much of the end is read to find the last transaction


class EventLog:
    def __init__(self, directory: Path):
        self.path = directory / FILE

    def append(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        payload = b"".join(orjson.dumps(e) + b"\n" for e in events)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            end = self._clean_end(fd)
            os.lseek(fd, end, os.SEEK_SET)
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _clean_end(fd: int) -> int:
        """The offset after the last complete line; a torn tail is cut off."""
        size = os.fstat(fd).st_size
        if size == 0:
            return 0
        os.lseek(fd, size - 1, os.SEEK_SET)
        if os.read(fd, 1) == b"\n":
            return size
        start = max(0, size - TAIL)
        while True:
            os.lseek(fd, start, os.SEEK_SET)
            chunk = os.read(fd, size - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                end = start + cut + 1
                break
            if start == 0:
                end = 0
                break
            start = max(0, start - TAIL)
        os.ftruncate(fd, end)
        return end

    def written_of(self, tx: str) -> int:
        """How many events of transaction ``tx`` end the log (0 if it is not the last one written)."""
        try:
            with open(self.path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                handle.seek(max(0, size - TAIL))
                tail = handle.read()
        except FileNotFoundError:
            return 0
        count = 0
        for line in reversed(tail.split(b"\n")[:-1]):
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                break
            if not isinstance(event, dict) or event.get("tx") != tx:
                break
            count += 1
        return count

    def read(self) -> Iterator[dict[str, Any]]:
        """Every readable event, oldest first (a damaged line is skipped: the log is history, not state)."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    return
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(event, dict):
                    yield event
