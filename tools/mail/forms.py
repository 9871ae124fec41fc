"""Web-form notifications: the visitor's name, email, phone, address, message and budget, read from
the labelled fields every form builder sends.

A form notification comes from a machine (``WordPress <wordpress@site>``, ``no-reply@crm.wix.com``,
``noreply@jotform.com``, Formspree, Typeform, Google Forms, HubSpot, Netlify, or the owner's own
address for Gravity Forms' default), so its sender says nothing about the person. What marks it is
its shape: labelled fields, one per line (``Name: Priya``), a label on its own line with the value
under it (``NAME:`` / ``Your Name`` / ``What's your name?``), or a ``From: Name <address>`` line as
Contact Form 7 writes it. The text is read after HTML has become lines, so plain and HTML forms are
read alike. A service's own notices (a plugin update, a submission limit) have no such fields and
are not forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import parseaddr

from backoffice.tools.book.normalize import email_normal, fold

# "Label: value" or "Label:" on one line; a label has no digits and at most six words
LABEL_COLON = re.compile(r"^([A-Za-z][A-Za-z '’/&()?.,\-]{0,58}?)\s*:\s*(.*)$")
METADATA_RULE = re.compile(r"^\s*-{2,3}\s*$")  # Elementor's "---", Contact Form 7's "-- " trailer
MONEY = re.compile(r"\$?\s*(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*([kK])?")
FOOTER = re.compile(
    r"^(?:submitted \d|mark as spam|view (?:this|all|submission|contact)|see all responses|sent (?:via|from)"
    r"|you (?:can|received|are receiving|'re receiving)|unsubscribe)",
    re.I,
)
NAME_OK = re.compile(r"^[^\d:<>@/\\{}\[\]|=_*#]+$")
ADDRESS_PARTS = ("street", "line 2", "city", "state", "province", "zip", "postal")
COUNTRIES = {"united states", "usa", "us", "united states of america"}


@dataclass
class FormFields:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    message: str | None = None
    subject: str | None = None
    budget: float | None = None
    company: str | None = None
    preferred_contact: str | None = None
    fields: list[tuple[str, str]] = field(default_factory=list)  # every (label, value) read, in order

    def text(self) -> str:
        """The form as the owner reads it: one labelled line per field."""
        return "\n".join(f"{label}: {value}" for label, value in self.fields if value)


def kind_of(label: str) -> str | None:
    """What a form label asks for, or None for a field backoffice does not use."""
    words = fold(label)
    if re.search(r"\be ?mail\b", words):
        return "email"
    if re.search(r"\b(?:first|given) name\b|^first$", words):
        return "first"
    if re.search(r"\b(?:last|family|sur) ?name\b|^last$", words):
        return "last"
    if re.search(r"\bcompany|business name|organi[sz]ation\b", words):
        return "company"
    if re.search(r"\bpreferred|contact method|best way to (?:reach|contact)\b", words):
        return "preferred"
    if re.search(r"\bphone|\btel\b|telephone|\bmobile\b|\bcell\b", words):
        return "phone"
    if re.search(r"\bname\b", words) and not re.search(r"\b(?:site|form|page|pet)\b", words):
        return "name"
    if any(re.search(rf"\b{p}\b", words) for p in ADDRESS_PARTS):
        return "address_part"
    if re.search(r"\baddress\b|\blocation\b", words):
        return "address"
    if re.search(r"\bbudget\b", words):
        return "budget"
    if re.search(r"^subject$|^topic$", words):
        return "subject"
    if re.search(
        r"\bmessage|comments?\b|\bdetails\b|describe|description|how can we help|what do you need|inquiry|enquiry"
        r"|question|tell us|your project|problem",
        words,
    ):
        return "message"
    if words in {"from"}:
        return "from"
    return None


def _label(line: str) -> tuple[str, str] | None:
    m = LABEL_COLON.match(line.strip())
    if not m or len(m.group(1).split()) > 6:
        return None
    return m.group(1).strip(), m.group(2).strip()


def _pairs(text: str) -> list[tuple[str, str]]:
    lines = text.split("\n")
    out: list[tuple[str, str]] = []
    i, n = 0, len(lines)

    def value_after(j: int, long: bool) -> tuple[str, int]:
        while j < n and not lines[j].strip():
            j += 1
        taken: list[str] = []
        while j < n:
            line = lines[j].strip()
            if not line:
                if not long or (j + 1 < n and _is_label_line(lines[j + 1])):
                    break
                taken.append("")
                j += 1
                continue
            if taken and (_is_label_line(line) or FOOTER.match(line)):
                break
            labelled = _label(line) if not taken else None
            if labelled is not None and kind_of(labelled[0]) == "address_part":
                break  # "Address" above labelled sub-fields: the sub-fields are read one by one
            taken.append(line)
            j += 1
        return "\n".join(taken).strip(), j

    while i < n:
        line = lines[i].strip()
        if METADATA_RULE.match(lines[i]):
            break  # what follows is the form service's metadata (date, page, IP address), not the visitor
        labelled = _label(line) if line else None
        if labelled is not None and (kind_of(labelled[0]) is not None or labelled[1]):
            label, value = labelled
            if not value and kind_of(label) is not None:
                value, i = value_after(i + 1, kind_of(label) == "message")
            else:
                i += 1
            out.append((label, value))
            continue
        if line and (kind_of(line) is not None or line.endswith("?")) and len(line) <= 80 and ":" not in line:
            value, j = value_after(i + 1, False)  # a question's answer is one paragraph
            if value:
                out.append((line.rstrip("?").strip() if not line.endswith("?") else line, value))
                i = j
                continue
        i += 1
    return out


def _is_label_line(line: str) -> bool:
    line = line.strip()
    labelled = _label(line)
    if labelled is not None and kind_of(labelled[0]) is not None:
        return True
    words = len(line.split())
    short = words <= 6 or (line.endswith("?") and words <= 12)
    return bool(line) and len(line) <= 80 and kind_of(line) is not None and ":" not in line and short


def money(text: str) -> float | None:
    m = MONEY.search(text or "")
    if not m:
        return None
    value = float(m.group(1).replace(",", ""))
    return value * 1000 if m.group(2) else value


def person_name(text: str | None) -> str | None:
    """A value that can be a person's name: a few words, no digits, no address or markup."""
    name = " ".join((text or "").split()).strip("\"' ")
    if not name or len(name) > 60 or len(name.split()) > 5 or not NAME_OK.match(name):
        return None
    return name


def _address(pairs: list[tuple[str, str]], whole: str | None) -> str | None:
    lines = [p.strip() for p in (whole or "").split("\n") if p.strip()]
    lines = [p for p in lines if fold(p) not in COUNTRIES and fold(p) not in {"map it", "view map"}]
    if not lines:
        lines = [v for label, v in pairs if kind_of(label) == "address_part" and v.strip()]
        if len(lines) >= 3:  # street, city, state, zip: "5500 Balcones Dr, Austin, TX 78731"
            *head, state, postal = lines
            lines = [*head, f"{state} {postal}"]
    return ", ".join(lines) or None


def form_fields(text: str, subject: str = "") -> FormFields | None:
    """The fields of a web-form notification, or None when ``text`` is not one."""
    if ":" not in text and "\n" not in text:
        return None
    pairs = _pairs(text[:20_000])
    form = FormFields(fields=pairs)
    first = last = whole_address = None
    for label, value in pairs:
        kind = kind_of(label)
        if not value or kind is None:
            continue
        if kind == "from":
            name, address = parseaddr(value)
            form.name = form.name or person_name(name)
            form.email = form.email or email_normal(address)
        elif kind == "email":
            form.email = form.email or email_normal(value.split()[0] if value.split() else value)
        elif kind == "first":
            first = first or value
        elif kind == "last":
            last = last or value
        elif kind == "name":
            form.name = form.name or person_name(value)
        elif kind == "phone":
            digits = re.sub(r"\D", "", value)
            form.phone = form.phone or (value.strip() if 7 <= len(digits) <= 15 else None)
        elif kind == "address":
            whole_address = whole_address or value
        elif kind == "message":
            form.message = form.message or value
        elif kind == "subject":
            form.subject = form.subject or " ".join(value.split())
        elif kind == "budget":
            form.budget = form.budget if form.budget is not None else money(value)
        elif kind == "company":
            form.company = form.company or " ".join(value.split())
        elif kind == "preferred":
            form.preferred_contact = form.preferred_contact or " ".join(value.split())
    if first or last:
        form.name = form.name or person_name(" ".join(x for x in (first, last) if x))
    form.address = _address(pairs, whole_address)
    reach = form.email or form.phone
    about = form.name or form.message
    if not (reach and about) or sum(1 for x in (form.name, form.email, form.phone, form.message) if x) < 2:
        return None
    return form
