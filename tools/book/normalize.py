"""Normalising phones, emails and names so the same person is recognised however they are typed."""

from __future__ import annotations

import math
import re
import unicodedata

_DIGITS = re.compile(r"\D+")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_NANP = re.compile(r"\+1[2-9][0-9]{2}[0-9]{7}")  # a North American number, shown (555) 201-7788 at home
NANP = {"US", "CA"}


def phone_e164(raw: str | None, region: str = "US") -> str | None:
    """``(555) 123-4567``, ``555.123.4567`` and ``+1 555 123 4567`` all become ``+15551234567``.

    Numbers phonenumbers cannot place keep their digits (with a leading + if they had one), so a
    foreign or odd number is still stored and still matches itself.
    """
    if raw is None:
        return None
    text = str(raw).strip()
    if _E164.fullmatch(text):
        return text  # already normalised (every stored phone is): skip the parser, 20x faster
    digits = _DIGITS.sub("", text)
    if len(digits) < 3:
        return None
    import phonenumbers  # its metadata takes a while to load; stored phones never need it

    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is not None and phonenumbers.is_possible_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return ("+" if text.startswith("+") else "") + digits


def phone_display(e164: str | None, region: str = "US") -> str:
    if not e164:
        return ""
    if not e164.startswith("+"):
        return e164
    if region in NANP and _NANP.fullmatch(e164):  # the common case, without loading phonenumbers
        return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    import phonenumbers

    try:
        parsed = phonenumbers.parse(e164, region)
    except phonenumbers.NumberParseException:
        return e164
    if parsed.country_code == phonenumbers.country_code_for_region(region):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email_normal(raw: str | None) -> str | None:
    """Trimmed, mailto: and angle brackets removed, domain lower-cased. None if not an address."""
    if raw is None:
        return None
    text = str(raw).strip().strip("<>").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if not _EMAIL.match(text):
        return None
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def email_key(raw: str | None) -> str | None:
    """What two emails are compared by: case-insensitive throughout."""
    normal = email_normal(raw)
    return normal.lower() if normal else None


def fold(text: str | None) -> str:
    """Lower-case, accents and punctuation removed, '&' read as 'and', spaces squeezed."""
    if not text:
        return ""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.lower().replace("&", " and ")
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def split_name(full: str) -> tuple[str, str]:
    parts = full.strip().split()
    if not parts:
        return "", ""
    if len(parts) == 1:
        return parts[0], ""
    return " ".join(parts[:-1]), parts[-1]


def full_name(contact: dict[str, object]) -> str:
    name = f"{contact.get('first_name') or ''} {contact.get('last_name') or ''}".strip()
    if name:
        return name
    emails = contact.get("emails") or []
    phones = contact.get("phones") or []
    if isinstance(emails, list) and emails:
        return str(emails[0])
    if isinstance(phones, list) and phones:
        return str(phones[0])
    return str(contact.get("contact_id", "unknown contact"))


def money(value: float | None) -> str:
    """Whole dollars for the owner: 2400.0 -> '$2,400'; nothing is $0. A value that is no amount at
    all (infinity, NaN: the tools refuse them, an old or hand-edited record may hold one) shows as
    such, never as "$inf"."""
    try:
        number = float(value or 0)
    except (TypeError, ValueError, OverflowError):
        return "(not an amount)"
    if not math.isfinite(number):
        return "(not an amount)"
    return f"-${-number:,.0f}" if number < 0 else f"${number:,.0f}"
