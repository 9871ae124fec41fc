"""``backoffice check``: every record validated against its schema, and links that point nowhere."""

from __future__ import annotations

from backoffice.tools.book.schemas import TABLES, problems
from backoffice.tools.book.store import Store
from backoffice.tools.errors import NotFound

LINKS = {
    "contacts": {"company_id": "companies", "merged_into": "contacts"},
    "companies": {"primary_contact_id": "contacts"},
    "leads": {"contact_id": "contacts", "company_id": "companies", "converted_opportunity_id": "opportunities"},
    "interactions": {"contact_id": "contacts", "lead_id": "leads", "opportunity_id": "opportunities"},
    "opportunities": {"contact_id": "contacts", "lead_id": "leads", "company_id": "companies"},
    "qualifications": {"lead_id": "leads"},
    "source_spend": {},
}


def check_book(store: Store) -> list[str]:
    found: list[str] = []
    with store.reading():
        for table in TABLES:
            id_field = TABLES[table][2]
            for doc in store.scan(table):
                label = doc.get(id_field) or f"a {TABLES[table][4]} without an id"
                for problem in problems(table, doc):
                    found.append(f"{label}: {problem}")
                for field, target in LINKS[table].items():
                    ref = doc.get(field)
                    if ref and not _exists(store, target, ref):
                        found.append(f"{label}: {field} points at {ref}, which does not exist")
    return found


def _exists(store: Store, table: str, ref: str) -> bool:
    try:
        return store.get(table, ref) is not None
    except NotFound:  # not even an id of that kind
        return False
