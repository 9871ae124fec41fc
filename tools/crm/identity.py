"""Who is the same person: the one answer to that question for duplicates, imports and inquiries.

Two contacts are the same person when they share a phone number (any format: both are compared
in E.164), an email address (case-insensitive), or a name: the same last name, first names that
agree ("Dana" and "Dana", "D." and "Dana", "Jon" and "John") and either the same company ("Smith
& Sons" and "Smith and Sons") or, without a company to compare, no phone or email that tells them
apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from backoffice.tools.book.normalize import email_key, fold, phone_e164
from backoffice.tools.book.store import Doc

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


def same_person(a: Person, b: Person) -> str | None:
    """Why ``a`` and ``b`` look like one person by name, or None."""
    if a.block != b.block or not any(a.block):
        return None
    if not (a.last and b.last):
        names = "same name" if (a.first, a.last) == (b.first, b.last) else None
    else:
        names = _first_names_agree(a.first, b.first)
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
