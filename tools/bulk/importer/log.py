"""The import log: which files were previewed or imported (by content), so the first run is a preview."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson

from backoffice.tools.book.datafiles import read_object, shown
from backoffice.tools.book.storage import atomic_write_bytes, file_lock
from backoffice.tools.book.store import Store
from backoffice.tools.bulk.tabular import read_file

# ---------------------------------------------------------------------------- the import log
IMPORT_LOG = "imports.json"


def file_digest(path: Path) -> str:
    return hashlib.sha256(read_file(path, f"Cannot import {path}")).hexdigest()


def _log(store: Store) -> dict[str, Any]:
    return read_object(store.directory / IMPORT_LOG, "the files you imported") or {}


def previewed(store: Store, digest: str) -> bool:
    """Has the owner seen the plan for this exact file before?"""
    return digest in _log(store)


def remember(store: Store, digest: str, path: Path, what: str, counts: dict[str, int]) -> None:
    """Note that this file was previewed or imported (data/imports.json)."""
    with file_lock(store.directory / ".imports.lock"):
        log = _log(store)
        entry = log.setdefault(digest, {"file": shown(path.resolve())})
        entry[f"{what}_at"] = store.now().isoformat(timespec="seconds")
        entry[what] = counts
        atomic_write_bytes(store.directory / IMPORT_LOG, orjson.dumps(log, option=orjson.OPT_INDENT_2))
