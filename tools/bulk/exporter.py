"""Taking the book out: every field of every record, as CSV (for a spreadsheet or another CRM)
or JSON. A contacts or leads export imports back: into the same book it changes nothing, into an
empty one it recreates the people, companies and leads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from backoffice.tools.book.models import RECORD_MODELS
from backoffice.tools.book.normalize import full_name
from backoffice.tools.book.schemas import TABLES
from backoffice.tools.book.storage import atomic_write_bytes
from backoffice.tools.book.store import Doc, Store, key_of
from backoffice.tools.bulk.tabular import write_csv

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
    """Write the export to ``path`` (atomically; None: only return it). Returns (records, bytes)."""
    columns, docs = export_records(store, kind)
    if as_json:
        payload = orjson.dumps(docs, option=orjson.OPT_INDENT_2) + b"\n"
        if path is not None:
            atomic_write_bytes(path, payload)
        return len(docs), payload
    rows = ([_cell(doc.get(c)) for c in columns] for doc in docs)
    return len(docs), write_csv(path, columns, rows)
