"""File primitives the book is built on: atomic replacement, the cross-process lock, reading a
JSON file that may be damaged, and a TinyDB storage class that never rewrites a file in place.

How the book itself is kept (snapshots, journal, index) is ``filebook``'s concern.

Portability: the locks are ``locks``' (flock on POSIX, portalocker's LockFileEx on Windows); ``os.fchmod``
and the fsync of a directory exist only on POSIX and are skipped elsewhere (Windows makes a
rename durable itself). Tested on Linux only.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson
from tinydb.storages import Storage

from backoffice.tools.book import locks
from backoffice.tools.book.datafiles import private_dir
from backoffice.tools.errors import StoreCorrupt

Doc = dict[str, Any]


def _open_lock_file(path: Path) -> IO[bytes]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return os.fdopen(fd, "r+b")


@contextlib.contextmanager
def file_lock(path: Path, blocking: bool = True, shared: bool = False) -> Iterator[bool]:
    """A cross-process lock on ``path``: exclusive (the file and its folder are created if
    missing), or ``shared`` for readers. A shared lock in a folder that does not exist creates
    nothing and yields True: there is nothing there to read or to wait for. Yields False instead
    of waiting when ``blocking`` is off and another process holds the lock."""
    if shared and not path.parent.is_dir():
        yield True
        return
    if not shared:
        private_dir(path.parent)
    with _open_lock_file(path) as handle:
        if not locks.lock(handle, shared=shared, blocking=blocking):
            yield False
            return
        try:
            yield True
        finally:
            locks.unlock(handle)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable. POSIX only: Windows has no directory handle to
    fsync, and its renames are durable once they return."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, payload: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``payload`` so that a crash leaves either the old or the new file. The
    file is the owner's only (0600, mkstemp's mode, whatever the umask) unless ``mode`` says otherwise."""
    with atomic_file(path, mode) as handle:
        handle.write(payload)


@contextlib.contextmanager
def atomic_file(path: Path, mode: int | None = None) -> Iterator[IO[bytes]]:
    """A file to write ``path``'s new content into: a temp file beside it, fsynced and renamed over
    it when the block ends, removed if the block raises. A crash leaves the old or the new file."""
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        if mode is not None:
            _chmod(fd, tmp, mode)
        with os.fdopen(fd, "wb", buffering=1 << 20) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def _chmod(fd: int, path: str, mode: int) -> None:
    if hasattr(os, "fchmod"):  # POSIX: set before the first byte is written
        os.fchmod(fd, mode)
    else:  # Windows knows only read-only or not; the file is private to the user's profile anyway
        os.chmod(path, mode)


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
            private_dir(self.path.parent)

    def read(self) -> dict[str, dict[str, Any]] | None:
        data = load_json_file(self.path)
        if data is not None and not isinstance(data, dict):
            raise StoreCorrupt(f"{self.path} does not hold a TinyDB database (top level is not an object)")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        atomic_write_bytes(self.path, _dumps(data))

    def close(self) -> None:
        pass
