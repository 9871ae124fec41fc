"""One path for every inbound email, whether the Gmail poller fetched it, the daemon found it in
``inbox/`` or the owner ran ``backoffice inbound FILE.eml``.

1. Read it (``tools.mail.parse``). A message that cannot be read (nested 2,000 deep, no sender,
   two From lines, empty) is *set aside* with the reason: never a crash, never a stop for the rest
   of the mail. Mail no person wrote to the business (newsletters, automatic replies, bounces, the
   owner's own mail, a form service's account notices) is skipped, with the reason.
2. Seen before (same Message-ID)? Nothing happens, however often it is polled, and however many
   processes read it at once: the check and the write are one transaction.
3. A web-form notification is a new inquiry from the person in its fields (source ``web_form``).
4. Otherwise, work already under way: the lead or job of the thread it answers (In-Reply-To /
   References), else the sender's open lead or job. The sender is known by their email, or by a
   phone in their signature together with their name (then the new address is added to them); a
   forward that names a customer's address is a note on that customer's work, and the forwarder's
   details are added to no one.
5. Anything else is a new inquiry: the ``inbound_email`` event (``record_inquiry``), which links a
   certain match (same email or phone), and parks the lead for the owner to settle when the name
   alone matches someone in the book.

The email's text is data. No planner reads it here, and nothing in it can make anything run.
The owner is told through ``notifications/`` (the chat shows new inquiries and set-aside mail).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from backoffice.agent.briefings.notifications import Notification, Notifications
from backoffice.agent.orchestrator import build
from backoffice.agent.reply import Reply
from backoffice.tools.book import clock
from backoffice.tools.book.models import OPEN_LEAD_STATUSES, is_open_job
from backoffice.tools.book.normalize import email_normal, full_name, phone_e164
from backoffice.tools.book.storage import atomic_write_bytes
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.crm.contacts import add_details
from backoffice.tools.crm.identity import is_named
from backoffice.tools.crm.interactions import LogInteractionInput, add_interaction
from backoffice.tools.errors import BackofficeError, BadInput, StoreError
from backoffice.tools.mail import gmail_account
from backoffice.tools.mail.forms import person_name
from backoffice.tools.mail.parse import PHONE_IN_TEXT, InboundEmail, automated_reason, parse_email
from backoffice.tools.reports.activity import current_work

log = logging.getLogger("backoffice.inbound")

Status = Literal["lead", "logged", "duplicate", "skipped", "failed", "error"]
FORWARDED = re.compile(r"^-{3,}\s*Forwarded message|^Begin forwarded message:", re.I | re.M)
ADDRESS_IN_TEXT = re.compile(r"[\w.+'-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+")


@dataclass
class InboundResult:
    status: Status
    message: str
    message_id: str
    lead_id: str | None = None
    opportunity_id: str | None = None
    contact_id: str | None = None


@dataclass
class Target:
    """Work an email continues, and what is known of who wrote it."""

    name: str
    contact_id: str | None
    lead_id: str | None = None
    opportunity_id: str | None = None
    learn: bool = False  # the sender is certainly this contact: add the address and phones they wrote from
    note: str = ""  # put before the text (a forward, someone else in the thread)


def owner_addresses(store: Store) -> set[str]:
    found = {email_normal(store.settings.owner_email)} if store.settings.owner_email else set()
    connected_as = gmail_account.load_state(store.directory).get("email")  # the connected Gmail is the owner too
    if connected_as:
        found.add(email_normal(connected_as))
    return {e for e in found if e}


# ---------------------------------------------------------------------------- one message
def handle_inbound(store: Store, raw: bytes, thread_id: str | None = None) -> InboundResult:
    """Read one email into the book. Never raises for anything in the message itself: what cannot
    be read comes back ``failed`` with the reason (the caller sets it aside). Only a problem with the
    book (``StoreError``) propagates, so the message is read again once the book is fixed."""
    try:
        return _handle(store, raw, thread_id)
    except StoreError:
        raise
    except BadInput as exc:
        return _failed(store, raw, str(exc))
    except BackofficeError as exc:
        return _failed(store, raw, str(exc), status="error")
    except (Exception, RecursionError) as exc:  # a message must never stop the mail behind it
        log.exception("reading an email failed")
        return _failed(store, raw, f"it could not be read ({type(exc).__name__})")


def _handle(store: Store, raw: bytes, thread_id: str | None) -> InboundResult:
    mail = parse_email(raw, thread_id, now=store.now())
    if not mail.sender_email:
        raise BadInput("The email", ["it has no sender address, so it cannot be answered or matched to anyone"])
    reason = automated_reason(mail, owner_addresses(store))
    if reason:
        return InboundResult("skipped", f"Not an inquiry: {reason}. ({mail.subject or 'no subject'})", mail.message_id)
    with store.transaction():  # "already seen?" and the write commit together: a second reader waits, then sees it
        if store.by_message_id(mail.message_id) or store.by_source_ref("leads", mail.message_id):
            return InboundResult("duplicate", f"Already handled: {mail.subject or mail.message_id}.", mail.message_id)
        target = None if mail.form is not None else existing_work(store, mail)
        result = _log_on(store, mail, target) if target is not None else _new_inquiry(store, mail)
    _tell_owner(store, result, mail)
    return result


def existing_work(store: Store, mail: InboundEmail) -> Target | None:
    """The open lead or job this email continues, or None for a new inquiry."""
    region = store.settings.default_phone_region
    for ref in reversed(mail.in_reply_to):  # References run oldest first
        earlier = store.by_message_id(ref)
        work = _open_work(store, earlier) if earlier else None
        if work is None:
            continue
        contact = store.get("contacts", work.contact_id) if work.contact_id else None
        if contact is not None:
            known = mail.sender_email in {email_normal(e) for e in contact.get("emails") or []}
            work.learn = known or is_named(contact, mail.sender_name, region)
            if not work.learn:
                work.note = f"From {_who(mail)}, answering the thread with {full_name(contact)}."
        return work
    contacts = store.contacts_by_email(mail.sender_email)
    if len(contacts) == 1:
        return _current(store, contacts[0], learn=True)
    if not contacts:
        for phone in mail.phones:  # a known customer writing from another address signs with their phone
            named = [c for c in store.contacts_by_phone(phone)
                     if is_named(c, mail.sender_name, region) or _signed_by(mail, c)]  # fmt: skip
            if len(named) == 1:
                return _current(store, named[0], learn=True)
        if FORWARDED.search(mail.full_text) or mail.subject.lower().startswith(("fwd:", "fw:")):
            return _forwarded(store, mail)
    return None


def _signed_by(mail: InboundEmail, contact: Doc) -> bool:
    """The mail ends with the contact's full name ("Greg H <ghall1970@…>" signing "Greg Hall")."""
    name = " ".join(full_name(contact).lower().split())
    if " " not in name:  # a first name alone is too common to identify anyone
        return False
    tail = " ".join((mail.text or "").lower().split())[-300:]
    return name in tail


def _current(store: Store, contact: Doc, learn: bool, note: str = "") -> Target | None:
    lead, job = current_work(store, contact["contact_id"])
    if job is not None:
        return Target(job["name"], job.get("contact_id"), opportunity_id=job["opportunity_id"], learn=learn, note=note)
    if lead is not None:
        return Target(lead["title"], lead.get("contact_id"), lead_id=lead["lead_id"], learn=learn, note=note)
    return None


def _forwarded(store: Store, mail: InboundEmail) -> Target | None:
    """A forward (a spouse, an assistant) of mail with a customer: a note on that customer's work."""
    ours = owner_addresses(store) | {mail.sender_email}
    for address in dict.fromkeys(ADDRESS_IN_TEXT.findall(mail.full_text)):
        if (email_normal(address) or "").lower() in {o.lower() for o in ours}:
            continue
        found = store.contacts_by_email(address)
        if len(found) == 1:
            note = f"Forwarded by {_who(mail)}, who is not {full_name(found[0])}."
            return _current(store, found[0], learn=False, note=note)
    return None


def _open_work(store: Store, earlier: Doc) -> Target | None:
    if earlier.get("opportunity_id"):
        job = store.get("opportunities", earlier["opportunity_id"])
        if job and is_open_job(job):
            return Target(job["name"], job.get("contact_id"), opportunity_id=job["opportunity_id"])
    if earlier.get("lead_id"):
        lead = store.get("leads", earlier["lead_id"])
        if lead and lead.get("converted_opportunity_id"):
            return _open_work(store, {"opportunity_id": lead["converted_opportunity_id"]})
        if lead and lead["status"] in OPEN_LEAD_STATUSES:
            return Target(lead["title"], lead.get("contact_id"), lead_id=lead["lead_id"])
    return None


def _who(mail: InboundEmail) -> str:
    return f"{mail.sender_name} <{mail.sender_email}>" if mail.sender_name else mail.sender_email


def _body(mail: InboundEmail) -> str:
    text = mail.text or "(no text)"
    if mail.attachments:
        text += "\n\nAttachments: " + ", ".join(mail.attachments)
    return text


def _log_on(store: Store, mail: InboundEmail, target: Target) -> InboundResult:
    with store.acting_as("email"):
        item = add_interaction(
            store,
            LogInteractionInput(
                type="email_inbound",
                contact_id=target.contact_id,
                lead_id=target.lead_id,
                opportunity_id=target.opportunity_id,
                subject=mail.subject,
                body=(target.note + "\n\n" if target.note else "") + _body(mail),
                timestamp=mail.date,
                message_id=mail.message_id,
                thread_id=mail.thread_id,
            ),
            inbound=True,
            references=mail.in_reply_to,
        )
        learned = ""
        if target.learn and target.contact_id:
            contact = store.require("contacts", target.contact_id)
            before = set(contact.get("emails") or []) | set(contact.get("phones") or [])
            region = store.settings.default_phone_region
            contact = add_details(store, contact, mail.sender_email, None)
            for m in PHONE_IN_TEXT.finditer(mail.text):  # a number they wrote this time, not their signature's
                contact = add_details(store, contact, None, phone_e164(m.group(0), region))
            added = (set(contact.get("emails") or []) | set(contact.get("phones") or [])) - before
            if added:
                learned = f" Added to {full_name(contact)}: {', '.join(sorted(added))}."
    message = f"{_who(mail)} wrote about {target.name}: logged on it ({item['interaction_id']}).{learned}"
    return InboundResult(
        "logged",
        message,
        mail.message_id,
        lead_id=target.lead_id,
        opportunity_id=target.opportunity_id,
        contact_id=target.contact_id,
    )


def _new_inquiry(store: Store, mail: InboundEmail) -> InboundResult:
    region = store.settings.default_phone_region
    form = mail.form
    if form is not None:
        payload = {
            "name": form.name,
            "email": form.email,
            "phone": form.phone if form.phone and phone_e164(form.phone, region) else None,
            "address": form.address,
            "description": form.text() + ("\n\n[cut]" if mail.cut else ""),
            "subject": form.subject or _first_line(form.message) or mail.topic or None,
            "estimated_value": form.budget,
            "source": "web_form",
        }
    else:
        payload = {
            "name": person_name(mail.sender_name),
            "email": mail.sender_email,
            "phone": next((p for p in mail.phones if phone_e164(p, region)), None),
            "description": _body(mail),
            "subject": mail.topic or None,
            "source": "email",
        }
    payload.update(
        source_ref=mail.message_id,
        message_id=mail.message_id,
        thread_id=mail.thread_id,
        timestamp=mail.date.isoformat() if mail.date else None,
    )
    orch = build(store, None, origin="email", offline=True, actor="email")
    reply: Reply = orch.handle_event("inbound_email", payload)
    lead = store.by_source_ref("leads", mail.message_id)
    if lead is None:
        text = reply.plain() or "the inquiry could not be recorded"
        raise BackofficeError(f"Could not record the email from {_who(mail)}: {text}")
    return InboundResult(
        "lead", reply.plain(), mail.message_id, lead_id=lead["lead_id"], contact_id=lead.get("contact_id")
    )


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n")[0][:120]


# ---------------------------------------------------------------------------- telling the owner
def _tell_owner(store: Store, result: InboundResult, mail: InboundEmail) -> None:
    """A notification the chat shows when it next opens (one per email)."""
    day = store.today()
    ref = result.lead_id or result.opportunity_id or "mail"
    reply = Reply(planner="events").say(result.message)
    shown = mail.form.text() if mail.form is not None else mail.text
    if shown:
        excerpt = shown if len(shown) <= 400 else shown[:399] + "…"
        reply.say("> " + excerpt.replace("\n", "\n> "))
    who = (mail.form.name or mail.form.email or mail.form.phone) if mail.form is not None else None
    note = Notification(
        id=f"{day.isoformat()}-email-{ref}-{hashlib.sha256(mail.message_id.encode()).hexdigest()[:8]}",
        kind="email",
        day=day.isoformat(),
        title=f"{'Web form' if mail.form is not None else 'Email'} from {who or mail.sender_name or mail.sender_email}",
        created_at=clock.stamp(store.now()),
        origin="email",
        blocks=[asdict(b) for b in reply.blocks],
        data=asdict(result),
    )
    Notifications(store.directory).add(note)
    log.info("%s", result.message)


def _failed(store: Store, raw: bytes, reason: str, status: Status = "failed") -> InboundResult:
    """An email that could not be read: the owner is told why, with the start of its text."""
    digest = hashlib.sha256(raw).hexdigest()[:12]
    message = f"Set aside, not read into the book: {reason}"
    preview = raw[:2000].decode("utf-8", "replace").replace("\x00", "")
    reply = Reply(planner="events").say(message)
    reply.say("```\n" + preview[:600].replace("```", "'''") + "\n```")
    day = store.today()
    Notifications(store.directory).add(
        Notification(
            id=f"{day.isoformat()}-email-failed-{digest}",
            kind="email",
            day=day.isoformat(),
            title="Email set aside",
            created_at=clock.stamp(store.now()),
            origin="email",
            blocks=[asdict(b) for b in reply.blocks],
            data={"status": status, "reason": reason},
        )
    )
    log.warning("%s", message)
    return InboundResult(status, message, f"<failed-{digest}>")


def set_aside(folder: Path, name: str, raw: bytes | None, reason: str) -> Path:
    """Keep a message that could not be read in ``folder`` with a ``.reason`` file beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name)[:120].lstrip(".") or "message.eml"
    path = folder / safe
    if raw is not None:
        atomic_write_bytes(path, raw)
    atomic_write_bytes(folder / f"{safe}.reason", (reason + "\n").encode("utf-8"))
    return path


def failed_count(directory: Path) -> int:
    """How many messages are set aside in ``inbox/failed`` (the folder and Gmail alike)."""
    folder = directory / "inbox" / "failed"
    return len(list(folder.glob("*.reason"))) if folder.is_dir() else 0


# ---------------------------------------------------------------------------- polling
def poll_gmail(store: Store) -> dict[str, int]:
    """Read new Gmail through this path; how many messages had each outcome."""
    from backoffice.tools.mail import gmail  # Google's client libraries load only to read Gmail

    def handle(raw: bytes, thread: str | None, gmail_id: str) -> str:
        result = handle_inbound(store, raw, thread)
        if result.status in ("failed", "error"):
            set_aside(store.directory / "inbox" / "failed", f"gmail-{gmail_id}.eml", raw, result.message)
        return result.status

    return gmail.poll(store.directory, handle, store.services.gmail_http, store.services.gmail_sleep)


NOTHING_NEW = "No new mail."


def counts_line(counts: dict[str, int]) -> str:
    if not counts:
        return NOTHING_NEW
    words = {
        "lead": "new lead(s)",
        "logged": "reply(ies) logged",
        "duplicate": "already seen",
        "skipped": "skipped",
        "failed": "set aside (could not be read)",
        "error": "set aside (could not be recorded)",
    }
    return "Mail read: " + ", ".join(f"{n} {words.get(k, k)}" for k, n in counts.items()) + "."
