"""Where the book lives: one answer, the same from any directory.

``--data-dir``, else ``$BACKOFFICE_DATA_DIR``, else the platform's per-user data folder
(``~/.local/share/backoffice`` on Linux, ``~/Library/Application Support/backoffice`` on macOS,
``%LOCALAPPDATA%\\backoffice`` on Windows). Never the current directory: a command run from cron,
systemd or another folder opens the same book as the owner's chat.

A book exists once its folder does. Only a write creates the folder (the store makes it on the
first change), so a read-only command pointed at the wrong place finds nothing and says so instead
of reporting an empty business. Cheap to import: ``backoffice --help`` names the book too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from backoffice.tools.errors import ConfigError

ENV = "BACKOFFICE_DATA_DIR"
APP = "backoffice"


class BookLocation(NamedTuple):
    path: Path
    source: str  # how it was chosen, in the owner's words

    @property
    def exists(self) -> bool:
        return self.path.is_dir()

    def describe(self) -> str:
        state = "" if self.exists else "; no book there yet"
        return f"{self.path} ({self.source}{state})"

    def missing_message(self) -> str:
        return (
            f"There is no book at {self.path} ({self.source}); nothing was read or created there. "
            "Start one with `backoffice demo` (a sample business), `backoffice import FILE.csv` or "
            f"`backoffice chat`; or point --data-dir (or {ENV}) at the folder of an existing book."
        )


def user_data_dir() -> Path:
    import platformdirs  # only here: most commands name their book explicitly or through the environment

    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def locate(explicit: str | os.PathLike[str] | None = None) -> BookLocation:
    """The book's folder and how it was chosen. A path that is a file is refused."""
    if explicit:
        where = BookLocation(_absolute(explicit), "--data-dir")
    elif os.environ.get(ENV):
        where = BookLocation(_absolute(os.environ[ENV]), ENV)
    else:
        where = BookLocation(user_data_dir(), "your user data folder")
    if where.path.exists() and not where.path.is_dir():
        raise ConfigError(
            f"{where.path} ({where.source}) is a file, not a folder: the book is a folder of files. "
            "Give the folder that holds crm.json, or a new folder's name."
        )
    return where


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The book's folder: ``--data-dir``, else ``$BACKOFFICE_DATA_DIR``, else the per-user data folder."""
    return locate(explicit).path


def _absolute(path: str | os.PathLike[str]) -> Path:
    return Path(path).expanduser().resolve()
