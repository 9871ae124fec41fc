"""Reading an inbound email: who sent it, what they wrote (as plain text, without the quoted
thread and the signature), and whether a person wrote it at all.

Real mail is messy: multipart/alternative, HTML only, quoted-printable, Windows-1252 or ISO-8859-1
bodies, attachments, encoded sender names, missing Date or Message-ID. Hostile mail is worse: CR LF
inside an encoded name, a year-9999 date, thousands of nested parts, unknown charsets, 100 KB
headers, 5 MB bodies. Headers are read raw (``policy.compat32``) and decoded here one by one, so no
single bad header can stop the rest being read. ``parse_email`` either returns an ``InboundEmail``
or raises ``BadInput`` with a reason the owner can read (the message is then set aside); it never
lets another exception out, and its time and memory are bounded by ``MAX_PARSED`` and ``MAX_TEXT``.

Text is kept as it arrived except for what can never be stored or shown sensibly: NUL bytes, lone
surrogates and line breaks in a one-line header. Control characters a terminal obeys are kept in
the book and neutralised when shown (``agent.untrusted``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_tz

from backoffice.tools.book.normalize import email_normal
from backoffice.tools.errors import BadInput
from backoffice.tools.mail.forms import FormFields, form_fields

MAX_PARSED = 1_000_000  # bytes of a message given to the MIME parser; the rest (big attachments) is dropped
MAX_TEXT = 20_000  # characters of body kept on the interaction
MAX_SUBJECT = 300
MAX_HEADER = 2_000
MAX_IDS = 50  # References entries kept (a long thread has a dozen)
CUT_NOTE = "\n\n[The message was longer: only the first {kept:,} characters are kept here.]"

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
AUTO_REPLY_SUBJECT = re.compile(
    r"^(?:auto(?:matic)?[\s-]?reply|out of (?:the )?office|autoresponse|automatic reply)\b", re.I
)
# a phone on one line: digits with the usual separators; never part of a dotted quad (an IP address)
PHONE_IN_TEXT = re.compile(r"(?<![\w/.])\+?\(?\d[\d \t().\-]{7,}\d(?![\w/]|\.\d)")
DOTTED_QUAD = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|fwd?|tr)\s*(?:\[\d+\])?\s*:\s*)+", re.I)
MESSAGE_ID = re.compile(r"<[^<>\s]{1,500}>")


@dataclass
class InboundEmail:
    message_id: str
    sender_name: str
    sender_email: str
    subject: str
    text: str  # what the sender wrote: plain text, quoted thread and signature trimmed
    full_text: str  # the whole plain-text body (the signature is where phones are)
    date: dt.datetime | None
    in_reply_to: list[str] = field(default_factory=list)  # In-Reply-To and References ids, oldest first
    to: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    thread_id: str | None = None  # the provider's thread (Gmail), when known
    headers: dict[str, str] = field(default_factory=dict)
    reply_to: str = ""  # the Reply-To address, when there is exactly one and it can be trusted
    cut: bool = False  # the body was longer than what is kept
    form: FormFields | None = None  # the fields of a web-form notification

    @property
    def phones(self) -> list[str]:
        """Phone numbers written anywhere in the message, signature included."""
        found = (m.group(0).strip() for m in PHONE_IN_TEXT.finditer(self.full_text))
        return [p for p in found if not DOTTED_QUAD.match(p)]

    @property
    def topic(self) -> str:
        """The subject without Re:/Fwd: prefixes."""
        return REPLY_PREFIX.sub("", self.subject).strip()


def parse_email(raw: bytes, thread_id: str | None = None, now: dt.datetime | None = None) -> InboundEmail:
    """The message as backoffice uses it, or ``BadInput`` saying why it cannot be read."""
    if not raw.strip():
        raise BadInput("The email", ["it is empty"])
    try:
        return _parse(raw, thread_id, now)
    except BadInput:
        raise
    except RecursionError as exc:
        raise BadInput("The email", ["its parts are nested too deeply to read"]) from exc
    except (MemoryError, OverflowError, LookupError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise BadInput("The email", [f"it could not be read ({type(exc).__name__}: {str(exc)[:200]})"]) from exc


MAX_CONTAINERS = 100  # multipart parts inside one message; real mail has a handful
CONTAINER = re.compile(rb"(?im)^content-type:[ \t]*multipart/")


def _parse(raw: bytes, thread_id: str | None, now: dt.datetime | None) -> InboundEmail:
    cut = len(raw) > MAX_PARSED
    if len(CONTAINER.findall(raw[:MAX_PARSED])) > MAX_CONTAINERS:
        # decided before parsing: Python's parser recurses per level, and whether it runs out of stack
        # depends on where it is called from, so the answer would not be the same every time
        raise BadInput("The email", ["its parts are nested too deeply to read"])
    msg = message_from_bytes(raw[:MAX_PARSED], policy=policy.compat32)
    headers = _raw_headers(msg)
    from_values = headers.get("from", [])
    if len(from_values) > 1:
        raise BadInput("The email", ["it has two From lines, so who sent it cannot be told"])
    # the address is taken from the header as sent; only the name is decoded (a decoded name may hold
    # anything, "Evil\r\nBcc: x@y" included, and must never be parsed as addresses)
    name, address = parseaddr(one_line(from_values[0][:MAX_HEADER] if from_values else ""))
    name = one_line(decode_words(name))
    sender = email_normal(address) or ""
    if sender and "@" not in address:
        sender = ""
    plain, attachments, body_cut = _body(msg)
    cut = cut or body_cut
    if len(plain) > MAX_TEXT:
        plain, cut = plain[:MAX_TEXT], True
    first = {k: one_line(decode_words(v[0]))[:MAX_HEADER] for k, v in headers.items()}
    ids = MESSAGE_ID.findall(f"{first.get('references', '')} {first.get('in-reply-to', '')}")  # oldest first
    message_id = (MESSAGE_ID.findall(first.get("message-id", "")) or [""])[0]
    if not message_id:  # some forms and old mailers send none: derive a stable one from the content
        message_id = f"<no-id-{hashlib.sha256(raw).hexdigest()[:24]}@backoffice.local>"
    text = trim_reply(plain)
    mail = InboundEmail(
        message_id=message_id,
        sender_name=" ".join(name.split()).strip("\"' "),
        sender_email=sender,
        subject=first.get("subject", "")[:MAX_SUBJECT],
        text=text + (CUT_NOTE.format(kept=MAX_TEXT) if cut else ""),
        full_text=plain,
        date=_date(first.get("date", ""), now),
        in_reply_to=list(dict.fromkeys(ids))[-MAX_IDS:],
        to=_addresses(first.get("to", ""), first.get("cc", "")),
        attachments=attachments,
        thread_id=thread_id,
        headers=first,
        reply_to=_reply_to(raw, first.get("reply-to", "")),
        cut=cut,
    )
    form = form_fields(text, mail.subject)
    if form is not None and not (form.email and form.email.lower() == sender.lower()):
        mail.form = form  # a person who typed "Name:" lines into their own email is not a form
    return mail


# ---------------------------------------------------------------------------- headers
def clean(text: str) -> str:
    """Text that can be stored: no NUL, no lone surrogates (raw bytes are read as UTF-8, else Windows-1252)."""
    if any("\udc80" <= c <= "\udcff" for c in text):
        data = text.encode("utf-8", "surrogateescape")
        text = _text_of(data, None)
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def one_line(text: str) -> str:
    return " ".join(clean(text).replace("\r", " ").replace("\n", " ").split())


def _text_of(data: bytes, charset: str | None) -> str:
    for candidate in (charset, "utf-8", "windows-1252"):
        if not candidate:
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return data.decode("latin-1")


def decode_words(value: str) -> str:
    """A header with its =?charset?...?= words decoded; an undecodable word stays as it was."""
    value = value[: MAX_HEADER * 4]
    if "=?" not in value:
        return clean(value)
    try:
        parts = decode_header(value)
    except (ValueError, LookupError, AssertionError, IndexError):
        return clean(value)
    out = []
    for chunk, charset in parts:
        out.append(_text_of(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return clean("".join(out))


def _raw_headers(msg: Message) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in msg.raw_items():
        found.setdefault(str(key).lower(), []).append(str(value))
    return found


def _addresses(*values: str) -> list[str]:
    try:
        pairs = getaddresses([v for v in values if v])
    except (ValueError, IndexError, TypeError):
        return []
    return [email_normal(a) or a for _, a in pairs if a][:50]


def _reply_to(raw: bytes, value: str) -> str:
    """The Reply-To address, unless the header block has bare CRs (a Reply-To smuggled inside
    another header) or names more than one address."""
    head = raw[:MAX_PARSED].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    if re.search(rb"\r(?!\n)", head):
        return ""
    addresses = _addresses(value)
    return addresses[0] if len(addresses) == 1 and "@" in addresses[0] else ""


def _date(value: str, now: dt.datetime | None) -> dt.datetime | None:
    """When it was sent; None (then: when it arrived) for a date that is unreadable or far in the future."""
    if not value:
        return None
    try:
        parts = parsedate_tz(value)
        if parts is None:
            return None
        year, month, day, hour, minute, second = parts[:6]
        zone = dt.timezone(dt.timedelta(seconds=parts[9] or 0))
        stamp = dt.datetime(year, month, day, hour, minute, second, tzinfo=zone)
        stamp = stamp.astimezone(dt.UTC)
    except (ValueError, OverflowError, TypeError):
        return None
    # a week of slack for wrong clocks (the sender's or ours); beyond that the date is made up
    limit = (now or dt.datetime.now(dt.UTC)) + dt.timedelta(days=7)
    return None if stamp > limit or stamp.year < 1990 else stamp


# ---------------------------------------------------------------------------- body
def _decode(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError):
        payload = None
    if not isinstance(payload, bytes):
        got = part.get_payload()
        return clean(got) if isinstance(got, str) else ""
    try:
        charset = part.get_content_charset()
    except (ValueError, LookupError):
        charset = None
    return clean(_text_of(payload, charset))


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except (ValueError, LookupError, TypeError, IndexError):
        return "(unnamed attachment)"
    return one_line(decode_words(name))[:200] if name else None


def _body(msg: Message) -> tuple[str, list[str], bool]:
    """The best plain-text body (text/plain preferred, else HTML converted), attachment names, and
    whether it was cut."""
    plain: str | None = None
    html_body: str | None = None
    attachments: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        disposition = (part.get_content_disposition() or "").lower()
        filename = _filename(part)
        if disposition == "attachment" or (filename and disposition != "inline"):
            attachments.append(filename or part.get_content_type())
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = _decode(part)
        elif kind == "text/html" and html_body is None:
            html_body = _decode(part)
        elif kind.startswith("multipart/") and plain is None:
            plain = _decode(part)  # multipart without a usable boundary: its text is all there is
    cut = False
    if html_body and len(html_body) > MAX_TEXT * 5:
        html_body, cut = html_body[: MAX_TEXT * 5], True
    text = plain if plain and plain.strip() else html_to_text(html_body or "")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    return text.strip(), attachments[:50], cut


BLOCK_TAGS = re.compile(r"<\s*(?:br|/p|/div|/li|/tr|/h[1-6]|p|div|tr|li|h[1-6]|/td|/th)\b[^>]*>", re.I)


def html_to_text(markup: str) -> str:
    """Readable text from an HTML email: scripts, styles, hidden blocks and quoted blocks dropped,
    blocks on lines."""
    markup = re.sub(r"(?is)<(script|style|head|title)\b.*?</\1\s*>", " ", markup)
    markup = re.sub(r"(?is)<blockquote\b.*?</blockquote\s*>", "\n", markup)
    markup = re.sub(r'(?is)<div[^>]*class="?gmail_quote.*', "", markup)  # Gmail's quoted thread
    markup = re.sub(r"(?i)<li\b[^>]*>", "\n- ", markup)
    markup = BLOCK_TAGS.sub("\n", markup)
    text = html.unescape(re.sub(r"(?s)<[^>]{0,2000}>", "", markup))
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


# ---------------------------------------------------------------------------- who wrote it
def automated_reason(mail: InboundEmail, owner_emails: set[str]) -> str | None:
    """Why this message is not from a person writing to the business (None when it is).

    A web-form notification is a person writing through a machine: it is judged by its fields,
    not by its automatic-looking sender (``no-reply@`` form services, the site's own address)."""
    h = mail.headers
    sender = mail.sender_email
    if not sender:
        return "it has no sender address"
    submitted = (h.get("auto-submitted") or "no").strip().lower()
    auto_reply = submitted.startswith("auto-replied") or any(k in h for k in ("x-autoreply", "x-autorespond"))
    if auto_reply or AUTO_REPLY_SUBJECT.match(mail.subject):
        return "it is an automatic message (an out-of-office reply or an acknowledgement)"
    if "multipart/report" in h.get("content-type", "").lower() or BOUNCE_SUBJECT.match(mail.subject):
        return "it is a bounce (delivery failure report)"
    if mail.form is not None:
        return None
    if submitted not in ("no", ""):
        return "it is an automatic message (Auto-Submitted)"
    if sender in owner_emails:
        return "it is your own mail"
    if h.get("precedence", "").strip().lower() in {"bulk", "list", "junk", "auto_reply"}:
        return f"it is bulk mail (Precedence: {h['precedence'].strip()})"
    if h.get("list-unsubscribe") or h.get("list-id"):
        return "it is a mailing list or newsletter"
    if AUTOMATED_SENDERS.match(sender.split("@")[0]) or sender.split("@")[0].lower() in SITE_SENDERS:
        return f"it comes from an automatic address ({sender}) and holds no form fields"
    return None


# the local parts websites and form services send their own notices from (a form from them is still read)
SITE_SENDERS = {"wordpress", "wix", "jotform", "forms", "form-submission", "formspree", "submissions"}
