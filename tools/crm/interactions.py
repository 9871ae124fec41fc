"""Interactions: every call, email, text, meeting and note, and the follow-ups they promise."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, model_validator

from backoffice.tools.book import clock
from backoffice.tools.book.models import InteractionType, Outcome
from backoffice.tools.book.states import check
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.errors import IllegalTransition, MissingInformation
from backoffice.tools.registry import ToolInput, tool

OWNER_TOUCHES = {"phone_call", "email_outbound", "sms", "meeting"}


class LogInteractionInput(ToolInput):
    type: InteractionType = Field(default="note", description="what kind of touchpoint; a site visit is a meeting")
    contact_id: str | None = Field(default=None, description="who it was with, a contact id, like C-12")
    lead_id: str | None = Field(default=None, description="the lead it was about, a lead id, like L-4")
    opportunity_id: str | None = Field(
        default=None, description="the job it was about, a job (opportunity) id, like O-2"
    )
    subject: str = Field(default="", description="a few words saying what it was about")
    body: str = Field(default="", description="what was discussed, or the message text")
    outcome: Outcome = Field(default="none", description="how it went; none when there is nothing to say")
    follow_up_date: dt.date | None = Field(
        default=None, description="a committed callback or next step; makes a pending follow-up"
    )
    timestamp: dt.datetime | None = Field(default=None, description="when it happened; default now")
    ai_summary: str | None = Field(default=None, description="a one-line summary for lists")
    message_id: str | None = Field(default=None, description="the email's Message-ID, for emails")
    thread_id: str | None = Field(default=None, description="the mail thread it belongs to, for emails")

    @model_validator(mode="after")
    def _linked(self) -> LogInteractionInput:
        if not (self.contact_id or self.lead_id or self.opportunity_id):
            raise ValueError("give at least one of contact_id, lead_id, opportunity_id")
        return self


def add_interaction(store: Store, args: LogInteractionInput, inbound: bool = False) -> Doc:
    """Validate links, fill the contact from the lead or opportunity, apply the side effects.
    ``inbound``: the customer reached us (a captured inquiry), so it does not mean the lead is being worked."""
    with store.transaction():
        lead = store.require("leads", args.lead_id) if args.lead_id else None
        opp = store.require("opportunities", args.opportunity_id) if args.opportunity_id else None
        contact_id = args.contact_id or (lead or {}).get("contact_id") or (opp or {}).get("contact_id")
        if contact_id:
            store.require("contacts", contact_id)
        moment = args.timestamp or store.now()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=store.tz)
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
        }
        interaction = store.insert("interactions", fields, action="logged")
        if lead and lead["status"] == "new" and args.type in OWNER_TOUCHES and not inbound:
            # someone reached out: the lead is being worked
            store.update("leads", lead["lead_id"], {"status": "working"}, action="status_changed")
        if args.outcome == "sent_proposal":
            if lead and lead["status"] in ("new", "working", "qualified"):
                store.update("leads", lead["lead_id"], {"pipeline_stage": "estimate_sent"}, action="stage_changed")
            if opp and opp["stage"] in ("estimating", "scheduled"):
                store.update(
                    "opportunities",
                    opp["opportunity_id"],
                    {"stage": "proposal_sent", "proposal_sent_date": moment.astimezone(store.tz).date()},
                    action="stage_changed",
                )
        return interaction


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


@tool("write")
def log_interaction(store: Store, args: LogInteractionInput) -> dict[str, Any]:
    """Log a call, email, text, meeting or note against a contact, lead and/or opportunity (at least one).
    A follow_up_date records a committed callback as a pending follow-up. Logging a call, outbound email,
    text or meeting on a new lead marks it as being worked."""
    interaction = add_interaction(store, args)
    message = f"Logged {args.type.replace('_', ' ')} ({interaction['interaction_id']})."
    if args.follow_up_date:
        message += f" Follow-up due {args.follow_up_date:%a %b %d}."
    return {"interaction": interaction, "message": message}


class FollowUpInput(ToolInput):
    interaction_id: str = Field(description="the id of the interaction holding the follow-up, like I-15")
    note: str | None = Field(
        default=None, description="optional words added to the interaction's text, e.g. why it was closed"
    )


def _close_follow_up(store: Store, args: FollowUpInput, status: str) -> dict[str, Any]:
    with store.transaction():
        item = store.require("interactions", args.interaction_id)
        if item["follow_up_status"] != "pending":
            raise IllegalTransition(
                f"Follow-up {args.interaction_id} is {item['follow_up_status']}, not pending; only a pending "
                "follow-up can be completed or canceled."
            )
        changes: Doc = {"follow_up_status": status}
        if args.note:
            changes["body"] = (item.get("body") or "") + f"\n[{status} {clock.stamp(store.now())}] {args.note}"
        updated = store.update("interactions", args.interaction_id, changes, action=f"follow_up_{status}")
    return {"interaction": updated, "message": f"Follow-up {args.interaction_id} marked {status}."}


@tool("write")
def complete_follow_up(store: Store, args: FollowUpInput) -> dict[str, Any]:
    """Mark a pending follow-up as done."""
    return _close_follow_up(store, args, "completed")


@tool("write")
def cancel_follow_up(store: Store, args: FollowUpInput) -> dict[str, Any]:
    """Cancel a pending follow-up that is no longer needed."""
    return _close_follow_up(store, args, "canceled")


def set_lead_status(
    store: Store, lead: Doc, target: str, changes: Doc | None = None, action: str = "status_changed"
) -> Doc:
    check("lead", lead["lead_id"], lead["status"], target)
    return store.update("leads", lead["lead_id"], {"status": target, **(changes or {})}, action=action)


def require_fields(what: str, record: Doc, needed: dict[str, str]) -> None:
    missing = [label for field, label in needed.items() if not record.get(field)]
    if missing:
        raise MissingInformation(f"{what} is missing: {', '.join(missing)}.", missing)
