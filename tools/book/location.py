"""Where the book lives: one answer, the same from any directory.

``--data-dir``, else ``$BACKOFFICE_DATA_DIR``, else the platform's per-user data folder
(``~/.local/share/backoffice`` on Linux, ``~/Library/Application Support/backoffice`` on macOS,
``%LOCALAPPDATA%\\backoffice`` on Windows). Never the current directory: a command run from cron,
systemd or another folder opens the same book as the owner's chat.

A book exists once its folder does. Only a write creates the folder (the store makes it on the
first change), so a read-only command pointed at the wrong place finds nothing and says so instead
of reporting an empty business. Cheap to import: ``backoffice --help`` names the book too.

The records themselves may live in a PostgreSQL database instead (``database``): then the data dir
still holds this computer's settings, its Gmail and QuickBooks sign-ins, and the outbox.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from backoffice.tools.errors import ConfigError

ENV = "BACKOFFICE_DATA_DIR"
DATABASE_ENV = "BACKOFFICE_DATABASE_URL"
DATABASE_SETTING = "database_url"  # the same, kept in settings.json
APP = "backoffice"
SCHEMES = ("postgresql://", "postgres://")


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


class Database(NamedTuple):
    url: str
    source: str  # how it was chosen, in the owner's words

    def describe(self) -> str:
        return f"{safe_url(self.url)} ({self.source})"

    def missing_message(self, data_dir: Path) -> str:
        return (
            f"There is no book in the database {self.describe()} yet; nothing was read or created there. "
            f"Move a book into it with `backoffice migrate --to {safe_url(self.url)}` run where the book is, or "
            "start one with `backoffice demo`, `backoffice import FILE.csv` or `backoffice chat`. "
            f"(This computer's settings are in {data_dir}.)"
        )


def database(directory: Path) -> Database | None:
    """The PostgreSQL database that holds the book, when it is not the files in ``directory``:
    ``$BACKOFFICE_DATABASE_URL``, else ``database_url`` in the data dir's settings.json."""
    url, source = os.environ.get(DATABASE_ENV, "").strip(), DATABASE_ENV
    if not url:
        url, source = _setting(directory), f"{DATABASE_SETTING} in settings.json"
    if not url:
        return None
    if not url.startswith(SCHEMES):
        raise ConfigError(
            f"{source} is {safe_url(url)!r}, which is not a PostgreSQL address: it should start with postgresql://, "
            "as in postgresql://backoffice@db.example.com/backoffice. Nothing was read or changed."
        )
    import importlib.util

    if importlib.util.find_spec("psycopg") is None:
        raise ConfigError(
            f"The book is on a PostgreSQL server ({source}), but this computer has no PostgreSQL driver: "
            "pip install 'backoffice[postgresql]' installs it. Nothing was read or changed."
        )
    return Database(url, source)


def _setting(directory: Path) -> str:
    import json

    try:
        value = json.loads((directory / "settings.json").read_text(encoding="utf-8")).get(DATABASE_SETTING)
    except (OSError, ValueError, AttributeError):
        return ""  # a damaged settings file is reported when the settings are loaded
    return value.strip() if isinstance(value, str) else ""


def safe_url(url: str) -> str:
    """A database address fit to print: any password is replaced by ***."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    except ValueError:
        return "(an address that cannot be read)"
