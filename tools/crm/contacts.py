"""Contacts and companies: find, create (never a silent duplicate), update."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from backoffice.tools.book.models import LifecycleStage, PreferredChannel
from backoffice.tools.book.normalize import (
    email_key,
    email_normal,
    fold,
    full_name,
    phone_display,
    phone_e164,
    split_name,
)
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.errors import Ambiguous, InvalidRecord, NotFound
from backoffice.tools.registry import ToolInput, tool


def contact_card(store: Store, contact: Doc) -> Doc:
    """The short form of a contact that tools return."""
    region = store.settings.default_phone_region
    return {
        "contact_id": contact["contact_id"],
        "name": full_name(contact),
        "phone": phone_display((contact.get("phones") or [None])[0], region) or None,
        "email": (contact.get("emails") or [None])[0],
        "address": contact.get("address"),
        "lifecycle_stage": contact.get("lifecycle_stage"),
        "company_id": contact.get("company_id"),
        "archived": contact.get("archived", False),
    }


# ---------------------------------------------------------------------------- finding
LOOKS_LIKE_PHONE = re.compile(r"\+?[\d\s().\-/]+(?:\s*(?:x|ext\.?)\s*\d+)?", re.I)  # a name with digits is not


class FindContactsInput(ToolInput):
    query: str | None = Field(default=None, description="a name, phone number or email, as the owner said it")
    name: str | None = Field(default=None, description="search by name only")
    phone: str | None = Field(default=None, description="search by phone only, any format")
    email: str | None = Field(default=None, description="search by email only, any case")
    include_archived: bool = Field(default=False, description="also return archived contacts")
    limit: int = Field(default=10, ge=1, le=100, description="at most this many results")


def find_contact_docs(store: Store, args: FindContactsInput) -> list[tuple[Doc, str]]:
    """Matches with the reason each matched, best first."""
    found: dict[str, tuple[Doc, str]] = {}

    def add(docs: list[Doc], why: str) -> None:
        for doc in docs:
            if doc.get("archived") and not args.include_archived:
                continue
            found.setdefault(doc["contact_id"], (doc, why))

    query = (args.query or "").strip()
    email = args.email or (query if "@" in query else None)
    phone = args.phone or (
        query if LOOKS_LIKE_PHONE.fullmatch(query) and sum(c.isdigit() for c in query) >= 7 else None
    )
    name = args.name or (query if query and not email and not phone else None)
    if email:
        add(store.contacts_by_email(email), "same email")
    if phone:
        add(store.contacts_by_phone(phone), "same phone")
    if name:
        add(exact_name_matches(store, name), "same name")
        add(store.search_tokens("contacts", name), "name matches")
    return list(found.values())[: args.limit]


def exact_name_matches(store: Store, name: str) -> list[Doc]:
    target = fold(name)
    return [d for d in store.search_tokens("contacts", name) if fold(full_name(d)) == target]


@tool("read")
def find_contacts(store: Store, args: FindContactsInput) -> dict[str, Any]:
    """Find contacts by name, phone or email. Phones match in any format ("(555) 123-4567" equals
    "+1 555 123 4567"); emails match regardless of case; a name matches on every word given."""
    matches = find_contact_docs(store, args)
    return {"contacts": [{**contact_card(store, d), "matched_by": why} for d, why in matches]}


def resolve_contact(store: Store, ref: str) -> Doc:
    """A contact from an id, phone, email or name; NotFound or Ambiguous otherwise."""
    ref = ref.strip()
    if ref.upper().startswith("C-") and ref[2:].isdigit():
        return store.require("contacts", ref)
    matches = find_contact_docs(store, FindContactsInput(query=ref, limit=20))
    exact = [d for d, why in matches if why != "name matches"]
    pool = exact or [d for d, _ in matches]
    if not pool:
        raise NotFound(f"No contact matches {ref!r}.")
    if len(pool) > 1:
        raise Ambiguous(
            f"{len(pool)} contacts match {ref!r}: "
            + "; ".join(f"{full_name(d)} ({d['contact_id']})" for d in pool[:6])
            + ". Which one?",
            [contact_card(store, d) for d in pool],
        )
    return pool[0]


# ---------------------------------------------------------------------------- creating
class CreateContactInput(ToolInput):
    name: str | None = Field(default=None, description="full name; or give first_name/last_name")
    first_name: str | None = Field(default=None, description="first name, when not given as name")
    last_name: str | None = Field(default=None, description="last name, when not given as name")
    phone: str | None = Field(default=None, description="the phone number as the owner said it; stored in E.164")
    email: str | None = Field(default=None, description="the email address")
    address: str | None = Field(default=None, description="service address: where the work happens")
    company_id: str | None = Field(default=None, description="the company they work for, a company id, like CO-1")
    source: str | None = Field(default=None, description="how they heard about the business")
    preferred_channel: PreferredChannel | None = Field(
        default=None, description="how they like to be reached: phone | email | sms"
    )
    lifecycle_stage: LifecycleStage = Field(
        default="prospect", description="prospect (default) | customer | past_customer"
    )
    tags: list[str] = Field(default_factory=list, description="free labels, e.g. ['maintenance_contract']")
    notes: str = Field(default="", description="free notes about the person")


def checked_phone(store: Store, raw: str, label: str) -> str:
    """``raw`` in E.164, or InvalidRecord naming ``label`` if it is not a phone number."""
    phone = phone_e164(raw, store.settings.default_phone_region)
    if not phone:
        raise InvalidRecord(label, [f"phone {raw!r} is not a phone number"])
    return phone


def checked_email(raw: str, label: str) -> str:
    email = email_normal(raw)
    if not email:
        raise InvalidRecord(label, [f"email {raw!r} is not an email address"])
    return email


def _contact_fields(store: Store, args: CreateContactInput) -> Doc:
    first, last = args.first_name, args.last_name
    if args.name and not (first or last):
        first, last = split_name(args.name)
    phone = checked_phone(store, args.phone, "New contact") if args.phone else None
    email = checked_email(args.email, "New contact") if args.email else None
    return {
        "first_name": (first or "").strip(),
        "last_name": (last or "").strip(),
        "phones": [phone] if phone else [],
        "emails": [email] if email else [],
        "address": args.address,
        "company_id": args.company_id,
        "source": args.source,
        "preferred_channel": args.preferred_channel,
        "lifecycle_stage": args.lifecycle_stage,
        "tags": args.tags,
        "notes": args.notes,
        "archived": False,
    }


def duplicate_matches(store: Store, phone: str | None, email: str | None, name: str | None) -> list[Doc]:
    query = FindContactsInput(phone=phone, email=email, limit=20, include_archived=False)
    matches = find_contact_docs(store, query) if (phone or email) else []
    seen = {d["contact_id"] for d, _ in matches}
    out = [{**contact_card(store, d), "matched_by": why} for d, why in matches]
    if name:
        for d in exact_name_matches(store, name):
            if d["contact_id"] not in seen and not d.get("archived"):
                out.append({**contact_card(store, d), "matched_by": "same name"})
    return out


@tool("write")
def create_contact(store: Store, args: CreateContactInput) -> dict[str, Any]:
    """Add a person to the customer book. Checks for an existing contact with the same phone, email or
    name first: if one exists nothing is created and the match is returned, so the owner can choose to
    use it, merge, or create a separate contact anyway (create_contact_anyway, needs the owner's yes)."""
    fields = _contact_fields(store, args)
    name = f"{fields['first_name']} {fields['last_name']}".strip() or None
    with store.transaction():
        matches = duplicate_matches(store, args.phone, args.email, name)
        if matches:
            first = matches[0]
            return {
                "created": False,
                "duplicates": matches,
                "message": (
                    f"Not added: {first['name']} ({first['contact_id']}) already has the {first['matched_by'][5:]}. "
                    "Use that contact, or ask the owner whether to create a separate one."
                ),
            }
        contact = store.insert("contacts", fields)
    card = contact_card(store, contact)
    return {"created": True, "contact": card, "message": f"Added {card['name']} ({card['contact_id']}) as a prospect."}


def _preview_anyway(store: Store, args: dict[str, Any]) -> tuple[str, str]:
    fields = _contact_fields(store, CreateContactInput.model_validate(args))
    name = f"{fields['first_name']} {fields['last_name']}".strip() or "(no name)"
    matches = duplicate_matches(store, args.get("phone"), args.get("email"), name)
    lines = [f"New contact: {name}, {args.get('phone') or 'no phone'}, {args.get('email') or 'no email'}."]
    for m in matches[:5]:
        lines.append(f"Already in the book: {m['name']} ({m['contact_id']}) — {m['matched_by']}.")
    lines.append("Say yes only if this is a different person.")
    return f"Add {name} as a separate contact", "\n".join(lines)


@tool("consequential", preview=_preview_anyway)
def create_contact_anyway(store: Store, args: CreateContactInput) -> dict[str, Any]:
    """Create a contact even though create_contact found a possible duplicate. Only when the owner has
    said the match is a different person."""
    contact = store.insert("contacts", _contact_fields(store, args))
    card = contact_card(store, contact)
    return {
        "created": True,
        "contact": card,
        "message": f"Added {card['name']} ({card['contact_id']}) as a separate contact.",
    }


# ---------------------------------------------------------------------------- updating
class UpdateContactInput(ToolInput):
    contact_id: str = Field(description="a contact id, like C-12")
    first_name: str | None = Field(default=None, description="the corrected first name")
    last_name: str | None = Field(default=None, description="the corrected last name")
    phone: str | None = Field(default=None, description="becomes the primary phone; older ones are kept")
    email: str | None = Field(default=None, description="becomes the primary email; older ones are kept")
    address: str | None = Field(default=None, description="the new service address")
    company_id: str | None = Field(default=None, description="the company they work for, a company id, like CO-1")
    preferred_channel: PreferredChannel | None = Field(default=None, description="phone | email | sms")
    lifecycle_stage: LifecycleStage | None = Field(default=None, description="prospect | customer | past_customer")
    source: str | None = Field(default=None, description="how they heard about the business")
    add_tags: list[str] = Field(
        default_factory=list, description="labels to add, e.g. ['commercial']; existing tags stay"
    )
    append_note: str | None = Field(default=None, description="added to the running notes with today's date")
    archived: bool | None = Field(default=None, description="archive hides a contact from lists; nothing is deleted")


@tool("write")
def update_contact(store: Store, args: UpdateContactInput) -> dict[str, Any]:
    """Change a contact's details. Phones and emails given become primary; the old ones are kept."""
    region = store.settings.default_phone_region
    with store.transaction():
        contact = store.require("contacts", args.contact_id)
        changes: Doc = {}
        for field in (
            "first_name",
            "last_name",
            "address",
            "company_id",
            "preferred_channel",
            "lifecycle_stage",
            "source",
            "archived",
        ):
            value = getattr(args, field)
            if value is not None:
                changes[field] = value
        if args.phone:
            phone = checked_phone(store, args.phone, f"Contact {args.contact_id}")
            changes["phones"] = [phone] + [p for p in contact.get("phones", []) if phone_e164(p, region) != phone]
        if args.email:
            email = checked_email(args.email, f"Contact {args.contact_id}")
            changes["emails"] = [email] + [e for e in contact.get("emails", []) if email_key(e) != email_key(email)]
        if args.add_tags:
            changes["tags"] = list(dict.fromkeys([*contact.get("tags", []), *args.add_tags]))
        if args.append_note:
            stamp = store.today().isoformat()
            notes = contact.get("notes") or ""
            changes["notes"] = (notes + "\n" if notes else "") + f"{stamp}: {args.append_note.strip()}"
        updated = store.update("contacts", args.contact_id, changes)
    card = contact_card(store, updated)
    return {"contact": card, "changed": sorted(changes), "message": f"Updated {card['name']}."}
