"""Customer messages: follow-up drafts that fit where a lead or job stands, and sending (owner's yes first).

Drafting only reads. Sending is consequential: the gate shows the whole message and waits for the
owner. Sending is idempotent: the Message-ID is derived from recipient, subject, text and day, so a
retried or twice-approved send finds its own earlier record and does nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any, Literal

from pydantic import Field, model_validator

from backoffice.tools.book.normalize import full_name
from backoffice.tools.book.states import ESTIMATE_OUT_STAGES
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.crm.interactions import LogInteractionInput, add_interaction
from backoffice.tools.errors import MissingInformation
from backoffice.tools.mail.mailers import mailer_for
from backoffice.tools.mail.parse import MESSAGE_ID, REPLY_PREFIX
from backoffice.tools.registry import ToolInput, tool
from backoffice.tools.reports.activity import current_work, summary

DraftStage = Literal["inquiry", "visit_booked", "estimate_sent", "accepted", "lost"]


# ---------------------------------------------------------------------------- drafting
class DraftFollowUpInput(ToolInput):
    lead_id: str | None = Field(default=None, description="the lead to follow up (L-3)")
    opportunity_id: str | None = Field(default=None, description="the job to follow up (O-7), open or lost")
    contact_id: str | None = Field(
        default=None,
        description="the person, when there is no lead or job to name: their open work is used, else their "
        "last lost job",
    )

    @model_validator(mode="after")
    def _one(self) -> DraftFollowUpInput:
        if not (self.lead_id or self.opportunity_id or self.contact_id):
            raise ValueError("give lead_id, opportunity_id or contact_id")
        return self


def _job_words(title: str) -> str:
    """'Leaky faucet at 12 Main' -> 'the leaky faucet at 12 Main'; acronyms stay as they are."""
    title = title.strip().rstrip(".")
    if len(title) > 1 and title[0].isupper() and not title[1].isupper():
        title = title[0].lower() + title[1:]
    return title if title.lower().startswith(("the ", "your ", "a ")) else f"the {title}"


def _last_proposal_date(store: Store, link: str, record_id: str) -> dt.date | None:
    sent = store.linked("interactions", link, record_id)
    stamps = [d["timestamp"] for d in sent if d.get("outcome") == "sent_proposal"]
    return dt.datetime.fromisoformat(max(stamps)).astimezone(store.tz).date() if stamps else None


def _stage(store: Store, lead: Doc | None, opp: Doc | None) -> tuple[DraftStage, dt.date | None]:
    if opp:
        if opp["stage"] == "lost":
            return "lost", None
        last = store.latest_interaction("opportunity_id", opp["opportunity_id"], human_only=True)
        if opp["stage"] == "won" or (last and last.get("outcome") == "accepted_proposal"):
            return "accepted", None
        if opp["stage"] == "proposal_sent":
            sent = opp.get("proposal_sent_date")
            return "estimate_sent", dt.date.fromisoformat(sent) if sent else None
        if opp["stage"] == "scheduled":
            return "visit_booked", None
        return "inquiry", None
    if lead:
        last = store.latest_interaction("lead_id", lead["lead_id"], human_only=True)
        if last and last.get("outcome") == "accepted_proposal":
            return "accepted", None
        if lead["pipeline_stage"] in ESTIMATE_OUT_STAGES:
            return "estimate_sent", _last_proposal_date(store, "lead_id", lead["lead_id"])
        if lead["pipeline_stage"] == "scheduled_visit":
            return "visit_booked", None
    return "inquiry", None


FULL_DRAFT = (
    "If it would help to talk it through, I am glad to go over the options with you myself, and what each "
    "would cost, so you can choose what suits you best."
)


def _depth(middle: str, depth: str) -> str:
    """How deep a draft goes, as the class of the work says (playbook.json classes): a gold customer
    gets the owner's offer to go over the options on top, a bronze one the opening sentence and the
    question (or the closing sentence) only."""
    if depth == "full":
        return f"{middle}\n\n{FULL_DRAFT}"
    sentences = [s for s in re.split(r"(?<=[.?!])\s+", middle) if s]
    if depth == "brief" and len(sentences) > 2:
        ask = next((s for s in sentences[1:] if s.endswith("?")), sentences[-1])
        return f"{sentences[0]} {ask}"
    return middle


def compose_follow_up(
    store: Store, stage: DraftStage, first: str, job: str, sent_on: dt.date | None, depth: str = "standard"
) -> str:
    settings = store.settings
    hello = f"Hi {first}," if first else "Hello,"
    if stage == "inquiry":
        day = store.calendar.add_business_days(store.today(), 1)
        middle = (
            f"Thanks again for getting in touch about {job}. The surest way for me to give you a firm price "
            "is to come and take a look; it rarely takes more than an hour. "
            f"Would {day:%A} work for you, morning or afternoon? If not, tell me a time that suits you."
        )
    elif stage == "visit_booked":
        middle = (
            f"Just confirming our visit to look at {job}. If the time no longer works for you, reply to this "
            "message and we will find another one."
        )
    elif stage == "estimate_sent":
        when = f" on {sent_on:%B} {sent_on.day}" if sent_on else ""
        middle = (
            f"I wanted to check in on the estimate for {job} I sent you{when}. If anything in it is unclear, "
            "or you would like to change the scope, I am glad to go through it with you. "
            "When you are ready to go ahead, just reply and I will get you on the schedule."
        )
    elif stage == "lost":
        middle = (
            f"It has been a while since we talked about {job}, and I wanted to check in. If the work went "
            "ahead, I hope it turned out well. If anything is still unfinished, or there is something else we "
            "can help with, I would be glad to hear from you."
        )
    else:
        middle = (
            f"Thank you for choosing {settings.business_name} for {job}. You are on our list to be scheduled, "
            "and I will be in touch in the next few days with dates. If anything changes in the meantime, "
            "just let me know."
        )
    middle = _depth(middle, depth)
    return f"{hello}\n\n{middle}\n\nBest regards,\n{settings.owner_name}\n{settings.business_name}\n"


@tool("read")
def draft_follow_up(store: Store, args: DraftFollowUpInput) -> dict[str, Any]:
    """Draft a follow-up message for a lead, a job or a contact, worded for where it stands (before a
    price, a visit booked, estimate sent, accepted and waiting to be scheduled, or a check-back after a
    lost job). Returns the draft and the last touchpoint; nothing is sent. To send it, call send_message
    with the same text; the owner reviews it."""
    lead = store.require("leads", args.lead_id) if args.lead_id else None
    opp = store.require("opportunities", args.opportunity_id) if args.opportunity_id else None
    contact_id = args.contact_id or (opp or {}).get("contact_id") or (lead or {}).get("contact_id")
    if not contact_id:
        raise MissingInformation("That lead has no contact yet, so there is nobody to write to.", ["contact"])
    contact = store.require("contacts", contact_id)
    if not (lead or opp):
        lead, opp = current_work(store, contact_id)
    if not (lead or opp):
        lost = [o for o in store.linked("opportunities", "contact_id", contact_id) if o["stage"] == "lost"]
        opp = max(lost, key=lambda o: (o.get("close_date") or "", o["created_at"])) if lost else None
    stage, sent_on = _stage(store, lead, opp)
    title = (opp or {}).get("name") or (lead or {}).get("title") or "your project"
    effort = (opp or {}).get("effort_class") or (lead or {}).get("effort_class")
    depth = store.playbook.classes[effort].draft if effort in store.playbook.classes else "standard"
    body = compose_follow_up(store, stage, contact.get("first_name", ""), _job_words(title), sent_on, depth)
    anchor = ("opportunity_id", opp["opportunity_id"]) if opp else ("lead_id", lead["lead_id"]) if lead else None
    last = store.latest_interaction(*anchor, human_only=True) if anchor else None
    last = last or store.latest_interaction("contact_id", contact_id, human_only=True)
    touch = None
    if last:
        when = dt.datetime.fromisoformat(last["timestamp"]).astimezone(store.tz).date()
        touch = f"{when:%a %b} {when.day}: {last['type'].replace('_', ' ')} — {summary(last).rstrip('.')}"
    emails = contact.get("emails") or []
    # answer in the customer's own thread when they last wrote by email
    docs = store.linked("interactions", *anchor) if anchor else store.linked("interactions", "contact_id", contact_id)
    wrote = [d for d in docs if d["type"] == "email_inbound" and d.get("message_id")]
    theirs = max(wrote, key=lambda d: d["timestamp"]) if wrote else None
    # answering their mail: "Re: <their subject>" keeps it in their thread in Gmail and other clients
    subject = f"Re: {REPLY_PREFIX.sub('', theirs.get('subject') or '').strip() or title}" if theirs else None
    return {
        "in_reply_to": theirs["message_id"] if theirs else None,
        "thread_id": theirs.get("thread_id") if theirs else None,
        "contact_id": contact_id,
        "to": emails[0] if emails else None,
        "to_name": full_name(contact),
        "lead_id": lead["lead_id"] if lead else None,
        "opportunity_id": opp["opportunity_id"] if opp else None,
        "stage": stage,
        "class": effort,
        "depth": depth,
        "subject": subject or (f"{title} — checking in" if stage == "lost" else f"{title} — following up"),
        "body": body,
        "last_touchpoint": touch,
        "message": (f"Last touchpoint: {touch}." if touch else "No touchpoint logged yet.")
        + ("" if emails else f" {full_name(contact)} has no email address on file: call them, or add one."),
    }


# ---------------------------------------------------------------------------- sending
class SendMessageInput(ToolInput):
    contact_id: str = Field(description="who gets it, a contact id, like C-12; sent to their primary email")
    subject: str = Field(min_length=1, description="the email's subject line")
    body: str = Field(min_length=1, description="the complete text, exactly as the owner approved it")
    lead_id: str | None = Field(default=None, description="the lead it is about, a lead id, like L-4")
    opportunity_id: str | None = Field(
        default=None, description="the job it is about, a job (opportunity) id, like O-2"
    )
    purpose: Literal["follow_up", "other"] = Field(
        default="other", description="follow_up for a follow-up on an open lead or job; anything else is other"
    )
    in_reply_to: str | None = Field(default=None, description="Message-ID of the customer's email, when replying")
    thread_id: str | None = Field(default=None, description="the customer's mail thread, when replying in it")


def message_id_for(store: Store, args: SendMessageInput) -> str:
    key = "\x1f".join([args.contact_id, args.subject.strip(), args.body.strip(), store.today().isoformat()])
    return f"<bo-{hashlib.sha256(key.encode()).hexdigest()[:24]}@backoffice.local>"


def build_email(store: Store, args: SendMessageInput, to: str, name: str, message_id: str) -> EmailMessage:
    settings = store.settings
    msg = EmailMessage()
    msg["From"] = formataddr((settings.business_name, settings.owner_email or "owner@localhost"))
    msg["To"] = formataddr((name, to))
    msg["Subject"] = args.subject
    msg["Date"] = format_datetime(store.now())
    msg["Message-ID"] = message_id
    if args.in_reply_to:
        msg["In-Reply-To"] = args.in_reply_to
        msg["References"] = " ".join(references(store, args.in_reply_to))
    msg["X-Backoffice-Id"] = message_id  # found again in Sent even if Gmail replaced the Message-ID
    msg.set_content(args.body)
    return msg


def references(store: Store, answered: str) -> list[str]:
    """The References of a reply to ``answered``: the chain their email carried, then every message of
    that conversation the book holds (the emails in and out on the same lead or job, oldest first),
    ending with ``answered``. Mail clients thread by this chain; Gmail needs it, and a matching
    subject, to keep the reply in the customer's thread."""
    theirs = store.by_message_id(answered)
    if theirs is None:
        return [answered]
    link = next((k for k in ("opportunity_id", "lead_id", "contact_id") if theirs.get(k)), None)
    if link is None:
        return [answered]
    docs = store.linked("interactions", link, theirs[link])
    chain = sorted(
        (d for d in docs if d.get("message_id") and d["timestamp"] <= theirs["timestamp"]),
        key=lambda d: d["timestamp"],
    )
    ids = [*(theirs.get("references") or []), *(d["message_id"] for d in chain)]
    ids = [i for i in dict.fromkeys(ids) if i != answered and MESSAGE_ID.fullmatch(i)]
    if len(ids) > 19:  # a very long thread: the first message and the most recent ones are what clients use
        ids = [ids[0], *ids[-18:]]
    return [*ids, answered]


def _preview(store: Store, args: dict[str, Any]) -> tuple[str, str]:
    contact = store.require("contacts", args["contact_id"])
    emails = contact.get("emails") or ["(no email on file)"]
    title = f"Send an email to {full_name(contact)}"
    text = f"To: {full_name(contact)} <{emails[0]}>\nSubject: {args['subject']}\n\n{args['body'].rstrip()}"
    return title, text


@tool("consequential", preview=_preview, idempotent=True)  # the Message-ID is looked for before sending
def send_message(store: Store, args: SendMessageInput) -> dict[str, Any]:
    """Email a customer. Needs the owner's yes: the owner sees the recipient, subject and the whole text
    first. The same message is never sent twice. Without a connected mail account the message is saved
    to the outbox and the owner is told it was not sent; it is recorded as a system note, not as a
    touch, so it neither closes a follow-up nor makes a quiet lead look worked."""
    contact = store.require("contacts", args.contact_id)
    emails = contact.get("emails") or []
    if not emails:
        raise MissingInformation(f"{full_name(contact)} has no email address; add one first, or call them.", ["email"])
    message_id = message_id_for(store, args)
    earlier = store.by_message_id(message_id)
    if earlier is not None:
        return {"already": True, "interaction": earlier, "message": "That exact message was already handled today."}
    message = build_email(store, args, emails[0], full_name(contact), message_id)
    delivery = mailer_for(store).send(message, args.thread_id)
    # an unsent message reached nobody: the record says what happened, as the agent's own note
    kind: Literal["email_outbound", "system"] = "email_outbound" if delivery.sent else "system"
    subject = args.subject if delivery.sent else f"Saved to outbox, not sent: {args.subject}"
    interaction = add_interaction(
        store,
        LogInteractionInput(
            type=kind,
            contact_id=args.contact_id,
            lead_id=args.lead_id,
            opportunity_id=args.opportunity_id,
            subject=subject,
            body=args.body,
            message_id=message_id,
            thread_id=args.thread_id,
        ),
    )
    verb = f"Sent to {full_name(contact)} <{emails[0]}>." if delivery.sent else delivery.note
    return {"sent": delivery.sent, "where": delivery.where, "interaction": interaction, "message": verb}
