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
from backoffice.tools.crm import identity
from backoffice.tools.errors import Ambiguous, BadInput, InvalidRecord, NotFound
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
    for_lead: str | None = Field(
        default=None, description="a lead waiting for its contact (an inquiry parked as a possible duplicate)"
    )


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
    """Contacts that may be this person (``identity.matches``), as cards with ``matched_by`` and
    ``certain`` (a shared email or phone; a name alone is not)."""
    return [
        {**contact_card(store, m.contact), "matched_by": m.why, "certain": m.certain}
        for m in identity.matches(store, name, [phone], [email])
    ]


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
                    f"Not added: {first['name']} ({first['contact_id']}) may be the same person "
                    f"({first['matched_by']}). Use that contact, or ask the owner whether to create a separate one."
                ),
            }
        if args.for_lead:
            waiting_lead(store, args.for_lead)
        contact = store.insert("contacts", fields)
        if args.for_lead:
            give_lead_contact(store, args.for_lead, contact["contact_id"])
    card = contact_card(store, contact)
    return {"created": True, "contact": card, "message": f"Added {card['name']} ({card['contact_id']}) as a prospect."}


def waiting_lead(store: Store, lead_id: str) -> Doc:
    """A lead parked without a contact; BadInput once it has one (the owner settled it another way)."""
    lead = store.require("leads", lead_id)
    if lead.get("contact_id"):
        owner = store.get("contacts", lead["contact_id"])
        who = f"{full_name(owner)} ({lead['contact_id']})" if owner else lead["contact_id"]
        raise BadInput(f"Lead {lead_id}", [f"it already belongs to {who}"])
    return lead


def give_lead_contact(store: Store, lead_id: str, contact_id: str) -> None:
    """Put a parked lead, and what was logged on it, on ``contact_id``. Inside a transaction."""
    store.update("leads", lead_id, {"contact_id": contact_id})
    for item in store.linked("interactions", "lead_id", lead_id):
        if not item.get("contact_id"):
            store.update("interactions", item["interaction_id"], {"contact_id": contact_id})


def _preview_anyway(store: Store, args: dict[str, Any]) -> tuple[str, str]:
    fields = _contact_fields(store, CreateContactInput.model_validate(args))
    name = f"{fields['first_name']} {fields['last_name']}".strip() or "(no name)"
    lead = waiting_lead(store, args["for_lead"]) if args.get("for_lead") else None
    matches = duplicate_matches(store, args.get("phone"), args.get("email"), name)
    lines = [f"New contact: {name}, {args.get('phone') or 'no phone'}, {args.get('email') or 'no email'}."]
    if lead:
        lines.append(f"The inquiry {lead['lead_id']} ({lead['title']}) goes on the new contact.")
    for m in matches[:5]:
        lines.append(f"Already in the book: {m['name']} ({m['contact_id']}) — {m['matched_by']}.")
    lines.append("Say yes only if this is a different person.")
    return f"Add {name} as a separate contact", "\n".join(lines)


@tool("consequential", preview=_preview_anyway)
def create_contact_anyway(store: Store, args: CreateContactInput) -> dict[str, Any]:
    """Create a contact even though create_contact found a possible duplicate. Only when the owner has
    said the match is a different person. With for_lead, the parked inquiry goes on the new contact."""
    with store.transaction():
        if args.for_lead:
            waiting_lead(store, args.for_lead)
        contact = store.insert("contacts", _contact_fields(store, args))
        if args.for_lead:
            give_lead_contact(store, args.for_lead, contact["contact_id"])
    card = contact_card(store, contact)
    return {
        "created": True,
        "contact": card,
        "message": f"Added {card['name']} ({card['contact_id']}) as a separate contact.",
    }


class AttachInquiryInput(ToolInput):
    lead_id: str = Field(description="the inquiry parked without a contact")
    contact_id: str = Field(description="the contact the owner says sent it")


def _preview_attach(store: Store, args: dict[str, Any]) -> tuple[str, str]:
    lead = waiting_lead(store, args["lead_id"])
    contact = store.require("contacts", args["contact_id"])
    new = [x for x in (lead.get("email"), lead.get("phone")) if x and x not in _known(contact)]
    lines = [f"The inquiry {lead['lead_id']} ({lead['title']}) goes on {full_name(contact)} ({args['contact_id']})."]
    if new:
        lines.append(f"Added to {full_name(contact)}'s details: {', '.join(new)}.")
    lines.append("Say yes only if this is the same person.")
    return f"Put {lead['lead_id']} on {full_name(contact)}", "\n".join(lines)


def _known(contact: Doc) -> set[str]:
    return set(contact.get("emails") or []) | set(contact.get("phones") or [])


@tool("consequential", preview=_preview_attach)
def attach_inquiry(store: Store, args: AttachInquiryInput) -> dict[str, Any]:
    """Put an inquiry that was parked as a possible duplicate on the existing contact the owner says
    sent it, and add the email or phone it came from to that contact. Needs the owner's yes."""
    with store.transaction():
        lead = waiting_lead(store, args.lead_id)
        contact = store.require("contacts", args.contact_id)
        give_lead_contact(store, args.lead_id, args.contact_id)
        contact = add_details(store, contact, lead.get("email"), lead.get("phone"))
    card = contact_card(store, contact)
    return {"contact": card, "message": f"{args.lead_id} is now on {card['name']} ({card['contact_id']})."}


def add_details(store: Store, contact: Doc, email: str | None, phone: str | None) -> Doc:
    """Add an email or phone the contact does not have yet, after the ones they have (never replacing
    the primary). Inside a transaction."""
    region = store.settings.default_phone_region
    changes: Doc = {}
    emails, phones = list(contact.get("emails") or []), list(contact.get("phones") or [])
    if email and (normal := email_normal(email)) and email_key(normal) not in {email_key(e) for e in emails}:
        changes["emails"] = [*emails, normal]
    if phone and (e164 := phone_e164(phone, region)) and e164 not in {phone_e164(p, region) for p in phones}:
        changes["phones"] = [*phones, e164]
    return store.update("contacts", contact["contact_id"], changes) if changes else contact


# ---------------------------------------------------------------------------- updating
class UpdateContactInput(ToolInput):
    contact_id: str = Field(description="the person (C-12)")
    name: str | None = Field(default=None, description="the corrected full name; or give first_name/last_name")
    first_name: str | None = Field(default=None, description="the corrected first name")
    last_name: str | None = Field(default=None, description="the corrected last name")
    phone: str | None = Field(default=None, description="becomes the primary phone; the others are kept")
    add_phone: str | None = Field(default=None, description="another phone number, kept after the primary")
    remove_phone: str | None = Field(default=None, description="a wrong or dead number to take off, in any format")
    email: str | None = Field(default=None, description="becomes the primary email; the others are kept")
    add_email: str | None = Field(default=None, description="another email address, kept after the primary")
    remove_email: str | None = Field(default=None, description="a wrong or dead address to take off")
    address: str | None = Field(default=None, description="the service address: where the work happens")
    company_id: str | None = Field(default=None, description="the company they belong to (CO-3)")
    preferred_channel: PreferredChannel | None = Field(default=None, description="how they like to be reached")
    lifecycle_stage: LifecycleStage | None = Field(default=None, description="prospect, customer or past_customer")
    source: str | None = Field(default=None, description="how they heard about the business")
    add_tags: list[str] = Field(default_factory=list, description="tags to add")
    remove_tags: list[str] = Field(default_factory=list, description="tags to take off")
    append_note: str | None = Field(default=None, description="added to the running notes with today's date")
    archived: bool | None = Field(
        default=None, description="true archives (hidden from lists; nothing is deleted), false brings them back"
    )


def edit_tags(label: str, tags: list[str], add: list[str], remove: list[str]) -> list[str]:
    """``tags`` with ``add`` appended and ``remove`` taken off (either matched regardless of case).
    Removing a tag the record does not have is refused: the owner probably meant another one."""

    def key(tag: str) -> str:
        return " ".join(tag.split()).casefold()

    have = {key(t) for t in tags}
    missing = [t for t in remove if key(t) not in have]
    if missing:
        shown = ", ".join(tags) if tags else "none"
        raise InvalidRecord(label, [f"it has no tag {', '.join(repr(t) for t in missing)} (its tags: {shown})"])
    drop = {key(t) for t in remove}
    kept = [t for t in tags if key(t) not in drop]
    for tag in add:
        tag = " ".join(tag.split())
        if tag and key(tag) not in {key(t) for t in kept}:
            kept.append(tag)
    return kept


def _edit_list(label: str, what: str, values: list[str], key: Any, primary: str | None, extra: str | None,
               wrong: str | None) -> list[str]:  # fmt: skip
    """A contact's phones or emails after making ``primary`` the first, adding ``extra`` and taking
    ``wrong`` off. Each is compared by ``key`` (a phone in any format, an email in any case)."""
    if wrong is not None:
        if key(wrong) not in {key(v) for v in values}:
            shown = ", ".join(values) if values else "none"
            raise InvalidRecord(label, [f"{what} {wrong!r} is not on this contact (on file: {shown})"])
        if key(wrong) in {key(v) for v in (primary, extra) if v}:
            raise InvalidRecord(label, [f"{what} {wrong!r} cannot be both added and taken off"])
        values = [v for v in values if key(v) != key(wrong)]
    if extra is not None and key(extra) not in {key(v) for v in values}:
        values = [*values, extra]
    if primary is not None:
        values = [primary, *(v for v in values if key(v) != key(primary))]
    return values


@tool("write")
def update_contact(store: Store, args: UpdateContactInput) -> dict[str, Any]:
    """Correct a contact: name, phones and emails (a new primary, another one, or a wrong one taken off),
    service address, company, preferred channel, lifecycle stage, source, tags (add or take off), a dated
    note, or archive / bring back. Phones and emails are checked like any new one; a contact must keep a
    name, a phone or an email. Nothing changes if any part is refused; every change is in the event log
    with before and after."""
    label = f"Contact {args.contact_id}"
    with store.transaction():
        contact = store.require("contacts", args.contact_id)
        label = f"Contact {contact['contact_id']} ({full_name(contact)})"
        changes: Doc = {}
        first, last = args.first_name, args.last_name
        if args.name is not None and first is None and last is None:
            first, last = split_name(args.name)
            if not (first or last):
                raise InvalidRecord(label, ["name is empty; give the person's name"])
        for field, value in (("first_name", first), ("last_name", last)):
            if value is not None:
                changes[field] = value.strip()
        for field in ("address", "company_id", "preferred_channel", "lifecycle_stage", "source", "archived"):
            value = getattr(args, field)
            if value is not None:
                changes[field] = value
        if args.company_id:
            store.require("companies", args.company_id)
        if args.phone is not None or args.add_phone is not None or args.remove_phone is not None:

            def phone_key(p: str) -> str:
                return phone_e164(p, store.settings.default_phone_region) or p

            changes["phones"] = _edit_list(
                label,
                "phone",
                list(contact.get("phones") or []),
                phone_key,
                checked_phone(store, args.phone, label) if args.phone is not None else None,
                checked_phone(store, args.add_phone, label) if args.add_phone is not None else None,
                args.remove_phone,
            )
        if args.email is not None or args.add_email is not None or args.remove_email is not None:
            changes["emails"] = _edit_list(
                label,
                "email",
                list(contact.get("emails") or []),
                lambda e: email_key(e) or e.strip().lower(),
                checked_email(args.email, label) if args.email is not None else None,
                checked_email(args.add_email, label) if args.add_email is not None else None,
                args.remove_email,
            )
        if args.add_tags or args.remove_tags:
            changes["tags"] = edit_tags(label, list(contact.get("tags") or []), args.add_tags, args.remove_tags)
        if args.append_note:
            stamp = store.today().isoformat()
            notes = contact.get("notes") or ""
            changes["notes"] = (notes + "\n" if notes else "") + f"{stamp}: {args.append_note.strip()}"
        updated = store.update("contacts", contact["contact_id"], changes)
        shared = _shared_with_others(store, contact, updated)
    changed = sorted(k for k in changes if contact.get(k) != updated.get(k))
    card = contact_card(store, updated)
    what = ", ".join(c.replace("_", " ") for c in changed)
    message = f"Updated {card['name']}: {what}." if changed else f"Nothing to change for {card['name']}."
    if shared:
        message += " " + " ".join(shared) + " If they are the same person, merging them keeps one record."
    return {"contact": card, "changed": changed, "also_on": shared, "message": message}


def _shared_with_others(store: Store, before: Doc, after: Doc) -> list[str]:
    """Sentences naming other active contacts that hold a phone or email just added to this one."""
    notes = []
    new_phones = set(after.get("phones") or []) - set(before.get("phones") or [])
    new_emails = {email_key(e) for e in after.get("emails") or []} - {email_key(e) for e in before.get("emails") or []}
    for kind, values, lookup in (("phone", new_phones, store.contacts_by_phone),
                                 ("email", new_emails, store.contacts_by_email)):  # fmt: skip
        for value in sorted(v for v in values if v):
            others = [d for d in lookup(value) if d["contact_id"] != after["contact_id"] and not d.get("archived")]
            for other in others:
                notes.append(f"{full_name(other)} ({other['contact_id']}) has that {kind} ({value}) too.")
    return notes
