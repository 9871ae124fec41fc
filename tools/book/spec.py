"""What the book's tables index: the columns and many-valued lookups each record is found by.

Both engines keep these beside every document: the file book's ``index.sqlite`` (``index``) and
the PostgreSQL book's tables (``pgbook``, created by the SQL in ``migrations/``). A new indexed
column is declared here; PostgreSQL then needs a migration that adds it (``pgschema``; a test
compares the migrated tables with this file).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from backoffice.tools.book import clock
from backoffice.tools.book.normalize import email_key, fold, phone_e164
from backoffice.tools.book.storage import Doc

Extract = Callable[[Doc], Any]


def _utc(value: Any) -> str | None:
    """A stored timestamp as canonical UTC text, so that instants compare as strings."""
    if not value:
        return None
    text = str(value)
    if len(text) == 25 and text.endswith("+00:00"):
        return text
    try:
        return clock.stamp(clock.parse_stamp(text).astimezone(dt.UTC))
    except ValueError:
        return text


def _words(text: Any) -> set[str]:
    return set(fold(str(text or "")).split())


def _flag(value: Any) -> int:
    return 1 if value else 0


def _field(name: str) -> Extract:
    return lambda doc: doc.get(name)


@dataclass(frozen=True)
class TableSpec:
    columns: dict[str, Extract]  # one value per record, each indexed
    multi: dict[str, Callable[[Doc], Iterable[str]]]  # several values per record (words, emails)


def _fields(*names: str) -> dict[str, Extract]:
    return {n: _field(n) for n in names}


SPEC: dict[str, TableSpec] = {
    "contacts": TableSpec(
        {
            **_fields("lifecycle_stage", "merged_into", "company_id", "source_ref"),
            "archived": lambda d: _flag(d.get("archived")),
            "name": lambda d: fold(f"{d.get('first_name') or ''} {d.get('last_name') or ''}"),
            "first": lambda d: fold(d.get("first_name")),
            "last": lambda d: fold(d.get("last_name")),
            "address": lambda d: fold(d.get("address")) or None,
            "updated_at": lambda d: _utc(d.get("updated_at")),
        },
        {
            "email": lambda d: {k for e in d.get("emails") or () if (k := email_key(e))},
            "phone": lambda d: {p for x in d.get("phones") or () if (p := phone_e164(x))},
            "word": lambda d: _words(f"{d.get('first_name') or ''} {d.get('last_name') or ''}"),
        },
    ),
    "companies": TableSpec({"name": lambda d: fold(d.get("name")), **_fields("primary_contact_id")}, {}),
    "leads": TableSpec(
        {
            **_fields("status", "pipeline_stage", "contact_id", "company_id", "source", "source_ref"),
            **_fields("estimated_value", "expected_close_date", "effort_class", "score"),
            "source_key": lambda d: fold(d.get("source_detail")) or None,
            "created_at": lambda d: _utc(d.get("created_at")),
            "updated_at": lambda d: _utc(d.get("updated_at")),
            # derived from the interactions, kept by ``_touch``: the latest interaction on the lead
            # since it was created, so "gone quiet" is one indexed range, not a query per lead
            "last_ts": lambda d: None,
        },
        {"word": lambda d: _words(d.get("title"))},
    ),
    "interactions": TableSpec(
        {
            **_fields("type", "contact_id", "lead_id", "opportunity_id", "follow_up_status", "follow_up_date"),
            **_fields("message_id", "outcome"),
            "ts": lambda d: _utc(d.get("timestamp")),
        },
        {},
    ),
    "opportunities": TableSpec(
        {
            **_fields("stage", "contact_id", "lead_id", "company_id", "close_date", "amount", "expected_close_date"),
            **_fields("effort_class"),
            "created_at": lambda d: _utc(d.get("created_at")),
        },
        {"word": lambda d: _words(d.get("name"))},
    ),
    "qualifications": TableSpec(_fields("lead_id", "status", "outcome"), {}),
    "source_spend": TableSpec({"month": _field("month"), "source_key": lambda d: fold(d.get("source"))}, {}),
}
LINKED_SORT = {"interactions": "ts"}  # what "latest" means for linked records
INDEXES = {
    "contacts": ["lifecycle_stage", "company_id", "source_ref", "merged_into"],
    "companies": ["name", "primary_contact_id"],
    "leads": ["status, coalesce(last_ts, created_at)", "contact_id", "source_ref", "company_id"],
    "interactions": [
        "contact_id, ts",
        "lead_id, ts",
        "opportunity_id, ts",
        "follow_up_status, follow_up_date",
        "message_id",
    ],
    "opportunities": ["stage", "contact_id", "lead_id", "company_id"],
    "qualifications": ["lead_id"],
    "source_spend": ["source_key, month", "month"],
}
# Columns that hold numbers; every other column holds text (ids, states, folded names, and
# timestamps as canonical UTC text, which sorts as time).
NUMBERS = {"contacts": {"archived"}, "leads": {"estimated_value", "score"}, "opportunities": {"amount"}}


def indexed(table: str, column: str) -> bool:
    return column in SPEC[table].columns
