"""Leads: capture, find, update, qualify, disqualify, convert. Never deleted."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from backoffice.tools.book.models import DisqualificationReason, LeadSource, LeadStatus, PipelineStage
from backoffice.tools.book.normalize import email_normal, fold, full_name, phone_e164, split_name
from backoffice.tools.book.states import check
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.crm.contacts import (
    CreateContactInput,
    FindContactsInput,
    _contact_fields,
    contact_card,
    duplicate_matches,
    find_contact_docs,
)
from backoffice.tools.crm.interactions import LogInteractionInput, add_interaction, set_lead_status, system_note
from backoffice.tools.errors import IllegalTransition, MissingInformation
from backoffice.tools.registry import ToolInput, tool

SOURCE_TO_INTERACTION = {
    "phone_call": "phone_call",
    "email": "email_inbound",
    "web_form": "note",
    "referral": "note",
    "ad": "note",
    "other": "note",
}


def short_title(*texts: str | None, limit: int = 60) -> str:
    for text in texts:
        line = " ".join((text or "").split())
        if line:
            return line if len(line) <= limit else line[: limit - 1].rsplit(" ", 1)[0] + "…"
    return "New inquiry"


def lead_card(store: Store, lead: Doc) -> Doc:
    contact = store.get("contacts", lead["contact_id"]) if lead.get("contact_id") else None
    return {
        "lead_id": lead["lead_id"],
        "title": lead["title"],
        "contact": full_name(contact) if contact else (lead.get("email") or lead.get("phone")),
        "contact_id": lead.get("contact_id"),
        "status": lead["status"],
        "pipeline_stage": lead["pipeline_stage"],
        "source": lead["source"],
        "estimated_value": lead.get("estimated_value"),
        "created_at": lead["created_at"],
    }


# ---------------------------------------------------------------------------- capture
class CreateLeadInput(ToolInput):
    title: str | None = Field(default=None, description="short label, e.g. 'Leaky faucet at 123 Main'")
    description: str = Field(default="", description="what they asked for, in their words or the owner's")
    contact_id: str | None = Field(default=None, description="who the lead is for, a contact id, like C-12")
    company_id: str | None = Field(default=None, description="the company, a company id, like CO-1")
    source: LeadSource = Field(
        default="other", description="how it came in: phone_call | email | web_form | referral | ad | other"
    )
    estimated_value: float | None = Field(default=None, ge=0, description="rough job size in dollars")
    pipeline_stage: PipelineStage = Field(
        default="inquiry", description="where the conversation is; inquiry for a new one"
    )
    expected_close_date: dt.date | None = Field(default=None, description="when a decision is expected (YYYY-MM-DD)")
    owner: str | None = Field(default=None, description="who on the team follows it up")
    email: str | None = Field(default=None, description="an email to keep on the lead when there is no contact yet")
    phone: str | None = Field(default=None, description="a phone to keep on the lead when there is no contact yet")
    url: str | None = Field(default=None, description="a link the inquiry came with (a listing, a form)")
    notes: str = Field(default="", description="free notes")
    source_ref: str | None = Field(default=None, description="capture key; the same key never creates a second lead")


def insert_lead(store: Store, args: CreateLeadInput) -> tuple[Doc, bool]:
    with store.transaction():
        if args.source_ref and (existing := store.by_source_ref("leads", args.source_ref)):
            return existing, False
        if args.contact_id:
            store.require("contacts", args.contact_id)
        fields = args.model_dump(exclude_none=True)
        fields["title"] = short_title(args.title, args.description, args.email, args.url, args.notes)
        fields["status"] = "new"
        if args.phone:
            fields["phone"] = phone_e164(args.phone, store.settings.default_phone_region) or args.phone
        if args.email:
            fields["email"] = email_normal(args.email) or args.email
        return store.insert("leads", fields), True


@tool("write")
def create_lead(store: Store, args: CreateLeadInput) -> dict[str, Any]:
    """Open a lead (an inquiry that is not a job yet). A lead may be as little as an email, a URL or a
    note; status starts at new and stage at inquiry. A repeated source_ref returns the existing lead."""
    lead, created = insert_lead(store, args)
    verb = "Opened" if created else "Already had"
    return {
        "created": created,
        "lead": lead_card(store, lead),
        "message": f"{verb} lead {lead['lead_id']}: {lead['title']}.",
    }


class RecordInquiryInput(ToolInput):
    name: str | None = Field(default=None, description="the person's full name, if given")
    phone: str | None = Field(
        default=None, description="their phone, any format; an existing contact with it is linked, not duplicated"
    )
    email: str | None = Field(
        default=None, description="their email; an existing contact with it is linked, not duplicated"
    )
    address: str | None = Field(default=None, description="the service address, where the work is")
    company_id: str | None = Field(default=None, description="their company, a company id, like CO-1")
    description: str = Field(default="", description="what they described")
    title: str | None = Field(default=None, description="short label for the lead, e.g. 'Leaky faucet at 123 Main'")
    source: LeadSource = Field(default="phone_call", description="how it came in; phone_call by default")
    estimated_value: float | None = Field(default=None, ge=0, description="rough job size in dollars, if they said")
    source_ref: str | None = Field(
        default=None, description="capture key (an email's Message-ID); the same key never makes a second lead"
    )
    subject: str | None = Field(default=None, description="the email's subject, for emails")
    message_id: str | None = Field(default=None, description="the email's Message-ID, for emails")
    thread_id: str | None = Field(default=None, description="the mail thread, for emails")
    timestamp: dt.datetime | None = Field(default=None, description="when it came in; default now")


def capture_inquiry(store: Store, args: RecordInquiryInput) -> dict[str, Any]:
    with store.transaction():
        if args.source_ref and (lead := store.by_source_ref("leads", args.source_ref)):
            return {
                "created": False,
                "lead": lead_card(store, lead),
                "message": f"Already captured as lead {lead['lead_id']}: {lead['title']}.",
            }
        matches = duplicate_matches(store, args.phone, args.email, None)
        if matches:
            contact = store.require("contacts", matches[0]["contact_id"])
            new_contact = False
            # fill what we did not know before; never overwrite what the owner entered
            fill: Doc = {}
            if args.address and not contact.get("address"):
                fill["address"] = args.address
            if args.name and not (contact.get("first_name") or contact.get("last_name")):
                fill["first_name"], fill["last_name"] = split_name(args.name)
            if fill:
                contact = store.update("contacts", contact["contact_id"], fill)
        else:
            if not (args.name or args.phone or args.email):
                raise MissingInformation(
                    "An inquiry needs at least a name, a phone or an email.", ["name", "phone", "email"]
                )
            contact = store.insert(
                "contacts",
                _contact_fields(
                    store,
                    CreateContactInput(
                        name=args.name,
                        phone=args.phone,
                        email=args.email,
                        address=args.address,
                        company_id=args.company_id,
                        source=args.source,
                    ),
                ),
            )
            new_contact = True
        lead, _ = insert_lead(
            store,
            CreateLeadInput(
                title=args.title or short_title(args.subject, args.description),
                description=args.description,
                contact_id=contact["contact_id"],
                company_id=args.company_id or contact.get("company_id"),
                source=args.source,
                estimated_value=args.estimated_value,
                source_ref=args.source_ref,
            ),
        )
        add_interaction(
            store,
            LogInteractionInput(
                type=SOURCE_TO_INTERACTION[args.source],  # type: ignore[arg-type]
                contact_id=contact["contact_id"],
                lead_id=lead["lead_id"],
                subject=args.subject or lead["title"],
                body=args.description,
                message_id=args.message_id,
                thread_id=args.thread_id,
                timestamp=args.timestamp,
            ),
            inbound=True,
        )
    card = contact_card(store, contact)
    via = args.source.replace("_", " ")
    return {
        "created": True,
        "new_contact": new_contact,
        "contact": card,
        "lead": lead_card(store, store.require("leads", lead["lead_id"])),
        "message": (
            f"New inquiry from {card['name']} — {lead['title']}. Phone: {card['phone'] or 'not given'}. "
            f"They came in via {via}. "
            + ("New contact added." if new_contact else f"Linked to existing contact {card['contact_id']}.")
        ),
    }


@tool("write")
def record_inquiry(store: Store, args: RecordInquiryInput) -> dict[str, Any]:
    """A new inquiry arrived (phone, web form, email): match the person to an existing contact by phone
    or email (or add them), open a lead (status new, stage inquiry) and log what they described."""
    return capture_inquiry(store, args)


# ---------------------------------------------------------------------------- finding
class FindLeadsInput(ToolInput):
    query: str | None = Field(default=None, description="words of the lead title, or the contact's name/phone/email")
    contact_id: str | None = Field(default=None, description="the leads of this contact, a contact id, like C-12")
    status: list[LeadStatus] = Field(default_factory=list, description="empty: any status")
    limit: int = Field(default=10, ge=1, le=100, description="at most this many results")


def find_lead_docs(store: Store, args: FindLeadsInput) -> list[Doc]:

    found: dict[str, Doc] = {}
    if args.contact_id:
        for lead in store.linked("leads", "contact_id", args.contact_id):
            found[lead["lead_id"]] = lead
    if args.query:
        query = args.query.strip()
        if query.upper().startswith("L-") and query[2:].isdigit():
            found[query.upper()] = store.require("leads", query)
        for lead in store.search_tokens("leads", query):
            found.setdefault(lead["lead_id"], lead)
        for contact, _ in find_contact_docs(store, FindContactsInput(query=query, limit=20, include_archived=True)):
            for lead in store.linked("leads", "contact_id", contact["contact_id"]):
                found.setdefault(lead["lead_id"], lead)
        if not found:
            # loose: any word of the query in the title ("Oak St lead" -> "Oak")
            words = [w for w in fold(query).split() if len(w) > 2 and w not in {"lead", "the", "job", "for"}]
            for w in words:
                for lead in store.search_tokens("leads", w):
                    found.setdefault(lead["lead_id"], lead)
    leads = list(found.values())
    if args.status:
        leads = [lead for lead in leads if lead["status"] in args.status]
    leads.sort(key=lambda d: (d["status"] in ("converted", "disqualified"), d["created_at"]), reverse=False)
    return leads[: args.limit]


@tool("read")
def find_leads(store: Store, args: FindLeadsInput) -> dict[str, Any]:
    """Find leads by words of their title ("Oak St"), by the contact's name, phone or email, or by contact id.
    Open leads come first."""
    return {"leads": [lead_card(store, lead) for lead in find_lead_docs(store, args)]}


# ---------------------------------------------------------------------------- changes
class UpdateLeadInput(ToolInput):
    lead_id: str = Field(description="a lead id, like L-4")
    title: str | None = Field(default=None, description="the new short label")
    description: str | None = Field(default=None, description="what they asked for")
    contact_id: str | None = Field(default=None, description="the person the lead belongs to, a contact id, like C-12")
    estimated_value: float | None = Field(default=None, ge=0, description="rough job size in dollars")
    pipeline_stage: PipelineStage | None = Field(
        default=None, description="where the conversation is; scheduled_visit = site visit booked"
    )
    expected_close_date: dt.date | None = Field(default=None, description="when a decision is expected (YYYY-MM-DD)")
    owner: str | None = Field(default=None, description="who on the team follows it up")
    status: Literal["new", "working", "qualified"] | None = Field(
        default=None, description="disqualify and convert have their own tools"
    )
    notes: str | None = Field(default=None, description="replaces the lead's notes")


@tool("write")
def update_lead(store: Store, args: UpdateLeadInput) -> dict[str, Any]:
    """Change a lead's details, stage or (open) status. Status changes follow the lead state machine."""
    with store.transaction():
        lead = store.require("leads", args.lead_id)
        changes = args.model_dump(exclude={"lead_id", "status"}, exclude_none=True)
        if lead["status"] in ("converted", "disqualified") and (changes or args.status):
            allowed_notes = set(changes) <= {"notes"}
            if not allowed_notes or args.status:
                raise IllegalTransition(
                    f"Lead {lead['lead_id']} is {lead['status']} and kept as history; only its notes can change."
                )
        if args.contact_id:
            store.require("contacts", args.contact_id)
        if args.status and args.status != lead["status"]:
            lead = set_lead_status(store, lead, args.status)
        updated = store.update("leads", args.lead_id, changes)
    return {"lead": lead_card(store, updated), "message": f"Updated lead {updated['lead_id']}."}


class QualifyLeadInput(ToolInput):
    lead_id: str = Field(description="a lead id, like L-4")
    pipeline_stage: Literal["needs_analysis", "estimate_sent"] = Field(
        default="needs_analysis", description="needs_analysis, or estimate_sent if a price is already out"
    )
    estimated_value: float | None = Field(default=None, ge=0, description="rough job size in dollars, if known now")


@tool("write")
def qualify_lead(store: Store, args: QualifyLeadInput) -> dict[str, Any]:
    """The lead is worth pursuing: status qualified, stage needs_analysis (or estimate_sent), and an
    interaction records it. Only a qualified lead can be converted to a job."""
    with store.transaction():
        lead = store.require("leads", args.lead_id)
        changes: Doc = {"pipeline_stage": args.pipeline_stage}
        if args.estimated_value is not None:
            changes["estimated_value"] = args.estimated_value
        lead = set_lead_status(store, lead, "qualified", changes, action="qualified")
        stage = args.pipeline_stage.replace("_", " ")
        system_note(store, f"Lead qualified — moving to {stage}.", lead_id=lead["lead_id"])
    return {
        "lead": lead_card(store, lead),
        "message": f"Qualified {lead['title']} ({lead['lead_id']}) — moving to {stage}.",
    }


class DisqualifyLeadInput(ToolInput):
    lead_id: str = Field(description="a lead id, like L-4")
    reason: DisqualificationReason = Field(description="budget | timing | outside_scope | no_response | other")
    note: str | None = Field(default=None, description="the owner's words about why")


@tool("write")
def disqualify_lead(store: Store, args: DisqualifyLeadInput) -> dict[str, Any]:
    """Close a lead that will not go ahead, with a reason. The lead and its history are kept."""
    with store.transaction():
        lead = store.require("leads", args.lead_id)
        lead = set_lead_status(
            store,
            lead,
            "disqualified",
            {"disqualification_reason": args.reason, "disqualification_note": args.note},
            action="disqualified",
        )
        reason = args.reason.replace("_", " ")
        system_note(
            store, f"Lead disqualified — {reason}." + (f" {args.note}" if args.note else ""), lead_id=lead["lead_id"]
        )
    return {
        "lead": lead_card(store, lead),
        "message": f"Disqualified {lead['title']} ({lead['lead_id']}): {reason}. The record stays.",
    }


class ConvertLeadInput(ToolInput):
    lead_id: str = Field(description="a lead id, like L-4; the lead must be qualified")
    stage: Literal["estimating", "scheduled"] = Field(
        default="estimating", description="estimating (pricing the job) or scheduled (site visit booked)"
    )
    name: str | None = Field(default=None, description="job name; default the lead title")
    amount: float | None = Field(
        default=None, ge=0, description="the job's amount in dollars; default the lead's estimated value"
    )
    expected_close_date: dt.date | None = Field(
        default=None, description="when the job is expected to be decided (YYYY-MM-DD)"
    )
    needs_site_visit: bool = Field(default=False, description="true when someone has to go and look before pricing")


@tool("write")
def convert_lead(store: Store, args: ConvertLeadInput) -> dict[str, Any]:
    """Turn a qualified lead into a job (an opportunity). The contact must have a name, a phone and a
    service address; if anything is missing nothing changes and the missing items are listed."""
    with store.transaction():
        lead = store.require("leads", args.lead_id)
        check("lead", lead["lead_id"], lead["status"], "converted")
        if not lead.get("contact_id"):
            raise MissingInformation(
                f"Lead {lead['lead_id']} has no contact yet; add or link the customer first (name, phone, address).",
                ["contact"],
            )
        contact = store.require("contacts", lead["contact_id"])
        missing = []
        if not (contact.get("first_name") or contact.get("last_name")):
            missing.append("name")
        if not contact.get("phones"):
            missing.append("phone")
        if not contact.get("address"):
            missing.append("service address")
        if missing:
            raise MissingInformation(
                f"Before {full_name(contact)} can become a job their record needs: {', '.join(missing)}.", missing
            )
        opp = store.insert(
            "opportunities",
            {
                "lead_id": lead["lead_id"],
                "contact_id": contact["contact_id"],
                "company_id": lead.get("company_id") or contact.get("company_id"),
                "name": args.name or lead["title"],
                "stage": args.stage,
                "amount": args.amount if args.amount is not None else lead.get("estimated_value"),
                "expected_close_date": args.expected_close_date or lead.get("expected_close_date"),
                "needs_site_visit": args.needs_site_visit or args.stage == "scheduled",
            },
            action="created",
        )
        lead = set_lead_status(
            store, lead, "converted", {"converted_opportunity_id": opp["opportunity_id"]}, action="converted"
        )
        system_note(
            store,
            f"Lead converted to job {opp['opportunity_id']} — {opp['name']}.",
            lead_id=lead["lead_id"],
            opportunity_id=opp["opportunity_id"],
        )
    next_step = "book the site visit" if opp["needs_site_visit"] else "prepare the estimate"
    return {
        "lead": lead_card(store, lead),
        "opportunity": opp,
        "message": f"Converted {lead['title']} into job {opp['opportunity_id']} ({opp['stage']}). Next: {next_step}.",
    }
