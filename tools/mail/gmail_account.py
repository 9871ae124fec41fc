"""The owner's Gmail account as backoffice keeps it: the sign-in token and what has been read.

``<data dir>/gmail.token.json`` holds the OAuth token (0600); ``<data dir>/gmail.json`` the
connected address, when mail was last checked and the Gmail ids already read. Reading these needs
none of Google's client libraries, so asking "is Gmail connected?" costs nothing at start-up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backoffice.tools.book.datafiles import read_object
from backoffice.tools.book.storage import atomic_write_bytes

TOKEN = "gmail.token.json"
STATE = "gmail.json"
SCOPES = ["https://www.googleapis.com/auth/gmail.readonly", "https://www.googleapis.com/auth/gmail.send"]


def token_path(directory: Path) -> Path:
    return directory / TOKEN


def connected(directory: Path) -> bool:
    return token_path(directory).exists()


def load_state(directory: Path) -> dict[str, Any]:
    """What ``gmail.json`` says; empty when there is none. A damaged one is refused, never replaced."""
    return read_object(directory / STATE, "which Gmail messages were read") or {}


def save_state(directory: Path, state: dict[str, Any]) -> None:
    atomic_write_bytes(directory / STATE, json.dumps(state, indent=1).encode("utf-8"))
