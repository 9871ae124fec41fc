"""The small JSON files beside the book, read so that damage is reported and never papered over.

``pending.json``, ``settings.json``, ``chat_state.json``, ``daemon.json``, ``gmail.json``,
``imports.json`` and the reports in ``notifications/`` are each one JSON object. A file that is
not there reads as ``None`` (nothing saved yet). Anything else that is not a JSON object — bytes
that are not UTF-8, text that does not parse, an empty file, a list, a folder where the file
should be — raises ``StoreCorrupt`` naming the file, and the file is left exactly as it is: a
caller that went on with an empty default would replace the owner's data on its next save.

``private_dir`` makes the folders of the data dir the way every file in it is written: readable
by the owner only, whatever the umask.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from backoffice.tools.errors import StoreCorrupt

MAX_BYTES = 64 * 1024 * 1024  # far beyond any of these files; a bigger one is not one of ours
PRIVATE_DIR = 0o700


def shown(path: Path | str) -> str:
    """A path as text that can always be printed and stored (a name that is not UTF-8 included)."""
    return os.fsencode(path).decode("utf-8", "replace")


def read_object(path: Path, what: str = "") -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when there is no such file. ``what`` says in a few
    words what the file holds, for the message."""
    label = f"{shown(path)}{f' ({what})' if what else ''}"
    keep = "it was left as it is. Restore it from a backup, fix it by hand, or move it away to start it afresh."
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise StoreCorrupt(f"{label} is a folder, not a file; {keep}")
        if not path.is_file():
            raise StoreCorrupt(f"{label} is not a regular file; {keep}")
        if size > MAX_BYTES:
            raise StoreCorrupt(f"{label} is {size:,} bytes, far too big to be one of backoffice's files; {keep}")
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except StoreCorrupt:
        raise
    except OSError as exc:
        raise StoreCorrupt(f"{label} cannot be read ({exc.strerror or exc}); {keep}") from exc
    if not raw.strip():
        raise StoreCorrupt(f"{label} is empty ({len(raw)} bytes), which backoffice never writes; {keep}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StoreCorrupt(f"{label} is not UTF-8 text (byte {exc.start} is {raw[exc.start]:#04x}); {keep}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise StoreCorrupt(f"{label} is not valid JSON ({where}); {keep}") from exc
    except RecursionError as exc:
        raise StoreCorrupt(f"{label} is nested too deeply to be one of backoffice's files; {keep}") from exc
    if not isinstance(data, dict):
        kind = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}.get(
            type(data), "null"
        )
        raise StoreCorrupt(f"{label} holds {kind} where backoffice keeps an object ({{...}}); {keep}")
    return data


def private_dir(path: Path) -> Path:
    """Create ``path`` (and any missing parents) for the owner only (0700), whatever the umask. A
    folder that is already there keeps the permissions it has."""
    missing = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    for created in missing:  # mkdir's mode is cut by the umask, and parents get the default
        if os.name == "posix":
            os.chmod(created, PRIVATE_DIR)
    return path
