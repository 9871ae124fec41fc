"""``backoffice check``: every record validated against its schema, and links that point nowhere."""

from __future__ import annotations

from backoffice.tools.book.schemas import TABLES, problems
from backoffice.tools.book.store import Store, key_of

LINKS = {
    "contacts": {"company_id": "companies", "merged_into": "contacts"},
    "companies": {"primary_contact_id": "contacts"},
    "leads": {"contact_id": "contacts", "company_id": "companies", "converted_opportunity_id": "opportunities"},
    "interactions": {"contact_id": "contacts", "lead_id": "leads", "opportunity_id": "opportunities"},
    "opportunities": {"contact_id": "contacts", "lead_id": "leads", "company_id": "companies"},
}


def check_book(store: Store) -> list[str]:
    found: list[str] = []
    with store.reading() as tables:
        for table, docs in tables.items():
            id_field = TABLES[table][2]
            for key, doc in docs.items():
                label = doc.get(id_field) or f"{table} #{key}"
                for problem in problems(table, doc):
                    found.append(f"{label}: {problem}")
                for field, target in LINKS[table].items():
                    ref = doc.get(field)
                    if ref and key_of_safe(target, ref) not in tables.get(target, {}):
                        found.append(f"{label}: {field} points at {ref}, which does not exist")
    return found


def key_of_safe(table: str, ref: str) -> str | None:
    try:
        return key_of(table, ref)
    except Exception:
        return None
