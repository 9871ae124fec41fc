"""Taking the book out: every field of every record, as CSV (for a spreadsheet or another CRM)
or JSON. A contacts or leads export imports back: into the same book it changes nothing, into an
empty one it recreates the people, companies and leads."""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from backoffice.tools.book.models import RECORD_MODELS
from backoffice.tools.book.normalize import full_name
from backoffice.tools.book.schemas import TABLES
from backoffice.tools.book.storage import atomic_write_bytes
from backoffice.tools.book.store import Doc, Store, key_of
from backoffice.tools.bulk.tabular import write_csv
from backoffice.tools.errors import BadInput

KINDS = {
    "contacts": "contacts",
    "leads": "leads",
    "opportunities": "opportunities",
    "jobs": "opportunities",
    "interactions": "interactions",
}
# Columns that name what an id points at, so the file reads on its own (and re-imports by name).
READABLE = {
    "contacts": {"company_id": ["company"]},
    "leads": {"contact_id": ["contact_name", "contact_phone", "contact_email"], "company_id": ["company"]},
    "opportunities": {"contact_id": ["contact_name"], "company_id": ["company"]},
    "interactions": {"contact_id": ["contact_name"]},
}


def export_records(store: Store, kind: str) -> tuple[list[str], list[Doc]]:
    """The columns and the rows of ``kind``: every stored field, plus readable names beside ids."""
    table = KINDS[kind]
    model = RECORD_MODELS[table]
    with store.reading():
        docs = [dict(d) for d in store.scan(table)]
        contacts = {d["contact_id"]: d for d in store.scan("contacts")}
        companies = {c["company_id"]: c["name"] for c in store.scan("companies")}
    id_field = TABLES[table][2]
    docs.sort(key=lambda d: int(key_of(table, d[id_field])))
    columns: list[str] = []
    for name in model.model_fields:
        if name not in columns:
            columns.append(name)
        columns += READABLE[table].get(name, [])
    for doc in docs:  # leads keep fields we do not model (imported_from, …): they go out too
        columns += [k for k in doc if k not in columns]
    columns.remove("created_at")
    columns.remove("updated_at")
    columns += ["created_at", "updated_at"]
    for doc in docs:
        contact = contacts.get(doc.get("contact_id") or "")
        if "contact_name" in columns:
            doc["contact_name"] = full_name(contact) if contact else ""
        if "contact_phone" in columns:
            doc["contact_phone"] = (contact.get("phones") or [""])[0] if contact else ""
            doc["contact_email"] = (contact.get("emails") or [""])[0] if contact else ""
        if "company" in columns:
            doc["company"] = companies.get(doc.get("company_id") or "", "")
    return columns, docs


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def export(store: Store, kind: str, path: Path | None, as_json: bool = False) -> tuple[int, bytes]:
    """Write the export to ``path`` (see ``write_to``; None: only return it). Returns (records, bytes)."""
    columns, docs = export_records(store, kind)
    if as_json:
        payload = orjson.dumps(docs, option=orjson.OPT_INDENT_2) + b"\n"
    else:
        payload = write_csv(None, columns, ([_cell(doc.get(c)) for c in columns] for doc in docs))
    if path is not None:
        write_to(path, payload)
    return len(docs), payload


def write_all(out: BinaryIO, payload: bytes) -> None:
    """Every byte of ``payload`` into ``out``. A pipe may take part of a large write and say how
    much; the rest goes on, or BrokenPipeError once the reader has gone (``| head``)."""
    data = memoryview(payload)
    while data:
        written = out.write(data)
        data = data[len(data) if written is None else written :]


def write_to(path: Path, payload: bytes) -> bool:
    """Write ``payload`` to ``path``; True when it went into a stream rather than a file.

    A file is replaced atomically (a crash leaves the old one or the new one; a symlink keeps
    pointing where it did). Anything else, /dev/stdout, a FIFO, a terminal, is written to as it is
    and never replaced by a file; it gets no byte-order mark, which is only for Excel opening a file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise BadInput("Cannot export", [f"{path}: {exc.strerror}"]) from exc
    try:
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise BadInput("Cannot export", [f"{path} is a folder; give a file name, e.g. {path / 'contacts.csv'}"])
        if st is not None and (not stat.S_ISREG(st.st_mode) or _through_the_system(path)):
            with open(path, "ab") as handle:  # append: a `>>` redirection keeps what it held
                write_all(handle, payload if stat.S_ISREG(st.st_mode) else payload.removeprefix(codecs.BOM_UTF8))
            return True
        folder = path.absolute().parent
        if not folder.is_dir():
            raise BadInput("Cannot export", [f"there is no folder {folder}; create it, or write somewhere else"])
        atomic_write_bytes(path.resolve(), payload)
        return False
    except BrokenPipeError:  # the reader of a stream left (| head): the command line ends quietly
        raise
    except OSError as exc:
        raise BadInput("Cannot export", [f"{path}: {exc.strerror or exc}"]) from exc


def _through_the_system(path: Path) -> bool:
    # /dev/stdout (or /dev/fd/1, /proc/self/fd/1) while the shell sends stdout to a file: write
    # through it, so the shell's `>` or `>>` gets the bytes, rather than swapping the file under it
    return path.absolute().parts[1:2] in (("dev",), ("proc",))
