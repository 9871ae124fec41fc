"""Who is the same person: the one answer to that question for new contacts, inquiries (chat and
email), inbound mail, imports and the duplicate scan.

Two contacts are the same person when they share a phone number (any format: both are compared
in E.164), an email address (case-insensitive), or a name: the same last name, first names that
agree ("Dana" and "Dana", "D." and "Dana", "Jon" and "John") and either the same company ("Smith
& Sons" and "Smith and Sons") or, without a company to compare, no phone or email that tells them
apart.

``matches`` asks the question of a person not in the book yet (someone the owner is adding, an
inquiry, an email's sender) and says how sure the answer is: a shared email or phone is *certain*;
a name that agrees is only *possible* (two Marcus Chens exist), so it is for the owner to settle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from backoffice.tools.book.normalize import email_key, fold, phone_e164, split_name
from backoffice.tools.book.store import Doc, Store

SIMILAR = 85  # percent: names and companies at least this alike count as the same (NextCRM's rule)


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    company: str
    phones: frozenset[str]
    emails: frozenset[str]

    @property
    def block(self) -> tuple[str, str]:
        return block_of(self.first, self.last)


def block_of(first: str, last: str) -> tuple[str, str]:
    """Only people in the same block are compared by name: same last name and first initial
    (folded names; a full name in the first-name field is split as ``person`` splits it)."""
    if not last and " " in first:
        first, _, last = first.rpartition(" ")
    return (last, first[:1]) if last else ("", first)


def person(
    first: str, last: str, company: str | None, phones: Iterable[str], emails: Iterable[str], region: str
) -> Person:
    f, la = fold(first), fold(last)
    if not la and " " in f:
        f, _, la = f.rpartition(" ")
    return Person(
        f,
        la,
        fold(company),
        frozenset(p for p in (phone_e164(x, region) for x in phones) if p),
        frozenset(e for e in (email_key(x) for x in emails) if e),
    )


def person_of(doc: Doc, company_names: dict[str, str], region: str) -> Person:
    company = company_names.get(doc.get("company_id") or "", "")
    return person(
        doc.get("first_name") or "",
        doc.get("last_name") or "",
        company,
        doc.get("phones") or (),
        doc.get("emails") or (),
        region,
    )


def _first_names_agree(a: str, b: str) -> str | None:
    if a == b:
        return "same name"
    if not a or not b:
        return None
    if (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b)):
        return "similar name (initial)"
    if fuzz.ratio(a, b) >= SIMILAR:
        return "similar name"
    return None


def names_agree(a: Person, b: Person) -> str | None:
    """Why the names of ``a`` and ``b`` could be one person's (nothing else compared), or None."""
    if a.block != b.block or not any(a.block):
        return None
    if not (a.last and b.last):
        return "same name" if (a.first, a.last) == (b.first, b.last) else None
    return _first_names_agree(a.first, b.first)


def same_person(a: Person, b: Person) -> str | None:
    """Why ``a`` and ``b`` look like one person by name, or None."""
    names = names_agree(a, b)
    if names is None:
        return None
    if a.company and b.company:
        if a.company == b.company or fuzz.token_set_ratio(a.company, b.company) >= SIMILAR:
            return f"{names} at the same company"
        return None  # namesakes at different companies
    if a.phones and b.phones and not a.phones & b.phones:
        return None
    if a.emails and b.emails and not a.emails & b.emails:
        return None
    if not a.first and not b.first and not (a.phones & b.phones or a.emails & b.emails):
        return None  # a bare surname is not enough
    return names


# ---------------------------------------------------------------------------- asking of a newcomer
@dataclass(frozen=True)
class Match:
    contact: Doc
    why: str  # "same email", "same phone", "same name", "similar name (initial)", ...
    certain: bool  # a shared email or phone; a name alone is never certain


def newcomer(name: str | None, phones: Iterable[str | None], emails: Iterable[str | None], region: str) -> Person:
    first, last = split_name(name or "")
    return person(first, last, None, [p for p in phones if p], [e for e in emails if e], region)


def matches(
    store: Store, name: str | None, phones: Iterable[str | None] = (), emails: Iterable[str | None] = ()
) -> list[Match]:
    """Contacts in the book (not archived, not merged away) that may be this person: certain ones
    (same email, then same phone) first, then those whose name agrees."""
    region = store.settings.default_phone_region
    me = newcomer(name, phones, emails, region)
    found: dict[str, Match] = {}

    def add(doc: Doc, why: str, certain: bool) -> None:
        if doc.get("archived") or doc.get("merged_into"):
            return
        found.setdefault(doc["contact_id"], Match(doc, why, certain))

    with store.reading():
        for email in sorted(me.emails):
            for doc in store.contacts_by_email(email):
                add(doc, "same email", True)
        for phone in sorted(me.phones):
            for doc in store.contacts_by_phone(phone):
                add(doc, "same phone", True)
        if any(me.block):
            for doc in store.search_tokens("contacts", me.last or me.first):
                why = names_agree(me, person_of(doc, {}, region))
                if why:
                    add(doc, why, False)
    return list(found.values())


def is_named(doc: Doc, name: str | None, region: str) -> bool:
    """Whether ``name`` agrees with the contact's name ("Karen Whitfield", "K. Whitfield")."""
    if not name:
        return False
    return names_agree(newcomer(name, (), (), region), person_of(doc, {}, region)) is not None
