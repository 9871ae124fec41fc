"""Reading an inbound email: who sent it, what they wrote (as plain text, without the quoted
thread and the signature), and whether a person wrote it at all.

Real mail is messy: multipart/alternative, HTML only, quoted-printable, Windows-1252 or ISO-8859-1
bodies, attachments, encoded sender names, missing Date or Message-ID. Everything here is pure
and never raises on a strange message; the worst case is an empty body.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from backoffice.tools.book.normalize import email_normal

QUOTE_HEADERS = [
    re.compile(r"^\s*On .{0,200}wrote:\s*$", re.I | re.M),  # Gmail, Apple Mail
    re.compile(r"^\s*On .{0,120}\n.{0,120}wrote:\s*$", re.I | re.M),  # the same, wrapped
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.I | re.M),  # Outlook
    re.compile(r"^\s*_{10,}\s*$", re.M),  # Outlook's rule above the quoted header
    re.compile(r"^\s*From:\s.+\n\s*(?:Sent|Date):\s", re.I | re.M),  # Outlook without the banner
    re.compile(r"^\s*Le .{0,200}a écrit\s*:\s*$", re.I | re.M),
    re.compile(r"^\s*Am .{0,200}schrieb .{0,100}:\s*$", re.I | re.M),
]
SIGNATURE_STARTS = [
    re.compile(r"^-- ?$", re.M),  # the standard delimiter
    re.compile(r"^\s*Sent from my (?:iPhone|iPad|Android|Galaxy|mobile).*$", re.I | re.M),
    re.compile(r"^\s*Get Outlook for (?:iOS|Android).*$", re.I | re.M),
]
AUTOMATED_SENDERS = re.compile(
    r"^(?:mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|notifications?|newsletter)\b", re.I
)
BOUNCE_SUBJECT = re.compile(r"^(?:undeliver|delivery status notification|mail delivery failed|returned mail)", re.I)
AUTO_REPLY_SUBJECT = re.compile(r"^(?:auto(?:matic)?[\s-]?reply|out of (?:the )?office|autoresponse)\b", re.I)
PHONE_IN_TEXT = re.compile(r"(?<![\w/])\+?\(?\d[\d \t().\-]{7,}\d(?![\w/])")  # on one line
REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|fwd?|tr)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


@dataclass
class InboundEmail:
    message_id: str
    sender_name: str
    sender_email: str
    subject: str
    text: str  # what the sender wrote: plain text, quoted thread and signature trimmed
    full_text: str  # the whole plain-text body (the signature is where phones are)
    date: dt.datetime | None
    in_reply_to: list[str] = field(default_factory=list)  # In-Reply-To and References ids
    to: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    thread_id: str | None = None  # the provider's thread (Gmail), when known
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def phones(self) -> list[str]:
        """Phone numbers written anywhere in the message, signature included."""
        return [m.group(0).strip() for m in PHONE_IN_TEXT.finditer(self.full_text)]

    @property
    def topic(self) -> str:
        """The subject without Re:/Fwd: prefixes."""
        return REPLY_PREFIX.sub("", self.subject).strip()


def parse_email(raw: bytes, thread_id: str | None = None) -> InboundEmail:
    msg = message_from_bytes(raw, policy=policy.default)
    name, address = parseaddr(_header(msg, "From"))
    plain, attachments = _body(msg)
    text = trim_reply(plain)
    ids = re.findall(r"<[^<>\s]+>", f"{_header(msg, 'In-Reply-To')} {_header(msg, 'References')}")
    message_id = _header(msg, "Message-ID").strip()
    if not message_id:  # some forms and old mailers send none: derive a stable one from the content
        digest = hashlib.sha256(raw).hexdigest()[:24]
        message_id = f"<no-id-{digest}@backoffice.local>"
    try:
        date = parsedate_to_datetime(_header(msg, "Date")) if _header(msg, "Date") else None
        if date is not None and date.tzinfo is None:
            date = date.replace(tzinfo=dt.UTC)
    except (TypeError, ValueError, IndexError):
        date = None
    return InboundEmail(
        message_id=message_id,
        sender_name=" ".join(name.split()).strip("\"' "),
        sender_email=email_normal(address) or "",
        subject=" ".join(_header(msg, "Subject").split()),
        text=text,
        full_text=plain,
        date=date,
        in_reply_to=list(dict.fromkeys(ids)),
        to=[email_normal(a) or a for _, a in getaddresses([_header(msg, "To"), _header(msg, "Cc")]) if a],
        attachments=attachments,
        thread_id=thread_id,
        headers={k.lower(): _header(msg, k) for k in set(msg.keys())},
    )


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except (IndexError, ValueError, TypeError):  # a header the parser cannot decode
        value = msg.get_all(name, [""])[0] if isinstance(msg, Message) else ""
    return str(value or "")


def _decode(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload() or "")
    charset = part.get_content_charset() or "utf-8"
    for candidate in (charset, "utf-8", "windows-1252"):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", errors="replace")


def _body(msg: Message) -> tuple[str, list[str]]:
    """The best plain-text body (text/plain preferred, else HTML converted) and attachment names."""
    plain: str | None = None
    html_body: str | None = None
    attachments: list[str] = []
    for part in msg.walk() if msg.is_multipart() else [msg]:
        if part.is_multipart():
            continue
        disposition = (part.get_content_disposition() or "").lower()
        filename = part.get_filename()
        if disposition == "attachment" or (filename and disposition != "inline"):
            attachments.append(filename or part.get_content_type())
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = _decode(part)
        elif kind == "text/html" and html_body is None:
            html_body = _decode(part)
    text = plain if plain and plain.strip() else html_to_text(html_body or "")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    return text.strip(), attachments


BLOCK_TAGS = re.compile(r"<\s*(?:br|/p|/div|/li|/tr|/h[1-6]|p|div|tr|li|h[1-6])\b[^>]*>", re.I)


def html_to_text(markup: str) -> str:
    """Readable text from an HTML email: scripts, styles and quoted blocks dropped, blocks on lines."""
    markup = re.sub(r"(?is)<(script|style|head)\b.*?</\1\s*>", " ", markup)
    markup = re.sub(r"(?is)<blockquote\b.*?</blockquote\s*>", "\n", markup)
    markup = re.sub(r'(?is)<div[^>]*class="?gmail_quote.*', "", markup)  # Gmail's quoted thread
    markup = re.sub(r"(?i)<li\b[^>]*>", "\n- ", markup)
    markup = BLOCK_TAGS.sub("\n", markup)
    text = html.unescape(re.sub(r"(?s)<[^>]+>", "", markup))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def trim_reply(text: str) -> str:
    """What the sender wrote this time: no quoted earlier messages, no signature."""
    cut = len(text)
    for pattern in QUOTE_HEADERS + SIGNATURE_STARTS:
        m = pattern.search(text)
        if m and m.start() < cut:
            cut = m.start()
    kept = [line for line in text[:cut].split("\n") if not line.lstrip().startswith(">")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def automated_reason(mail: InboundEmail, owner_emails: set[str]) -> str | None:
    """Why this message is not from a person writing to the business (None when it is)."""
    h = mail.headers
    sender = mail.sender_email
    if not sender:
        return "it has no sender address"
    if sender in owner_emails:
        return "it is your own mail"
    if (h.get("auto-submitted") or "no").strip().lower() != "no":
        return "it is an automatic message (Auto-Submitted)"
    if h.get("precedence", "").strip().lower() in {"bulk", "list", "junk", "auto_reply"}:
        return f"it is bulk mail (Precedence: {h['precedence'].strip()})"
    if h.get("list-unsubscribe") or h.get("list-id"):
        return "it is a mailing list or newsletter"
    if any(k in h for k in ("x-autoreply", "x-autorespond", "x-auto-response-suppress")) and AUTO_REPLY_SUBJECT.match(
        mail.subject
    ):
        return "it is an automatic reply"
    if "multipart/report" in h.get("content-type", "").lower() or BOUNCE_SUBJECT.match(mail.subject):
        return "it is a bounce (delivery failure report)"
    if AUTOMATED_SENDERS.match(sender.split("@")[0]):
        return f"it comes from an automatic address ({sender})"
    if AUTO_REPLY_SUBJECT.match(mail.subject):
        return "it is an automatic reply"
    return None
