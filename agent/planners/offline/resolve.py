"""Finding the record the owner means, loosely: ids, phones, emails, names with typos, lead titles,
street names. Returns candidates; the offline planner asks when there is more than one."""

from __future__ import annotations

from backoffice.agent.planners.offline.understand import clean_ref
from backoffice.tools.book.models import OPEN_LEAD_STATUSES, OPEN_OPPORTUNITY_STAGES
from backoffice.tools.book.normalize import fold
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.crm.contacts import FindContactsInput, find_contact_docs
from backoffice.tools.crm.leads import FindLeadsInput, find_lead_docs
from backoffice.tools.crm.opportunities import FindOpportunitiesInput, find_opportunity_docs


def contacts(store: Store, ref: str) -> list[Doc]:
    ref = clean_ref(ref)
    if not ref:
        return []
    if ref.upper().startswith("C-") and ref[2:].isdigit():
        doc = store.get("contacts", ref.upper())
        return [doc] if doc else []
    matches = find_contact_docs(store, FindContactsInput(query=ref, limit=20))
    exact = [d for d, why in matches if why != "name matches"]
    if exact or matches:
        return exact or [d for d, _ in matches]
    return _fuzzy_contacts(store, ref)


def _fuzzy_contacts(store: Store, ref: str) -> list[Doc]:
    """Typos and partial names ('Dana Reys', 'reyes') and street names: near-certain matches alone
    when there are any, else the best few to choose from."""
    scored = store.contacts_like(ref)
    if scored and scored[0][0] >= 95:
        return [d for s, d in scored if s >= 95]
    return [d for _, d in scored]


def leads(store: Store, ref: str, statuses: tuple[str, ...] = OPEN_LEAD_STATUSES) -> list[Doc]:
    raw = ref.strip().rstrip("?.!")
    if raw.upper().startswith("L-") and raw[2:].isdigit():
        doc = store.get("leads", raw.upper())
        return [doc] if doc else []
    ref = clean_ref(raw)
    if not ref:
        return []
    found = find_lead_docs(store, FindLeadsInput.model_validate({"query": ref, "status": list(statuses), "limit": 20}))
    if not found:
        for contact in contacts(store, ref):
            found.extend(
                d for d in store.linked("leads", "contact_id", contact["contact_id"]) if d["status"] in statuses
            )
    return _best_first(found, ref, "title")


def opportunities(store: Store, ref: str, open_only: bool = True) -> list[Doc]:
    raw = ref.strip().rstrip("?.!")
    if raw.upper().startswith("O-") and raw[2:].isdigit():
        doc = store.get("opportunities", raw.upper())
        return [doc] if doc else []
    ref = clean_ref(raw)
    if not ref:
        return []
    found = find_opportunity_docs(store, FindOpportunitiesInput(query=ref, open_only=open_only, limit=20))
    if not found:
        for contact in contacts(store, ref):
            found.extend(
                o
                for o in store.linked("opportunities", "contact_id", contact["contact_id"])
                if not open_only or o["stage"] in OPEN_OPPORTUNITY_STAGES
            )
    return _best_first(found, ref, "name")


def _best_first(docs: list[Doc], ref: str, field: str) -> list[Doc]:
    unique = list({d.get("lead_id") or d.get("opportunity_id"): d for d in docs}.values())
    target = fold(ref)
    exact = [d for d in unique if target and target in fold(d.get(field, ""))]
    return exact if len(exact) == 1 else unique
