"""File primitives the book is built on: atomic replacement, the cross-process lock, reading a
JSON file that may be damaged, and a TinyDB storage class that never rewrites a file in place.

How the book itself is kept (snapshots, journal, index) is ``filebook``'s concern."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from tinydb.storages import Storage

from backoffice.tools.errors import StoreCorrupt

Doc = dict[str, Any]


@contextlib.contextmanager
def file_lock(path: Path, blocking: bool = True) -> Iterator[bool]:
    """An exclusive cross-process lock on ``path`` (created if missing). Yields False instead of
    waiting when ``blocking`` is off and another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, payload: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``payload`` so that a crash leaves either the old or the new file."""
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def _dumps(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


def load_json_file(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise StoreCorrupt(
            f"{path} is damaged and was left untouched (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
            "Restore it from a backup, or fix it by hand; backoffice will not overwrite it."
        ) from exc


class AtomicJSONStorage(Storage):
    """A TinyDB storage that never rewrites a file in place.

    ``TinyDB(path, storage=AtomicJSONStorage)`` opens any of backoffice's files with stock TinyDB;
    backoffice itself uses it to write snapshots.
    """

    def __init__(self, path: str | os.PathLike[str], create_dirs: bool = False, **_: Any):
        self.path = Path(path)
        if create_dirs:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def read(self) -> dict[str, dict[str, Any]] | None:
        data = load_json_file(self.path)
        if data is not None and not isinstance(data, dict):
            raise StoreCorrupt(f"{self.path} does not hold a TinyDB database (top level is not an object)")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        atomic_write_bytes(self.path, _dumps(data))

    def close(self) -> None:
        pass
