"""``backoffice check``: is the whole data dir healthy? (beancount's ``bean-check`` is the model.)

Each check is a function that reads files itself and returns its problems as values, so one
damaged file never hides the others: the Store refuses a damaged book at the first problem, this
lists them all. Every problem starts with the file it is about.

- the book: ``crm.json`` and ``opportunity.json`` (plus the journal's changes not folded in yet)
  parse, hold only known tables, and every record's key and id agree and fit its schema; links
  point at records that exist; no email is recorded twice (the same Message-ID);
- ``journal.jsonl`` and ``events.jsonl``: every line a JSON object, no torn last line;
- ``index.sqlite``: when it says it reflects the files, it does;
- the other files (settings, chat, daemon, Gmail, imports, sign-ins): each reads as what it should
  be, and ``default_phone_region`` is a region phone numbers are read in;
- the agent's own files, through the checks it passes in: ``pending.json`` fits its schema, every
  open action can run and none was left running by a dead process; each notification reads;
- permissions: nothing in the data dir is open to other users.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import phonenumbers

from backoffice.tools.book.datafiles import read_object
from backoffice.tools.book.schemas import LAYOUT, TABLES, problems
from backoffice.tools.errors import BackofficeError

Problems = list[str]
Book = dict[str, dict[str, Any]]  # table -> key -> document

LINKS = {
    "contacts": {"company_id": "companies", "merged_into": "contacts"},
    "companies": {"primary_contact_id": "contacts"},
    "leads": {"contact_id": "contacts", "company_id": "companies", "converted_opportunity_id": "opportunities"},
    "interactions": {"contact_id": "contacts", "lead_id": "leads", "opportunity_id": "opportunities"},
    "opportunities": {"contact_id": "contacts", "lead_id": "leads", "company_id": "companies"},
    "qualifications": {"lead_id": "leads"},
    "source_spend": {},
}
SHOWN = 20  # problems of one kind listed before the rest are counted


Checker = Callable[[Path], Problems]


def check_data_dir(directory: Path, more: Sequence[Checker] = (), database: tuple[str, Book] | None = None) -> Problems:
    """Every problem in the data dir, each a sentence starting with the file it is about. ``more``
    are the agent's checks of its own files (pending actions, notifications): the domain does not
    know their rules. ``database``: the book is in PostgreSQL (its address as shown, its records),
    so its records are checked instead of files that are not the book."""
    found: Problems = []
    if database is not None:
        found += check_records(directory, database[1], where=database[0])
    else:
        book, book_problems = read_book(directory)
        found += book_problems
        if book is not None:
            found += check_records(directory, book)
            found += check_index(directory, book)
    found += check_files(directory, more)
    found += _permissions(directory)
    return found


def check_files(directory: Path, more: Sequence[Checker] = ()) -> Problems:
    """The files beside the book and the logs (``doctor`` shows these too)."""
    found: Problems = []
    for check in (_events, _settings, _playbook, _small_files, *more):
        found += check(directory)
    return found


# ---------------------------------------------------------------------------- the book
def read_book(directory: Path) -> tuple[Book | None, Problems]:
    """The records as the files and the journal hold them; None when a file cannot be read at all."""
    found: Problems = []
    book: Book = {table: {} for table in TABLES}
    readable = True
    for name, tables in LAYOUT.items():
        data, problem = _snapshot(directory / name)
        if problem:
            found.append(problem)
            readable = False
            continue
        for table, content in (data or {}).items():
            where = f"{directory / name}: table {table!r}"
            if not isinstance(content, dict):
                found.append(f"{where} is not an object")
            elif table not in tables:
                if content:
                    found.append(f"{where} is not one of backoffice's ({', '.join(tables)}); it holds "
                                 f"{len(content)} record(s) that no command reads")  # fmt: skip
            else:
                book[table] = dict(content)
    journal, journal_problems = _journal(directory)
    found += journal_problems
    for table, key, doc in journal:
        if table in book:
            book[table][key] = doc
        else:
            found.append(f"{directory / 'journal.jsonl'}: a change to unknown table {table!r}")
    return (book if readable else None), found


def _snapshot(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except IsADirectoryError:
        return None, f"{path} is a folder, not a file"
    except OSError as exc:
        return None, f"{path} cannot be read ({exc.strerror})"
    if not raw.strip():
        return None, f"{path} is empty ({len(raw)} bytes): the book in it is gone"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"{path} is not UTF-8 (byte {exc.start})"
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, f"{path} does not parse ({exc})"
    if not isinstance(data, dict):
        return None, f"{path} holds a {type(data).__name__}, not a TinyDB database (an object of tables)"
    return data, None


def _journal(directory: Path) -> tuple[list[tuple[str, str, Any]], Problems]:
    path = directory / "journal.jsonl"
    ops: list[tuple[str, str, Any]] = []
    found: Problems = []
    lines = _lines(path, found)
    if lines is None:
        return ops, found
    for number, line in lines:
        try:
            raw = orjson.loads(line)
            if number == 1:
                if not isinstance(raw, dict) or not raw.get("journal"):
                    raise ValueError("it does not start with the journal's header")
                continue
            ops.extend((str(t), str(k), d) for t, k, d in raw["ops"])
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            found.append(f"{path}: line {number} is not a journal entry ({exc}); no command can read the book")
            break
    return ops, found


def _lines(path: Path, found: Problems) -> Iterator[tuple[int, bytes]] | None:
    """The complete lines of a JSON-lines file; a torn last line is a problem of its own."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        found.append(f"{path} is a folder, not a file")
        return None
    except OSError as exc:
        found.append(f"{path} cannot be read ({exc.strerror})")
        return None
    complete, _, torn = raw.rpartition(b"\n")
    if torn.strip():
        found.append(
            f"{path}: the last line is torn ({len(torn)} bytes without an end: a write was cut off); the next "
            "change cuts it off"
        )
    return ((n, line) for n, line in enumerate(complete.split(b"\n"), start=1) if complete or n > 1)


def check_records(directory: Path, book: Book, where: str | None = None) -> Problems:
    """Schemas, ids, links and emails recorded twice; ``where`` names the database holding them."""
    found: Problems = []

    def place(file: str) -> str:
        return where or str(directory / file)

    ids: dict[str, set[str]] = {}
    for table, (file, _, id_field, prefix, noun) in TABLES.items():
        ids[table] = set()
        for key, doc in book[table].items():
            at = f"{place(file)}: {table} record {key!r}"
            if not isinstance(doc, dict):
                found.append(f"{at} is not an object")
                continue
            record_id = doc.get(id_field)
            if not (str(key).isascii() and str(key).isdigit()) or len(str(key)) > 15:
                found.append(f"{at}: record keys are numbers")
            elif record_id is None:
                found.append(f"{at} has no {id_field} (it should be {prefix}-{int(key)})")
            elif record_id != f"{prefix}-{int(key)}":
                found.append(f"{at} has {id_field} {record_id!r}, which should be {prefix}-{int(key)}")
            label = record_id if isinstance(record_id, str) else f"{noun} {key!r}"
            found += [f"{place(file)}: {label}: {p}" for p in problems(table, doc)]
            if isinstance(record_id, str):
                ids[table].add(record_id)
    for table, links in LINKS.items():
        file, _, id_field = TABLES[table][:3]
        for doc in book[table].values():
            if not isinstance(doc, dict):
                continue
            for link, target in links.items():
                ref = doc.get(link)
                if ref and ref not in ids[target]:
                    found.append(f"{place(file)}: {doc.get(id_field)}: {link} points at {ref}, which does not exist")
    by_message: dict[str, list[str]] = defaultdict(list)
    for doc in book["interactions"].values():
        if isinstance(doc, dict) and doc.get("message_id"):
            by_message[str(doc["message_id"])].append(str(doc.get("interaction_id")))
    for message_id, same in by_message.items():
        if len(same) > 1:
            found.append(
                f"{place('crm.json')}: the email {message_id} is recorded {len(same)} times "
                f"({', '.join(sorted(same))}); one email should be one interaction"
            )
    return found


# ---------------------------------------------------------------------------- the index
def check_index(directory: Path, book: Book) -> Problems:
    """When the index says it reflects the files as they are now, it must hold what they hold. (An
    index that is behind is normal: the next command brings it up to date.)"""
    path = directory / "index.sqlite"
    if not path.is_file():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            meta = {
                name: orjson.loads(value)
                for name, value in db.execute("SELECT name, value FROM meta WHERE name IN ('snapshots', 'journal')")
            }
            if meta.get("snapshots") != _sigs(directory) or meta.get("journal") != _journal_position(directory):
                return []
            stored = {
                table: {str(key): orjson.loads(doc) for key, doc in db.execute(f"SELECT key, doc FROM t_{table}")}
                for table in TABLES
            }
    except (sqlite3.Error, ValueError, AttributeError):
        return []  # an unreadable index is rebuilt from the files by the next command: not a problem
    found: Problems = []
    for table in TABLES:
        files, index = book[table], stored[table]
        differ = sorted(k for k in set(files) | set(index) if files.get(k) != index.get(k))
        if differ:
            shown = ", ".join(differ[:5]) + ("…" if len(differ) > 5 else "")
            found.append(
                f"{path}: {len(differ)} {table} record(s) differ from the files (keys {shown}); delete index.sqlite "
                "and the next command rebuilds it from the files"
            )
    return found


def _sigs(directory: Path) -> dict[str, list[int] | None]:
    out: dict[str, list[int] | None] = {}
    for name in LAYOUT:
        try:
            st = os.stat(directory / name)
            out[name] = [st.st_ino, st.st_size, st.st_mtime_ns]
        except FileNotFoundError:
            out[name] = None
    return out


def _journal_position(directory: Path) -> list[Any]:
    path = directory / "journal.jsonl"
    try:
        with open(path, "rb") as handle:
            st = os.fstat(handle.fileno())
            first = handle.readline()
    except FileNotFoundError:
        return [None, None, 0]
    token = orjson.loads(first).get("journal") if first.endswith(b"\n") else None
    return [st.st_ino, token, st.st_size]


# ---------------------------------------------------------------------------- the other files
def _events(directory: Path) -> Problems:
    path = directory / "events.jsonl"
    found: Problems = []
    lines = _lines(path, found)
    if lines is None:
        return found
    bad = []
    for number, line in lines:
        try:
            if not isinstance(orjson.loads(line), dict):
                bad.append(number)
        except orjson.JSONDecodeError:
            bad.append(number)
    if bad:
        shown = ", ".join(map(str, bad[:10])) + ("…" if len(bad) > 10 else "")
        found.append(f"{path}: {len(bad)} line(s) are not events (line {shown}); the audit log skips them")
    return found


def _settings(directory: Path) -> Problems:
    from backoffice.tools.book.settings import load_settings

    try:
        settings = load_settings(directory)
    except BackofficeError as exc:
        return [str(exc)]
    region = settings.default_phone_region
    if region not in phonenumbers.SUPPORTED_REGIONS:
        return [
            f"{directory / 'settings.json'}: default_phone_region {region!r} is not a region phone numbers can be "
            "read in (use a two-letter country code such as US, GB, DE); phone numbers without a country code "
            "are not matched"
        ]
    return []


def _playbook(directory: Path) -> Problems:
    """``playbook.json``, when there is one: how leads are qualified, classed, scored and staged."""
    from backoffice.tools.book.playbook import load_playbook

    try:
        load_playbook(directory)
    except BackofficeError as exc:
        return [str(exc)]
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{directory / 'playbook.json'} cannot be read: {exc}"]
    return []


def _is_list_of_str(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


# file -> (what it holds, a check of its fields returning a problem or None)
SMALL_FILES: dict[str, tuple[str, Callable[[dict[str, Any]], str | None]]] = {
    "chat_state.json": (
        "which reports the chat has shown you",
        lambda d: None if _is_list_of_str(d.get("seen_reports", [])) else "seen_reports is not a list of ids",
    ),
    "daemon.json": ("what the daemon did last", lambda d: None),
    "gmail.json": ("which Gmail messages were read", lambda d: None),
    "imports.json": (
        "the files you imported",
        lambda d: None if all(isinstance(v, dict) for v in d.values()) else "an entry is not an object",
    ),
    "gmail.token.json": ("the Gmail sign-in", lambda d: None),
    "quickbooks.token.json": (
        "the QuickBooks sign-in",
        lambda d: (
            None
            if all(isinstance(d.get(k), str) for k in ("client_id", "client_secret", "realm_id"))
            else "client_id, client_secret or realm_id is missing"
        ),
    ),
}


def _small_files(directory: Path) -> Problems:
    found: Problems = []
    for name, (what, fields) in SMALL_FILES.items():
        try:
            data = read_object(directory / name, what)
        except BackofficeError as exc:
            found.append(str(exc))
            continue
        if data is not None and (problem := fields(data)):
            found.append(f"{directory / name}: {problem}")
    return found


def _permissions(directory: Path) -> Problems:
    """Everything in the data dir is the owner's only: names, phones, sign-ins (POSIX)."""
    if os.name != "posix" or not directory.is_dir():
        return []
    found: Problems = []
    for path in [directory, *_walk(directory)]:
        try:
            mode = path.lstat().st_mode
        except OSError:
            continue
        if stat.S_ISLNK(mode) or not mode & 0o077:
            continue
        kind = "folder" if stat.S_ISDIR(mode) else "file"
        found.append(
            f"{path}: this {kind} can be read or changed by other users of this computer "
            f"(permissions {stat.S_IMODE(mode):o}); `chmod {'700' if kind == 'folder' else '600'}` it"
        )
    return found[:SHOWN] + ([f"{directory}: … and {len(found) - SHOWN} more with loose permissions"]
                            if len(found) > SHOWN else [])  # fmt: skip


def _walk(directory: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if d != "procedures"]  # the owner's own files, shared as they like
        for name in [*dirs, *files]:
            yield Path(root) / name
