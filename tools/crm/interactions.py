"""Interactions: every call, email, text, meeting and note, and the follow-ups they promise.

A follow-up is a pending interaction with a date. It ends in one of three ways: done
(``complete_follow_up``, or by logging the touch that answers it), no longer needed
(``cancel_follow_up``), or moved to another day (``reschedule_follow_up``). Logging a call, a sent
email, a text or a meeting that reached the customer closes the oldest follow-up due on the same
lead, job or contact, and says which one; ``closes_follow_up`` names another, or "none".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, model_validator

from backoffice.tools.book import clock
from backoffice.tools.book.models import OPEN_LEAD_STATUSES, InteractionType, Outcome, is_open_job
from backoffice.tools.book.normalize import full_name
from backoffice.tools.book.scoring import score_lead
from backoffice.tools.book.states import check, forward
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.crm.stages import gate_missing
from backoffice.tools.errors import Ambiguous, BadInput, IllegalTransition, MissingInformation
from backoffice.tools.registry import ToolInput, tool

OWNER_TOUCHES = {"phone_call", "email_outbound", "sms", "meeting"}
MISSED = {"left_voicemail", "no_show"}  # we tried, but did not reach them: the promise still stands
NO_FOLLOW_UP = "none"


class LogInteractionInput(ToolInput):
    type: InteractionType = Field(
        default="note",
        description="phone_call, email_inbound (they wrote), email_outbound (we wrote), sms, meeting (a visit), "
        "note, or system (the agent's own record)",
    )
    contact_id: str | None = Field(default=None, description="the person (C-12)")
    lead_id: str | None = Field(default=None, description="the lead it was about (L-3), when there is one")
    opportunity_id: str | None = Field(default=None, description="the job it was about (O-7), when there is one")
    subject: str = Field(default="", description="a few words saying what it was about")
    body: str = Field(default="", description="what was discussed, or the message text")
    outcome: Outcome = Field(
        default="none",
        description="spoke, left_voicemail, no_show, rescheduled, sent_proposal (a price went out), "
        "accepted_proposal, rejected_proposal, or none",
    )
    follow_up_date: dt.date | None = Field(
        default=None, description="a committed callback or next step; makes a pending follow-up"
    )
    timestamp: dt.datetime | None = Field(default=None, description="when it happened; default now")
    ai_summary: str | None = Field(default=None, description="a one-line summary of what happened")
    message_id: str | None = Field(default=None, description="the email's Message-ID, for emails")
    thread_id: str | None = Field(default=None, description="the mail thread, for emails")
    closes_follow_up: str | None = Field(
        default=None,
        description="the id (I-12) of the pending follow-up this answers, or 'none' to close nothing. By "
        "default a call, sent email, text or meeting that reached them closes the oldest follow-up due "
        "on the same lead, job or contact",
    )
    about_contact_only: bool = Field(
        default=False,
        description="true when it concerns the person in general and none of their open leads or jobs",
    )

    @model_validator(mode="after")
    def _linked(self) -> LogInteractionInput:
        if not (self.contact_id or self.lead_id or self.opportunity_id):
            raise ValueError("give at least one of contact_id, lead_id, opportunity_id")
        return self


def add_interaction(
    store: Store, args: LogInteractionInput, inbound: bool = False, references: list[str] | None = None
) -> Doc:
    """Validate links, fill the contact from the lead or opportunity, apply the side effects.
    ``inbound``: the customer reached us (a captured inquiry), so it does not mean the lead is being worked."""
    return record_interaction(store, args, inbound, references)[0]


def record_interaction(
    store: Store, args: LogInteractionInput, inbound: bool = False, references: list[str] | None = None
) -> tuple[Doc, Doc | None]:
    """``add_interaction``, also returning the follow-up it closed (None when it closed none).
    ``references``: the Message-IDs of the thread an email belongs to, oldest first."""
    with store.transaction():
        lead = store.require("leads", args.lead_id) if args.lead_id else None
        opp = store.require("opportunities", args.opportunity_id) if args.opportunity_id else None
        contact_id = args.contact_id or (lead or {}).get("contact_id") or (opp or {}).get("contact_id")
        if contact_id:
            store.require("contacts", contact_id)
        moment = args.timestamp or store.now()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=store.tz)
        day = moment.astimezone(store.tz).date()
        answered = _answered_follow_up(store, args, contact_id, day, inbound)
        fields = {
            "type": args.type,
            "timestamp": moment,
            "contact_id": contact_id,
            "lead_id": args.lead_id,
            "opportunity_id": args.opportunity_id,
            "subject": args.subject,
            "body": args.body,
            "outcome": args.outcome,
            "follow_up_date": args.follow_up_date,
            "follow_up_status": "pending" if args.follow_up_date else "none",
            "ai_summary": args.ai_summary,
            "message_id": args.message_id,
            "thread_id": args.thread_id,
            "references": references or None,
        }
        interaction = store.insert("interactions", fields, action="logged")
        if answered is not None:
            answered = store.update(
                "interactions",
                answered["interaction_id"],
                {"follow_up_status": "completed"},
                action="follow_up_completed",
            )
        if lead and args.type in OWNER_TOUCHES and not inbound:
            # someone reached out: a new lead is being worked
            status = forward("lead_status", lead["status"], "working")
            if status != lead["status"]:
                lead = store.update("leads", lead["lead_id"], {"status": status}, action="status_changed")
        if args.outcome == "sent_proposal":
            if lead and lead["status"] in OPEN_LEAD_STATUSES:
                stage = forward("lead_stage", lead["pipeline_stage"], "estimate_sent")
                if stage != lead["pipeline_stage"] and not gate_missing(store, "lead", lead, stage):
                    store.update("leads", lead["lead_id"], {"pipeline_stage": stage}, action="stage_changed")
            # a won or lost job is further along than proposal_sent: forward() leaves it alone; a stage
            # whose gate is not met is not entered (log_interaction says what is missing)
            rank = store.playbook.stages.job_rank
            moved = {"stage": "proposal_sent", "proposal_sent_date": day}
            if (
                opp
                and forward("opportunity_stage", opp["stage"], "proposal_sent", rank) != opp["stage"]
                and not gate_missing(store, "job", {**opp, **moved}, "proposal_sent")
            ):
                store.update(
                    "opportunities",
                    opp["opportunity_id"],
                    {"stage": "proposal_sent", "proposal_sent_date": day},
                    action="stage_changed",
                )
        return interaction, answered


def _answered_follow_up(
    store: Store, args: LogInteractionInput, contact_id: str | None, day: dt.date, inbound: bool
) -> Doc | None:
    """The pending follow-up this interaction closes: the one named, or else, for a touch that
    reached the customer, the oldest one due by ``day`` on the same lead or job, or on the same
    contact when that follow-up belongs to no lead or job (one on another lead is not answered by a
    call about this one)."""
    chosen = (args.closes_follow_up or "").strip()
    if chosen.lower() == NO_FOLLOW_UP:
        return None
    if chosen:
        item = store.require("interactions", chosen)
        if item["follow_up_status"] != "pending":
            raise IllegalTransition(
                f"Follow-up {item['interaction_id']} is {item['follow_up_status']}, not pending; nothing was logged."
            )
        mine = {("lead_id", args.lead_id), ("opportunity_id", args.opportunity_id), ("contact_id", contact_id)}
        if not any(value and item.get(link) == value for link, value in mine):
            raise BadInput(
                f"Follow-up {item['interaction_id']}",
                [f"it is about {_about(store, item)}, not the contact, lead or job being logged"],
            )
        return item
    if inbound or args.type not in OWNER_TOUCHES or args.outcome in MISSED:
        return None
    due: dict[str, Doc] = {}
    for link, value in (("lead_id", args.lead_id), ("opportunity_id", args.opportunity_id)):
        if value:
            due.update((d["interaction_id"], d) for d in store.pending_follow_ups(day, link, value))
    if contact_id:
        for d in store.pending_follow_ups(day, "contact_id", contact_id):
            if not (d.get("lead_id") or d.get("opportunity_id")):
                due[d["interaction_id"]] = d
    if not due:
        return None
    return min(due.values(), key=lambda d: (d["follow_up_date"], int(d["interaction_id"][2:])))


def _about(store: Store, item: Doc) -> str:
    contact = store.get("contacts", item["contact_id"]) if item.get("contact_id") else None
    topic = item.get("subject") or item.get("body") or item["type"].replace("_", " ")
    topic = " ".join(str(topic).split())
    topic = topic if len(topic) <= 60 else topic[:59] + "…"
    return f"{full_name(contact)}: {topic}" if contact else topic


def follow_up_label(store: Store, item: Doc) -> str:
    """'I-3 (Dana Reyes: call back re: quote, due Fri Nov 20)': how a follow-up is named to the owner."""
    due = dt.date.fromisoformat(item["follow_up_date"]) if item.get("follow_up_date") else None
    when = f", due {due:%a %b} {due.day}" if due else ""
    return f"{item['interaction_id']} ({_about(store, item)}{when})"


def _held_back(store: Store, opportunity_id: str) -> str:
    """A sent proposal on a job the gate kept out of proposal_sent: what the gate is waiting for."""
    opp = store.require("opportunities", opportunity_id)
    if opp["stage"] == "proposal_sent" or not is_open_job(opp):
        return ""
    missing = gate_missing(store, "job", opp, "proposal_sent")
    if not missing:
        return ""
    stages = store.playbook.stages
    return (f" The job stays at {stages.job_label(opp['stage']).lower()}: {stages.job_label('proposal_sent').lower()} "
            f"needs {' and '.join(missing)} first.")  # fmt: skip


def system_note(
    store: Store,
    text: str,
    contact_id: str | None = None,
    lead_id: str | None = None,
    opportunity_id: str | None = None,
) -> Doc:
    """A 'system' interaction recording what the agent did (qualified, won, ...)."""
    note = LogInteractionInput(
        type="system", subject=text, body=text, contact_id=contact_id, lead_id=lead_id, opportunity_id=opportunity_id
    )
    return add_interaction(store, note)


def open_work(store: Store, contact_id: str) -> list[Doc]:
    """A contact's open leads and open jobs, oldest first."""
    leads = [d for d in store.linked("leads", "contact_id", contact_id) if d["status"] in OPEN_LEAD_STATUSES]
    jobs = [o for o in store.linked("opportunities", "contact_id", contact_id) if is_open_job(o)]
    return sorted([*leads, *jobs], key=lambda d: d["created_at"])


def work_label(doc: Doc) -> str:
    if "stage" not in doc:  # leads have a pipeline_stage, jobs a stage
        return f"the lead {doc['title']} ({doc['lead_id']}, {doc['pipeline_stage'].replace('_', ' ')})"
    return f"the job {doc['name']} ({doc['opportunity_id']}, {doc['stage'].replace('_', ' ')})"


def _with_the_work(store: Store, args: LogInteractionInput) -> tuple[LogInteractionInput, str]:
    """An interaction given only a contact lands on their one open lead or job, and is refused,
    listing them, when they have several: which one a call was about is the owner's to say."""
    if args.lead_id or args.opportunity_id or not args.contact_id or args.about_contact_only:
        return args, ""
    if args.type == "system":
        return args, ""
    contact = store.require("contacts", args.contact_id)
    work = open_work(store, contact["contact_id"])
    if not work:
        return args, ""
    if len(work) == 1:
        [only] = work
        link = {"opportunity_id": only["opportunity_id"]} if "stage" in only else {"lead_id": only["lead_id"]}
        return args.model_copy(update=link), f" On {work_label(only)}, {full_name(contact)}'s only open one."
    listed = "; ".join(work_label(d) for d in work[:8])
    raise Ambiguous(
        f"Nothing was logged: {full_name(contact)} has {len(work)} open leads and jobs ({listed}). "
        "Say which one it was about (lead_id or opportunity_id), or set about_contact_only if it was about none.",
        [
            {"lead_id": d["lead_id"], "title": d["title"]}
            if "stage" not in d
            else {"opportunity_id": d["opportunity_id"], "name": d["name"]}
            for d in work
        ],
    )


@tool("write")
def log_interaction(store: Store, args: LogInteractionInput) -> dict[str, Any]:
    """Log a call, email, text, meeting or note against a contact, lead and/or opportunity (at least one).
    Name the lead or job it was about: given only a contact with one open lead or job, it is logged on
    that one; with several, nothing is logged and they are listed so the owner can say which.
    A follow_up_date records a committed callback as a pending follow-up. A call, sent email, text or
    meeting that reached them (not a voicemail or no-show) closes the oldest follow-up due on the same
    lead, job or contact (closes_follow_up picks another, or 'none'). Logging one of those on a new lead
    marks it as being worked; outcome sent_proposal moves the lead to estimate_sent and the job to
    proposal_sent (never backwards)."""
    args, where = _with_the_work(store, args)
    interaction, closed = record_interaction(store, args)
    message = f"Logged {args.type.replace('_', ' ')} ({interaction['interaction_id']}).{where}"
    if args.outcome == "sent_proposal" and args.opportunity_id:
        message += _held_back(store, args.opportunity_id)
    if closed is not None:
        message += f" That answers follow-up {follow_up_label(store, closed)}: marked done."
    if args.follow_up_date:
        message += f" Follow-up due {args.follow_up_date:%a %b %d}."
    return {"interaction": interaction, "closed_follow_up": closed, "message": message}


# ---------------------------------------------------------------------------- follow-ups
class FollowUpInput(ToolInput):
    interaction_id: str = Field(description="the follow-up's id (I-12), as the digest lists it")
    note: str | None = Field(default=None, description="why, in the owner's words; kept on the record")


def _pending(store: Store, interaction_id: str, doing: str) -> Doc:
    item = store.require("interactions", interaction_id)
    if item["follow_up_status"] == "none":
        raise IllegalTransition(
            f"{item['interaction_id']} ({_about(store, item)}) has no follow-up; only a pending follow-up can be "
            f"{doing}."
        )
    if item["follow_up_status"] != "pending":
        raise IllegalTransition(
            f"Follow-up {item['interaction_id']} is {item['follow_up_status']}, not pending; only a pending "
            f"follow-up can be {doing}."
        )
    return item


def _noted(store: Store, item: Doc, what: str, note: str | None) -> Doc:
    if not note:
        return {}
    return {"body": (item.get("body") or "") + f"\n[{what} {clock.stamp(store.now())}] {note.strip()}"}


def _close_follow_up(store: Store, args: FollowUpInput, status: str) -> dict[str, Any]:
    with store.transaction():
        item = _pending(store, args.interaction_id, "completed or canceled")
        changes: Doc = {"follow_up_status": status, **_noted(store, item, status, args.note)}
        updated = store.update("interactions", item["interaction_id"], changes, action=f"follow_up_{status}")
    return {"interaction": updated, "message": f"Follow-up {follow_up_label(store, item)} marked {status}."}


@tool("write")
def complete_follow_up(store: Store, args: FollowUpInput) -> dict[str, Any]:
    """Mark a pending follow-up as done: it leaves the digest's action list."""
    return _close_follow_up(store, args, "completed")


@tool("write")
def cancel_follow_up(store: Store, args: FollowUpInput) -> dict[str, Any]:
    """Cancel a pending follow-up that is no longer needed: it leaves the digest's action list. Nothing
    is sent to anyone."""
    return _close_follow_up(store, args, "canceled")


class RescheduleFollowUpInput(ToolInput):
    interaction_id: str = Field(description="the follow-up's id (I-12), as the digest lists it")
    follow_up_date: dt.date = Field(description="the new day it is due (YYYY-MM-DD), today or later")
    note: str | None = Field(default=None, description="why it moved, in the owner's words; kept on the record")


@tool("write")
def reschedule_follow_up(store: Store, args: RescheduleFollowUpInput) -> dict[str, Any]:
    """Move a pending follow-up to another day (today or later). It stays pending and shows in the
    digest on the new day."""
    today = store.today()
    if args.follow_up_date < today:
        raise BadInput(
            "follow_up_date", [f"{args.follow_up_date:%a %b %d, %Y} is in the past; give today or a later day"]
        )
    with store.transaction():
        item = _pending(store, args.interaction_id, "rescheduled")
        was = dt.date.fromisoformat(item["follow_up_date"])
        changes: Doc = {"follow_up_date": args.follow_up_date, **_noted(store, item, "rescheduled", args.note)}
        updated = store.update("interactions", item["interaction_id"], changes, action="follow_up_rescheduled")
    new = args.follow_up_date
    return {
        "interaction": updated,
        "message": f"Follow-up {item['interaction_id']} ({_about(store, item)}) moved from {was:%a %b} {was.day} "
        f"to {new:%a %b} {new.day}.",
    }


def set_lead_status(
    store: Store, lead: Doc, target: str, changes: Doc | None = None, action: str = "status_changed"
) -> Doc:
    check("lead", lead["lead_id"], lead["status"], target)
    fields = {"status": target, **(changes or {})}
    if target in ("converted", "disqualified") and lead["status"] in OPEN_LEAD_STATUSES:
        # the score the lead had when it was decided stays on it: the scoring health check compares it
        # with what became of the lead
        fact = store.lead_facts([lead["lead_id"]]).get(lead["lead_id"])
        if fact is not None:
            fields.update(score_lead(fact, store.playbook, store.today()).stored())
    return store.update("leads", lead["lead_id"], fields, action=action)


def require_fields(what: str, record: Doc, needed: dict[str, str]) -> None:
    missing = [label for field, label in needed.items() if not record.get(field)]
    if missing:
        raise MissingInformation(f"{what} is missing: {', '.join(missing)}.", missing)
