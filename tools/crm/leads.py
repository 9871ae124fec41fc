"""Leads: capture, find, update, qualify, disqualify, convert. Never deleted."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from backoffice.tools.book import clock
from backoffice.tools.book.models import (
    OPEN_LEAD_STATUSES,
    Amount,
    DisqualificationReason,
    EffortClass,
    LeadSource,
    LeadStatus,
    PipelineStage,
)
from backoffice.tools.book.normalize import email_normal, fold, full_name, phone_e164, split_name
from backoffice.tools.book.states import ESTIMATE_OUT_STAGES, check, forward
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.crm import identity
from backoffice.tools.crm.contacts import (
    CreateContactInput,
    FindContactsInput,
    _contact_fields,
    add_details,
    contact_card,
    edit_tags,
    find_contact_docs,
)
from backoffice.tools.crm.interactions import LogInteractionInput, add_interaction, set_lead_status, system_note
from backoffice.tools.crm.opportunities import merged_names
from backoffice.tools.crm.qualification_records import ensure_record, missing_answers, record_for
from backoffice.tools.crm.sources import clean_detail, suggestion
from backoffice.tools.crm.stages import check_gate, gate_missing, job_stage
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
        "expected_close_date": lead.get("expected_close_date"),
        "tags": lead.get("tags") or [],
        "source_detail": lead.get("source_detail"),
        "class": lead.get("effort_class"),
        "score": lead.get("score"),
        "competitors": lead.get("competitors") or [],
        "created_at": lead["created_at"],
    }


# ---------------------------------------------------------------------------- capture
class CreateLeadInput(ToolInput):
    title: str | None = Field(default=None, description="short label, e.g. 'Leaky faucet at 123 Main'")
    description: str = Field(default="", description="what the customer described")
    contact_id: str | None = Field(default=None, description="the person (C-12), when known")
    company_id: str | None = Field(default=None, description="their company (CO-3), if a business")
    source: LeadSource = Field(default="other", description="how the inquiry came in")
    source_detail: str | None = Field(
        default=None, description="where it came from in the owner's words, e.g. 'Google Ads', 'yard sign'"
    )
    estimated_value: Amount | None = Field(default=None, description="rough job size in dollars")
    pipeline_stage: PipelineStage = Field(default="inquiry", description="where the conversation is")
    expected_close_date: dt.date | None = Field(default=None, description="when the owner expects a decision")
    owner: str | None = Field(default=None, description="who on the team follows it up")
    email: str | None = Field(default=None, description="an email, when there is no contact yet")
    phone: str | None = Field(default=None, description="a phone number, when there is no contact yet")
    url: str | None = Field(default=None, description="a web address the lead came from")
    notes: str = Field(default="", description="anything else worth keeping")
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
        if args.source_detail is not None:
            fields["source_detail"] = clean_detail(store, args.source_detail)
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
        "message": f"{verb} lead {lead['lead_id']}: {lead['title']}." + suggestion(store, lead.get("source_detail")),
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
    source_detail: str | None = Field(
        default=None, description="where they heard of the business, e.g. 'Google Ads', 'Nextdoor', 'yard sign'"
    )
    estimated_value: Amount | None = Field(default=None, description="rough job size in dollars, if they said")
    source_ref: str | None = Field(
        default=None, description="capture key (an email's Message-ID); the same key never makes a second lead"
    )
    subject: str | None = Field(default=None, description="the email's subject, for emails")
    message_id: str | None = Field(default=None, description="the email's Message-ID, for emails")
    thread_id: str | None = Field(default=None, description="the mail thread, for emails")
    timestamp: dt.datetime | None = Field(default=None, description="when it came in; default now")


def capture_inquiry(store: Store, args: RecordInquiryInput) -> dict[str, Any]:
    """Hard stop 3 on every route an inquiry comes by (chat, email, web form): the person is the
    contact who shares their email or phone; a name that only *may* be someone in the book never
    makes a second contact silently. When the owner named them and gave nothing that tells them
    apart, they are that contact; otherwise the lead is parked without a contact and the owner is
    asked (``then``: put it on the match, or add a separate contact)."""
    with store.transaction():
        if args.source_ref and (lead := store.by_source_ref("leads", args.source_ref)):
            return {
                "created": False,
                "lead": lead_card(store, lead),
                "message": f"Already captured as lead {lead['lead_id']}: {lead['title']}.",
            }
        found = identity.matches(store, args.name, [args.phone], [args.email])
        certain = [m for m in found if m.certain]
        possible = [m for m in found if not m.certain]
        contact: Doc | None = None
        new_contact, linked_by = False, ""
        if certain:
            contact, linked_by = certain[0].contact, certain[0].why
            # fill what we did not know before; never overwrite what the owner entered
            fill: Doc = {}
            if args.address and not contact.get("address"):
                fill["address"] = args.address
            if args.name and not (contact.get("first_name") or contact.get("last_name")):
                fill["first_name"], fill["last_name"] = split_name(args.name)
            if fill:
                contact = store.update("contacts", contact["contact_id"], fill)
            contact = add_details(store, contact, args.email, args.phone)
        elif len(possible) == 1 and not (args.phone or args.email):
            contact, linked_by = possible[0].contact, possible[0].why
        elif not possible:
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
        parked = contact is None
        lead, _ = insert_lead(
            store,
            CreateLeadInput(
                title=args.title or short_title(args.subject, args.description),
                description=args.description,
                contact_id=contact["contact_id"] if contact else None,
                company_id=args.company_id or (contact or {}).get("company_id"),
                source=args.source,
                source_detail=args.source_detail,
                estimated_value=args.estimated_value,
                source_ref=args.source_ref,
                email=args.email if parked else None,
                phone=args.phone if parked else None,
                notes=f"From: {args.name}" if parked and args.name else "",
            ),
        )
        add_interaction(
            store,
            LogInteractionInput(
                type=SOURCE_TO_INTERACTION[args.source],  # type: ignore[arg-type]
                contact_id=contact["contact_id"] if contact else None,
                lead_id=lead["lead_id"],
                subject=args.subject or lead["title"],
                body=args.description,
                message_id=args.message_id,
                thread_id=args.thread_id,
                timestamp=args.timestamp,
            ),
            inbound=True,
        )
    via = args.source.replace("_", " ")
    card = contact_card(store, contact) if contact else None
    who = card["name"] if card else (args.name or args.email or args.phone)
    phone = (card or {}).get("phone") or args.phone or "not given"
    if parked:
        names = "; ".join(
            f"{m.contact.get('first_name', '')} {m.contact.get('last_name', '')}".strip()
            + f" ({m.contact['contact_id']}, {m.why})"
            for m in possible[:5]
        )
        said = (
            f"It may be someone already in the book: {names}. The lead has no contact yet: "
            "it is for you to say whether it is the same person or someone new."
        )
    elif new_contact:
        said = "New contact added."
    else:
        said = f"Linked to existing contact {card['contact_id'] if card else ''} ({linked_by})."
    return {
        "created": True,
        "new_contact": new_contact,
        "parked": parked,
        "contact": card,
        "possible_duplicates": [{**contact_card(store, m.contact), "matched_by": m.why} for m in possible[:5]]
        if parked
        else [],
        "inquiry": {"name": args.name, "email": args.email, "phone": args.phone, "address": args.address},
        "lead": lead_card(store, store.require("leads", lead["lead_id"])),
        "message": f"New inquiry from {who} — {lead['title']}. Phone: {phone}. They came in via {via}. {said}",
    }


def settle_parked(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """What the owner is asked after an inquiry was parked: is it the contact already in the book
    (first), or someone new?"""
    if not result.get("parked") or not result.get("possible_duplicates"):
        return []
    lead_id = result["lead"]["lead_id"]
    seen = result["inquiry"]
    new = {k: v for k, v in seen.items() if v}
    return [
        ("attach_inquiry", {"lead_id": lead_id, "contact_id": result["possible_duplicates"][0]["contact_id"]}),
        ("create_contact_anyway", {**new, "for_lead": lead_id, "source": result["lead"]["source"]}),
    ]


@tool("write", then=settle_parked)
def record_inquiry(store: Store, args: RecordInquiryInput) -> dict[str, Any]:
    """A new inquiry arrived (phone, web form, email): match the person to an existing contact by phone
    or email (or add them), open a lead (status new, stage inquiry) and log what they described. When
    the person may be a contact already in the book by name only, the lead waits without a contact and
    the owner is asked which it is."""
    return capture_inquiry(store, args)


# ---------------------------------------------------------------------------- finding
class FindLeadsInput(ToolInput):
    query: str | None = Field(
        default=None,
        description="words of the lead title, or the contact's name/phone/email; leave out to list leads",
    )
    contact_id: str | None = Field(default=None, description="only this person's leads (C-12)")
    status: list[LeadStatus] = Field(
        default_factory=list, description="only these statuses; empty: any status, or the open ones when listing"
    )
    pipeline_stage: list[PipelineStage] = Field(default_factory=list, description="only these stages; empty: any")
    limit: int = Field(default=10, ge=1, le=100, description="at most this many")


def _lead_order(lead: Doc) -> tuple[bool, str]:
    return lead["status"] in ("converted", "disqualified"), lead["created_at"]


def listed_leads(store: Store, args: FindLeadsInput) -> tuple[list[Doc], int]:
    """Without a query or a contact: the first ``limit`` leads by status (the open ones unless
    statuses are given) and stage, open ones first, oldest first, and how many there are in all.
    Read a page at a time, so listing stays quick however long the book is."""
    wanted = tuple(args.status) or OPEN_LEAD_STATUSES
    stage: dict[str, Any] = {"pipeline_stage": tuple(args.pipeline_stage)} if args.pipeline_stage else {}
    leads: list[Doc] = []
    total = 0
    with store.reading():
        is_open = [s for s in wanted if s in OPEN_LEAD_STATUSES]
        for group in (is_open, [s for s in wanted if s not in is_open]):
            if not group:
                continue
            total += store.count_where("leads", status=tuple(group), **stage)
            if len(leads) < args.limit:
                leads += store.first("leads", args.limit - len(leads), status=tuple(group), **stage)
    return leads, total


def matching_leads(store: Store, args: FindLeadsInput) -> list[Doc]:
    """Every lead a query or a contact selects, open ones first, oldest first."""
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
    if args.pipeline_stage:
        leads = [lead for lead in leads if lead["pipeline_stage"] in args.pipeline_stage]
    return sorted(leads, key=_lead_order)


def find_lead_docs(store: Store, args: FindLeadsInput) -> list[Doc]:
    if not args.query and not args.contact_id:
        return listed_leads(store, args)[0]
    return matching_leads(store, args)[: args.limit]


@tool("read")
def find_leads(store: Store, args: FindLeadsInput) -> dict[str, Any]:
    """Find leads by words of their title ("Oak St"), by the contact's name, phone or email, or by contact id.
    With no query and no contact it lists the open leads (new, working, qualified; or the statuses given),
    optionally only some stages: "show me my open leads", "which leads have an estimate out?".
    Open leads come first, oldest first; ``total`` says how many matched in all."""
    if not args.query and not args.contact_id:
        page, total = listed_leads(store, args)
    else:
        found = matching_leads(store, args)
        page, total = found[: args.limit], len(found)
    return {"leads": [lead_card(store, lead) for lead in page], "total": total}


# ---------------------------------------------------------------------------- changes
class UpdateLeadInput(ToolInput):
    lead_id: str = Field(description="the lead (L-3)")
    title: str | None = Field(default=None, description="a new short label")
    description: str | None = Field(default=None, description="a new description of the job")
    contact_id: str | None = Field(default=None, description="link the lead to this person (C-12)")
    source: LeadSource | None = Field(default=None, description="correct how the inquiry came in")
    source_detail: str | None = Field(
        default=None, description="where it came from, set or corrected later: 'Google Ads', 'yard sign'..."
    )
    estimated_value: Amount | None = Field(default=None, description="rough job size in dollars")
    pipeline_stage: PipelineStage | None = Field(
        default=None, description="the owner's correction of the stage; backward moves are allowed here (a "
        "stage's gate in the playbook may need something first)"
    )
    effort_class: EffortClass | None = Field(
        default=None, description="gold, silver or bronze: how much effort the lead is worth (a change is logged)"
    )
    add_competitors: list[str] = Field(
        default_factory=list, description="other businesses known to be quoting for this work"
    )
    expected_close_date: dt.date | None = Field(default=None, description="when the owner expects a decision")
    owner: str | None = Field(default=None, description="who on the team follows it up")
    status: Literal["new", "working", "qualified"] | None = Field(
        default=None, description="disqualify and convert have their own tools"
    )
    add_tags: list[str] = Field(default_factory=list, description="tags to add")
    remove_tags: list[str] = Field(default_factory=list, description="tags to take off")
    notes: str | None = Field(default=None, description="replaces the lead's notes")


@tool("write")
def update_lead(store: Store, args: UpdateLeadInput) -> dict[str, Any]:
    """Change a lead's title, description, source, estimated value, expected close date, stage, owner,
    tags or (open) status. Status changes follow the lead state machine; a converted or disqualified lead
    keeps everything but its notes and tags. Every change is in the event log with before and after."""
    with store.transaction():
        lead = store.require("leads", args.lead_id)
        status_changes = args.status is not None and args.status != lead["status"]
        changes = args.model_dump(
            exclude={"lead_id", "status", "add_tags", "remove_tags", "add_competitors"}, exclude_none=True
        )
        if args.source_detail is not None:
            changes["source_detail"] = clean_detail(store, args.source_detail)
        if args.add_competitors:
            changes["competitors"] = merged_names(lead.get("competitors") or [], args.add_competitors)
        if args.add_tags or args.remove_tags:
            label = f"Lead {lead['lead_id']}"
            changes["tags"] = edit_tags(label, lead.get("tags") or [], args.add_tags, args.remove_tags)
        if lead["status"] in ("converted", "disqualified") and (set(changes) - {"notes", "tags"} or args.status):
            raise IllegalTransition(
                f"Lead {lead['lead_id']} is {lead['status']} and kept as history; only its notes and tags can change."
            )
        if args.contact_id:
            store.require("contacts", args.contact_id)
        if changes.get("pipeline_stage") and changes["pipeline_stage"] != lead["pipeline_stage"]:
            check_gate(store, "lead", {**lead, **changes}, changes["pipeline_stage"])
        if args.status and status_changes:
            lead = set_lead_status(store, lead, args.status)
        before = lead
        moved_class = bool(changes.get("effort_class")) and changes["effort_class"] != lead.get("effort_class")
        updated = store.update("leads", args.lead_id, changes, action="class_changed" if moved_class else "updated")
    changed = sorted(
        {k for k in changes if before.get(k) != updated.get(k)} | ({"status"} if status_changes else set())
    )
    return {
        "lead": lead_card(store, updated),
        "changed": changed,
        "message": f"Updated lead {updated['lead_id']} ({updated['title']})"
        + (f": {', '.join(c.replace('_', ' ') for c in changed)}." if changed else "; nothing was different.")
        + (suggestion(store, updated.get("source_detail")) if "source_detail" in changed else ""),
    }


class QualifyLeadInput(ToolInput):
    lead_id: str = Field(description="the lead (L-3)")
    pipeline_stage: Literal["needs_analysis", "estimate_sent"] = Field(
        default="needs_analysis",
        description="needs_analysis, or estimate_sent if a price is already out; a lead further along keeps its stage",
    )
    estimated_value: Amount | None = Field(default=None, description="rough job size in dollars, if known now")
    effort_class: EffortClass | None = Field(
        default=None,
        description="gold, silver or bronze, when the owner says how much effort it is worth (\"qualify it as gold\")",
    )


@tool("write")
def qualify_lead(store: Store, args: QualifyLeadInput) -> dict[str, Any]:
    """The lead is worth pursuing: status qualified, stage needs_analysis (or estimate_sent), its class if
    given (gold, silver, bronze), and an interaction records it. A lead already further along (its estimate
    out, a visit booked) keeps its stage: qualifying never moves a lead back. It stays in the daily watch
    for quiet leads. Only a qualified lead can be converted to a job. Its qualification record is completed
    when every required question is answered; the answer lists any still open."""
    with store.transaction():
        lead = store.require("leads", args.lead_id)
        target = forward("lead_stage", lead["pipeline_stage"], args.pipeline_stage)
        changes: Doc = {"pipeline_stage": target}
        if args.estimated_value is not None:
            changes["estimated_value"] = args.estimated_value
        if args.effort_class:
            changes["effort_class"] = args.effort_class
        if target != lead["pipeline_stage"]:
            check_gate(store, "lead", {**lead, **changes}, target)
        lead = set_lead_status(store, lead, "qualified", changes, action="qualified")
        stage = target.replace("_", " ")
        kept = target != args.pipeline_stage
        note = f"Lead qualified — {'staying at' if kept else 'moving to'} {stage}."
        system_note(store, note, lead_id=lead["lead_id"])
        open_questions = close_qualification(store, lead, "qualified")
    classed = f" Class: {store.playbook.class_label(lead['effort_class'])}." if lead.get("effort_class") else ""
    still = (f" The qualification record stays open until these are answered: {', '.join(open_questions)}."
             if open_questions else "")  # fmt: skip
    return {
        "lead": lead_card(store, lead),
        "qualification_open": open_questions,
        "message": f"Qualified {lead['title']} ({lead['lead_id']}) — "
        + (f"it stays at {stage}, which is further along." if kept else f"moving to {stage}.")
        + classed
        + still,
    }


def close_qualification(store: Store, lead: Doc, outcome: str, reason: str | None = None) -> list[str]:
    """Record the outcome on the lead's qualification record: a disqualification completes it (it needs
    only its reason); qualifying completes it when every required question is answered. The required
    questions still unanswered are returned."""
    record = record_for(store, lead["lead_id"]) or ensure_record(store, lead)
    changes: Doc = {"effort_class": lead.get("effort_class")}
    missing = [] if outcome == "disqualified" else [q.key for q in missing_answers(store, record)]
    if not missing:
        changes.update(status="complete", outcome=outcome, completed_at=store.now(),
                       definition_version=store.playbook.version)  # fmt: skip
        if reason:
            changes["disqualification_reason"] = reason
    if not missing:
        store.update("qualifications", record["qualification_id"], changes, action="completed")
    elif changes["effort_class"] != record.get("effort_class"):  # still open: only the class can have moved
        store.update("qualifications", record["qualification_id"], changes, action="class_changed")
    return missing


class DisqualifyLeadInput(ToolInput):
    lead_id: str = Field(description="the lead (L-3)")
    reason: DisqualificationReason = Field(description="budget | timing | outside_scope | no_response | other")
    note: str | None = Field(default=None, description="the reason in the owner's words")


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
        close_qualification(store, lead, "disqualified", args.reason)
        reason = args.reason.replace("_", " ")
        system_note(
            store, f"Lead disqualified — {reason}." + (f" {args.note}" if args.note else ""), lead_id=lead["lead_id"]
        )
    return {
        "lead": lead_card(store, lead),
        "message": f"Disqualified {lead['title']} ({lead['lead_id']}): {reason}. The record stays.",
    }


class ConvertLeadInput(ToolInput):
    lead_id: str = Field(description="the qualified lead (L-3)")
    stage: str | None = Field(
        default=None,
        description="where the job starts, a stage of the playbook. Default: where the lead was (proposal_sent if "
        "its estimate is out, scheduled if a visit is booked, else estimating); a stage behind the lead's is not used",
    )
    name: str | None = Field(default=None, description="job name; default the lead title")
    amount: Amount | None = Field(default=None, description="the job's amount in dollars; default the lead's estimate")
    expected_close_date: dt.date | None = Field(default=None, description="default the lead's")
    needs_site_visit: bool = Field(default=False, description="a site visit must be booked before pricing")


LEAD_STAGE_TO_JOB = {"estimate_sent": "proposal_sent", "follow_up": "proposal_sent", "scheduled_visit": "scheduled"}


def estimate_day(store: Store, lead: Doc) -> dt.date:
    """When a lead's estimate went out: its latest interaction with outcome sent_proposal, else the
    latest change that put it at estimate_sent (or follow_up), else today."""
    sent = [d["timestamp"] for d in store.linked("interactions", "lead_id", lead["lead_id"])
            if d.get("outcome") == "sent_proposal"]  # fmt: skip
    if sent:
        return clock.parse_stamp(max(sent)).astimezone(store.tz).date()
    moved = [e["at"] for e in store.events(lead["lead_id"])
             if (e.get("after") or {}).get("pipeline_stage") in ESTIMATE_OUT_STAGES]  # fmt: skip
    if moved:
        return clock.parse_stamp(max(moved)).astimezone(store.tz).date()
    return store.today()


@tool("write")
def convert_lead(store: Store, args: ConvertLeadInput) -> dict[str, Any]:
    """Turn a qualified lead into a job (an opportunity). The job starts where the lead was: a lead whose
    estimate is out becomes a proposal_sent job carrying the day the estimate went, so "Proposals out" keeps
    counting it and follow-ups ask about the estimate. The job inherits the lead's class and competitors.
    The contact must have a name, a phone and a service address, and the starting stage's gate must be met
    (by default proposal_sent needs an amount); if anything is missing nothing changes and it is listed."""
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
        where_lead_was = LEAD_STAGE_TO_JOB.get(lead["pipeline_stage"], "estimating")
        stage = where_lead_was
        if args.stage:
            # the stage asked for, unless the lead's own stage already says as much or more (a lead with a
            # visit booked stays scheduled when "estimating" is asked for); a lead still at inquiry or
            # needs analysis says nothing, so the stage asked for is used
            asked = job_stage(store, args.stage)
            known = lead["pipeline_stage"] in LEAD_STAGE_TO_JOB
            rank = store.playbook.stages.job_rank
            stage = forward("opportunity_stage", where_lead_was, asked, rank) if known else asked
        fields: Doc = {
            "lead_id": lead["lead_id"],
            "contact_id": contact["contact_id"],
            "company_id": lead.get("company_id") or contact.get("company_id"),
            "name": args.name or lead["title"],
            "stage": stage,
            "amount": args.amount if args.amount is not None else lead.get("estimated_value"),
            "expected_close_date": args.expected_close_date or lead.get("expected_close_date"),
            "needs_site_visit": args.needs_site_visit or stage == "scheduled",
            "effort_class": lead.get("effort_class"),
            "competitors": lead.get("competitors") or None,
        }
        if stage == "proposal_sent":
            fields["proposal_sent_date"] = (
                estimate_day(store, lead) if where_lead_was == "proposal_sent" else store.today()
            )
        needs = gate_missing(store, "job", fields, stage)
        if needs:
            raise MissingInformation(
                f"{lead['title']} would start as a job at {store.playbook.stages.job_label(stage)}, which needs "
                f"{' and '.join(needs)}. Nothing was changed; give it with the conversion (the amount, say).",
                needs,
            )
        opp = store.insert("opportunities", fields, action="created")
        lead = set_lead_status(
            store, lead, "converted", {"converted_opportunity_id": opp["opportunity_id"]}, action="converted"
        )
        system_note(
            store,
            f"Lead converted to job {opp['opportunity_id']} — {opp['name']} "
            f"({store.playbook.stages.job_label(stage).lower()}).",
            lead_id=lead["lead_id"],
            opportunity_id=opp["opportunity_id"],
        )
    if stage == "proposal_sent":
        sent = dt.date.fromisoformat(opp["proposal_sent_date"])
        next_step = f"follow up on the estimate sent {sent:%a %b} {sent.day}"
    elif opp["needs_site_visit"]:
        next_step = "book the site visit"
    else:
        next_step = "prepare the estimate"
    return {
        "lead": lead_card(store, lead),
        "opportunity": opp,
        "message": f"Converted {lead['title']} into job {opp['opportunity_id']} "
        f"({opp['stage'].replace('_', ' ')}). Next: {next_step}.",
    }
