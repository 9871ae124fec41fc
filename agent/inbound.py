"""One path for every inbound email, whether the Gmail poller fetched it or the owner ran
``backoffice inbound FILE.eml``.

1. Read it (``tools.email_in``). Mail that no person wrote to the business — newsletters,
   automatic replies, bounces, the owner's own mail — is skipped, with the reason.
2. Seen before (same Message-ID)? Nothing happens, however often it is polled.
3. A reply in a thread we know, or mail from a known contact with an open lead or job, is logged
   on that lead or job as an inbound email. It does not open a second lead.
4. Anything else is a new inquiry: the ``inbound_email`` event, which matches the sender by email
   (or a phone in the signature), opens a lead and logs the email.

The email's text is data. No planner reads it here, and nothing in it can make anything run.
The owner is told through ``notifications/`` (the chat shows new inquiries when it opens).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from typing import Literal

from backoffice.agent.briefings.notifications import Notification, Notifications
from backoffice.agent.orchestrator import build
from backoffice.agent.reply import Reply
from backoffice.tools.book import clock
from backoffice.tools.book.models import OPEN_LEAD_STATUSES, OPEN_OPPORTUNITY_STAGES
from backoffice.tools.book.normalize import email_normal, phone_e164
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.crm.interactions import LogInteractionInput, add_interaction
from backoffice.tools.mail import gmail_account
from backoffice.tools.mail.parse import InboundEmail, automated_reason, parse_email
from backoffice.tools.reports.activity import current_work

log = logging.getLogger("backoffice.inbound")


@dataclass
class InboundResult:
    status: Literal["lead", "logged", "duplicate", "skipped", "error"]
    message: str
    message_id: str
    lead_id: str | None = None
    opportunity_id: str | None = None
    contact_id: str | None = None


def owner_addresses(store: Store) -> set[str]:
    found = {email_normal(store.settings.owner_email)} if store.settings.owner_email else set()
    connected_as = gmail_account.load_state(store.directory).get("email")  # the connected Gmail is the owner too
    if connected_as:
        found.add(email_normal(connected_as))
    return {e for e in found if e}


def handle_inbound(store: Store, raw: bytes, thread_id: str | None = None) -> InboundResult:
    mail = parse_email(raw, thread_id)
    reason = automated_reason(mail, owner_addresses(store))
    if reason:
        return InboundResult("skipped", f"Not an inquiry: {reason}. ({mail.subject or 'no subject'})", mail.message_id)
    with store.reading():
        seen = store.by_message_id(mail.message_id) or store.by_source_ref("leads", mail.message_id)
    if seen:
        return InboundResult("duplicate", f"Already handled: {mail.subject or mail.message_id}.", mail.message_id)
    target = existing_work(store, mail)
    if target is not None:
        return _log_on(store, mail, target)
    return _new_inquiry(store, mail)


def existing_work(store: Store, mail: InboundEmail) -> Doc | None:
    """The open lead or job this email continues: the thread it replies to, else the sender's open work."""
    with store.reading():
        for ref in reversed(mail.in_reply_to):  # References run oldest first
            earlier = store.by_message_id(ref)
            if earlier is None:
                continue
            work = _open_work(store, earlier)
            if work is not None:
                return work
    contacts = store.contacts_by_email(mail.sender_email)
    if len(contacts) == 1:
        lead, job = current_work(store, contacts[0]["contact_id"])
        if job is not None:
            return {"opportunity_id": job["opportunity_id"], "contact_id": job.get("contact_id"), "name": job["name"]}
        if lead is not None:
            return {"lead_id": lead["lead_id"], "contact_id": lead.get("contact_id"), "name": lead["title"]}
    return None


def _open_work(store: Store, earlier: Doc) -> Doc | None:
    if earlier.get("opportunity_id"):
        job = store.get("opportunities", earlier["opportunity_id"])
        if job and job["stage"] in OPEN_OPPORTUNITY_STAGES:
            return {"opportunity_id": job["opportunity_id"], "contact_id": job.get("contact_id"), "name": job["name"]}
    if earlier.get("lead_id"):
        lead = store.get("leads", earlier["lead_id"])
        if lead and lead.get("converted_opportunity_id"):
            return _open_work(store, {"opportunity_id": lead["converted_opportunity_id"]})
        if lead and lead["status"] in OPEN_LEAD_STATUSES:
            return {"lead_id": lead["lead_id"], "contact_id": lead.get("contact_id"), "name": lead["title"]}
    return None


def _body(mail: InboundEmail) -> str:
    text = mail.text or "(no text)"
    if mail.attachments:
        text += "\n\nAttachments: " + ", ".join(mail.attachments)
    return text


def _log_on(store: Store, mail: InboundEmail, target: Doc) -> InboundResult:
    with store.acting_as("email"):
        item = add_interaction(
            store,
            LogInteractionInput(
                type="email_inbound",
                contact_id=target.get("contact_id"),
                lead_id=target.get("lead_id"),
                opportunity_id=target.get("opportunity_id"),
                subject=mail.subject,
                body=_body(mail),
                timestamp=mail.date,
                message_id=mail.message_id,
                thread_id=mail.thread_id,
            ),
            inbound=True,
        )
    who = mail.sender_name or mail.sender_email
    message = f"{who} wrote about {target['name']}: logged on it ({item['interaction_id']})."
    result = InboundResult(
        "logged",
        message,
        mail.message_id,
        lead_id=target.get("lead_id"),
        opportunity_id=target.get("opportunity_id"),
        contact_id=target.get("contact_id"),
    )
    _tell_owner(store, result, mail)
    return result


def _new_inquiry(store: Store, mail: InboundEmail) -> InboundResult:
    region = store.settings.default_phone_region
    phone = next((p for p in mail.phones if phone_e164(p, region)), None)
    payload = {
        "name": mail.sender_name or None,
        "email": mail.sender_email,
        "phone": phone,
        "description": _body(mail),
        "subject": mail.topic or None,
        "source": "email",
        "source_ref": mail.message_id,
        "message_id": mail.message_id,
        "thread_id": mail.thread_id,
        "timestamp": mail.date.isoformat() if mail.date else None,
    }
    orch = build(store, None, origin="email", offline=True, actor="email")
    reply: Reply = orch.handle_event("inbound_email", payload)
    lead = store.by_source_ref("leads", mail.message_id)
    if lead is None:
        text = reply.plain() or "the inquiry could not be recorded"
        return InboundResult("error", f"Could not record the email from {mail.sender_email}: {text}", mail.message_id)
    lead_id = lead["lead_id"]
    result = InboundResult("lead", reply.plain(), mail.message_id, lead_id=lead_id, contact_id=lead.get("contact_id"))
    _tell_owner(store, result, mail)
    return result


def _tell_owner(store: Store, result: InboundResult, mail: InboundEmail) -> None:
    """A notification the chat shows when it next opens (one per email)."""
    day = store.today()
    ref = result.lead_id or result.opportunity_id or "mail"
    reply = Reply(planner="events").say(result.message)
    if mail.text:
        excerpt = mail.text if len(mail.text) <= 400 else mail.text[:399] + "…"
        reply.say("> " + excerpt.replace("\n", "\n> "))
    note = Notification(
        id=f"{day.isoformat()}-email-{ref}-{hashlib.sha256(mail.message_id.encode()).hexdigest()[:8]}",
        kind="email",
        day=day.isoformat(),
        title=f"Email from {mail.sender_name or mail.sender_email}",
        created_at=clock.stamp(store.now()),
        origin="email",
        blocks=[asdict(b) for b in reply.blocks],
        data=asdict(result),
    )
    Notifications(store.directory).add(note)
    log.info("%s", result.message)


# ---------------------------------------------------------------------------- polling
def poll_gmail(store: Store) -> dict[str, int]:
    """Read new Gmail through this path; how many messages had each outcome."""
    from backoffice.tools.mail import gmail  # Google's client libraries load only to read Gmail

    return gmail.poll(
        store.directory, lambda raw, thread: handle_inbound(store, raw, thread).status, store.services.gmail_http
    )


NOTHING_NEW = "No new mail."


def counts_line(counts: dict[str, int]) -> str:
    if not counts:
        return NOTHING_NEW
    words = {"lead": "new lead(s)", "logged": "reply(ies) logged", "duplicate": "already seen", "skipped": "skipped"}
    return "Mail read: " + ", ".join(f"{n} {words.get(k, k)}" for k, n in counts.items()) + "."
