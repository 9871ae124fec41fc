"""Merging duplicate contacts into one (consequential: only with the owner's yes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from backoffice.tools.book.normalize import email_key, fold, full_name, phone_display, phone_e164
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.crm.duplicates import LIFECYCLE_RANK, history_size
from backoffice.tools.errors import BadInput
from backoffice.tools.registry import ToolInput, tool

# ---------------------------------------------------------------------------- merging
SCALARS = ("first_name", "last_name", "company_id", "address", "preferred_channel", "source", "quickbooks_customer_id")
LABELS = {
    "first_name": "first name",
    "last_name": "last name",
    "company_id": "company",
    "address": "address",
    "preferred_channel": "preferred channel",
    "source": "source",
    "quickbooks_customer_id": "QuickBooks customer",
    "lifecycle_stage": "lifecycle",
}


class MergeContactsInput(ToolInput):
    keep: str = Field(description="the contact id to keep (the master record), e.g. C-1")
    merge: list[str] = Field(min_length=1, description="contact ids to fold into it; they are archived, never deleted")
    take: dict[str, str] = Field(
        default_factory=dict,
        description="optional field -> contact id whose value to keep, e.g. {'address': 'C-7'}; by default the "
        "kept contact's values win and its empty fields are filled from the others",
    )


@dataclass
class MergePlan:
    keep: Doc
    others: list[Doc]
    changes: Doc
    choices: dict[str, dict[str, Any]]
    moves: dict[str, list[str]]


def plan_merge(store: Store, args: MergeContactsInput) -> MergePlan:
    keep_id = args.keep.strip().upper()
    other_ids = [m.strip().upper() for m in args.merge]
    problems = []
    if keep_id in other_ids:
        problems.append(f"{keep_id} cannot be merged into itself")
    if len(set(other_ids)) != len(other_ids):
        problems.append("a contact is named twice")
    bad_take = [f for f in args.take if f not in SCALARS]
    if bad_take:
        problems.append(f"take names unknown field(s) {', '.join(bad_take)}; choose from {', '.join(SCALARS)}")
    if problems:
        raise BadInput("Cannot merge", problems)
    keep = store.require("contacts", keep_id)
    others = [store.require("contacts", oid) for oid in other_ids]
    for doc in (keep, *others):
        if doc.get("archived"):
            into = f" (merged into {doc['merged_into']})" if doc.get("merged_into") else ""
            raise BadInput("Cannot merge", [f"{doc['contact_id']} is archived{into}; only active contacts are merged"])
    everyone = {d["contact_id"]: d for d in (keep, *others)}
    for f, source in args.take.items():
        if source.strip().upper() not in everyone:
            raise BadInput("Cannot merge", [f"take[{f}] is {source}, which is not one of the contacts being merged"])

    changes: Doc = {}
    choices: dict[str, dict[str, Any]] = {}
    for f in SCALARS:
        value, source = keep.get(f), keep_id
        chosen = args.take.get(f, "").strip().upper()
        if chosen:
            value, source = everyone[chosen].get(f), chosen
        elif f == "first_name" and len(fold(value)) == 1:
            # "D." kept beside "Dana": the fuller first name with the same initial wins
            fuller = [o for o in others if fold(o.get(f)).startswith(fold(value)) and len(fold(o.get(f))) > 1]
            if fuller:
                value, source = fuller[0][f], fuller[0]["contact_id"]
        elif not value:
            filled = next((o for o in others if o.get(f)), None)
            if filled:
                value, source = filled[f], filled["contact_id"]
        if value != keep.get(f):
            changes[f] = value
        if value or source != keep_id:
            choices[f] = {"value": value, "from": source}
    region = store.settings.default_phone_region
    for f, key in (("phones", lambda x: phone_e164(x, region)), ("emails", email_key), ("tags", fold)):
        merged: list[str] = []
        seen: set[Any] = set()
        for doc in (keep, *others):
            for item in doc.get(f) or []:
                k = key(item)
                if k not in seen:
                    seen.add(k)
                    merged.append(item)
        if merged != (keep.get(f) or []):
            changes[f] = merged
            choices[f] = {"value": merged, "from": "all"}
    stage = max(
        (d.get("lifecycle_stage", "prospect") for d in everyone.values()), key=lambda s: LIFECYCLE_RANK.get(s, 0)
    )
    if stage != keep.get("lifecycle_stage"):
        changes["lifecycle_stage"] = stage
        choices["lifecycle_stage"] = {
            "value": stage,
            "from": next(i for i, d in everyone.items() if d.get("lifecycle_stage") == stage),
        }
    notes = keep.get("notes") or ""
    for o in others:
        extra = []
        if o.get("notes") and o["notes"] not in notes:
            extra.append(o["notes"])
        qb = o.get("quickbooks_customer_id")
        if qb and qb != changes.get("quickbooks_customer_id", keep.get("quickbooks_customer_id")):
            extra.append(f"also QuickBooks customer {qb}")
        if extra:
            notes = (notes + "\n" if notes else "") + f"From {full_name(o)} ({o['contact_id']}): " + "; ".join(extra)
    if notes != (keep.get("notes") or ""):
        changes["notes"] = notes

    moves: dict[str, list[str]] = {"interactions": [], "leads": [], "opportunities": [], "companies": []}
    with store.reading():
        for o in others:
            oid = o["contact_id"]
            moves["interactions"] += [d["interaction_id"] for d in store.linked("interactions", "contact_id", oid)]
            moves["leads"] += [d["lead_id"] for d in store.linked("leads", "contact_id", oid)]
            moves["opportunities"] += [d["opportunity_id"] for d in store.linked("opportunities", "contact_id", oid)]
        moves["companies"] = [
            c["company_id"] for c in store.scan("companies") if c.get("primary_contact_id") in other_ids
        ]
    return MergePlan(keep, others, changes, choices, moves)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe_merge(store: Store, plan: MergePlan) -> tuple[str, str]:
    """The title and preview the owner says yes or no to."""
    region = store.settings.default_phone_region

    def card(d: Doc) -> str:
        bits = [f"{full_name(d)} ({d['contact_id']})"]
        bits += [phone_display(p, region) for p in (d.get("phones") or [])[:2]]
        bits += (d.get("emails") or [])[:2]
        if d.get("address"):
            bits.append(d["address"])
        bits.append(_plural(history_size(store, d["contact_id"]), "linked record"))
        return " · ".join(bits)

    keep = plan.keep
    lines = [f"Keep:    {card(keep)}"]
    lines += [f"Archive: {card(o)}" for o in plan.others]
    m = plan.moves
    lines.append(
        f"Moves to {keep['contact_id']}: {_plural(len(m['interactions']), 'interaction')}, "
        f"{_plural(len(m['leads']), 'lead')}, {_plural(len(m['opportunities']), 'job')}"
        + (f", primary contact of {_plural(len(m['companies']), 'company')}" if m["companies"] else "")
        + "."
    )
    for f, choice in plan.choices.items():
        if f in ("phones", "emails", "tags"):
            shown = ", ".join(phone_display(v, region) if f == "phones" else v for v in choice["value"])
            lines.append(f"{f.capitalize()}: {shown}")
        elif choice["from"] != keep["contact_id"]:
            value = choice["value"]
            if f == "company_id" and value:
                value = (store.get("companies", value) or {}).get("name", value)
            lines.append(f"{LABELS.get(f, f).capitalize()}: {value!r} from {choice['from']}")
    ids = ", ".join(o["contact_id"] for o in plan.others)
    lines.append(
        f"Nothing is deleted: {ids} stay{'s' if len(plan.others) == 1 else ''} on file, archived and marked merged."
    )
    names = " and ".join(full_name(o) for o in plan.others)
    return f"Merge {names} into {full_name(keep)} ({keep['contact_id']})", "\n".join(lines)


def _preview(store: Store, args: dict[str, Any]) -> tuple[str, str]:
    return describe_merge(store, plan_merge(store, MergeContactsInput.model_validate(args)))


@tool("consequential", preview=_preview)
def merge_contacts(store: Store, args: MergeContactsInput) -> dict[str, Any]:
    """Merge duplicate contacts into one: every interaction, lead and job of the others moves to the
    kept contact, its empty fields are filled from theirs, phones/emails/tags are combined, and the
    others are archived (never deleted) and marked merged_into. Needs the owner's yes."""
    with store.transaction():
        plan = plan_merge(store, args)
        keep_id = plan.keep["contact_id"]
        for table, link in (("interactions", "contact_id"), ("leads", "contact_id"), ("opportunities", "contact_id")):
            for rid in plan.moves[table]:
                store.update(table, rid, {link: keep_id}, action="relinked")
        for cid in plan.moves["companies"]:
            store.update("companies", cid, {"primary_contact_id": keep_id}, action="relinked")
        if plan.changes:
            store.update("contacts", keep_id, plan.changes, action="merged")
        for o in plan.others:
            store.update("contacts", o["contact_id"], {"archived": True, "merged_into": keep_id}, action="merged_into")
        merged = [o["contact_id"] for o in plan.others]
        store.note(
            "merge",
            "contacts",
            keep_id,
            {"kept": keep_id, "merged": merged, "fields": plan.choices, "moved": plan.moves},
        )
    m = plan.moves
    folded = ", ".join(f"{full_name(o)} ({o['contact_id']})" for o in plan.others)
    kept = full_name({**plan.keep, **plan.changes})
    return {
        "kept": keep_id,
        "merged": merged,
        "moved": {k: len(v) for k, v in m.items()},
        "message": (
            f"Merged {folded} into "
            f"{kept} ({keep_id}): moved {_plural(len(m['interactions']), 'interaction')}, "
            f"{_plural(len(m['leads']), 'lead')} and {_plural(len(m['opportunities']), 'job')}. "
            f"{', '.join(merged)} {'is' if len(merged) == 1 else 'are'} archived, not deleted."
        ),
    }
