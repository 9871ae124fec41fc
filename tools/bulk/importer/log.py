"""The import log: which files were previewed or imported (by content), so the first run is a preview."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from backoffice.tools.book import keeping
from backoffice.tools.book.datafiles import shown
from backoffice.tools.book.store import Store
from backoffice.tools.bulk.tabular import read_file

# ---------------------------------------------------------------------------- the import log
IMPORT_LOG = "imports.json"


def file_digest(path: Path) -> str:
    return hashlib.sha256(read_file(path, f"Cannot import {path}")).hexdigest()


def _log(store: Store) -> dict[str, Any]:
    data = keeping.slot(store.directory, "imports").load()  # imports.json, or its row in the database
    return data if isinstance(data, dict) else {}


def previewed(store: Store, digest: str) -> bool:
    """Has the owner seen the plan for this exact file before?"""
    return digest in _log(store)


def remember(store: Store, digest: str, path: Path, what: str, counts: dict[str, int]) -> None:
    """Note that this file was previewed or imported (data/imports.json)."""
    kept = keeping.slot(store.directory, "imports")
    with kept.locked():
        log = _log(store)
        entry = log.setdefault(digest, {"file": shown(path.resolve())})
        entry[f"{what}_at"] = store.now().isoformat(timespec="seconds")
        entry[what] = counts
        kept.save(log)
