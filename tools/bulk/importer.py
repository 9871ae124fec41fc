"""Bringing a spreadsheet of contacts or leads into the book.

Three steps, so the owner sees everything before anything is written:

1. ``read_source``: read the file (encoding, delimiter, header row) and map its columns onto our
   fields (automatically from the header names other systems use, or as ``--map`` says).
2. ``plan_import``: turn every row into what would happen to it — create, update, skip (a
   duplicate, or imported before) or reject (with the reason) — matching each row against the
   book and against the rows above it by phone, email and name + company.
3. ``apply_plan``: write the whole plan in one transaction: every row or none.

Re-importing a file changes nothing: every created record carries an import key (the other
system's id, or a fingerprint of the row), and a row whose key is already in the book is skipped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from backoffice.tools.book.models import Contact, Lead, PipelineStage, PreferredChannel, choices
from backoffice.tools.book.normalize import email_key, email_normal, fold, full_name, phone_display, phone_e164
from backoffice.tools.book.storage import atomic_write_bytes, file_lock, load_json_file
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.bulk import mapping
from backoffice.tools.bulk.mapping import ADDRESS_PARTS, FIELDS, MULTI, Policy, Profile
from backoffice.tools.bulk.tabular import Row, Table, neutralise, read_table, write_csv
from backoffice.tools.crm.duplicates import company_names, name_blocks
from backoffice.tools.crm.identity import Person, person, person_of, same_person
from backoffice.tools.crm.leads import short_title
from backoffice.tools.errors import BadInput, InvalidRecord, NotFound

Progress = Callable[[int], None] | None
STAMP = "2000-01-01T00:00:00+00:00"  # placeholder timestamps for checking a record before it exists


# ---------------------------------------------------------------------------- reading and mapping
@dataclass
class Column:
    index: int
    header: str
    field: str | None  # None: ignored
    how: str  # "auto", "--map", or why it is ignored


@dataclass
class Source:
    table: Table
    profile: Profile
    columns: list[Column]
    kind: Literal["contacts", "leads"]
    every_row_a_lead: bool = True  # False: a contacts export with a lead-status column; only rows with a status

    def fields(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = defaultdict(list)
        for c in self.columns:
            if c.field:
                out[c.field].append(c.index)
        return out


def parse_maps(pairs: Sequence[str]) -> dict[str, str]:
    """``--map "Cell=mobile"`` options: column -> field ("" or "ignore" drops a column)."""
    out: dict[str, str] = {}
    problems = []
    for pair in pairs:
        column, sep, target = pair.partition("=")
        target = target.strip().lower() or "ignore"
        if not sep or not column.strip():
            problems.append(f"--map {pair!r} should look like COLUMN=FIELD")
        elif target not in FIELDS:
            problems.append(f"--map {pair!r}: {target!r} is not a field; fields: {', '.join(FIELDS)}")
        else:
            out[column.strip()] = target
    if problems:
        raise BadInput("Cannot use the column mapping", problems)
    return out


def read_source(path: Path, maps: dict[str, str] | None = None, kind: str | None = None) -> Source:
    table = read_table(path, mapping.header_score)
    for key, what in mapping.BACKOFFICE_OTHER_EXPORTS.items():
        if key in table.header:
            raise BadInput(
                f"Cannot import {path}",
                [f"is a backoffice export of {what}; import brings in contacts, companies and leads"],
            )
    profile = mapping.detect_profile(table.header)
    maps = dict(maps or {})
    by_key = {mapping.column_key(h): h for h in table.header}
    unknown = [c for c in maps if c not in table.header and mapping.column_key(c) not in by_key]
    if unknown:
        raise BadInput(
            "Cannot use the column mapping",
            [
                f"--map names column {c!r}, which the file does not have; its columns: {', '.join(table.header)}"
                for c in unknown
            ],
        )
    chosen = {by_key.get(mapping.column_key(c), c): f for c, f in maps.items()}
    columns: list[Column] = []
    taken: dict[str, str] = {}
    for i, header in enumerate(table.header):
        if not header:
            columns.append(Column(i, header, None, "no name"))
            continue
        target: str | None = chosen.get(header)
        how = "--map"
        if target is None:
            target, how = mapping.field_for(profile, header), "auto"
        if target is None:
            columns.append(Column(i, header, None, "not recognised"))
        elif target == "ignore":
            columns.append(Column(i, header, None, "ignored" if how == "auto" else "--map"))
        elif target not in MULTI and target not in ADDRESS_PARTS and target in taken and how == "auto":
            columns.append(Column(i, header, None, f"{target} already comes from {taken[target]!r}"))
        else:
            taken.setdefault(target, header)
            columns.append(Column(i, header, target, how))
    fields = {c.field for c in columns if c.field}
    every_row = kind is not None or profile.kind == "leads" or profile is mapping.GENERIC_PROFILE
    if kind is None:
        kind = (
            "leads"
            if profile.kind == "leads" or fields & {"status", "lead_title", "value", "description"}
            else "contacts"
        )
    if kind not in ("contacts", "leads"):
        raise BadInput("Cannot import", [f"--as {kind!r}: choose contacts or leads"])
    identity = {"first_name", "last_name", "name", "email", "email2", "phone", "mobile", "phone2", "company"}
    if not fields & identity:
        raise BadInput(
            f"Cannot import {path}",
            [
                "no column says who the rows are about (a name, phone, email or company); "
                f"columns: {', '.join(table.header)}. Use --map COLUMN=FIELD"
            ],
        )
    return Source(table, profile, columns, kind, every_row)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- one row
@dataclass
class Candidate:
    line: int
    values: list[str]
    contact: Doc
    company: str | None
    lead: Doc | None  # None: the row brings no lead (a contacts file, or converted elsewhere)
    ref: str
    own_created: str | None = None  # our own export: the record's created_at
    note: str = ""  # shown beside the row's action

    @property
    def label(self) -> str:
        name = full_name({**self.contact, "contact_id": ""}) if self.contact else ""
        return name or self.company or f"line {self.line}"


_SPLIT_PHONES = re.compile(r"\s*(?:;|:::|\s/\s|\|)\s*")
_SPLIT_LIST = re.compile(r"\s*(?:;|,|:::)\s*")  # several emails or tags in one cell
_MONEY = re.compile(r"^\s*[$€£]?\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*([kK])?\s*(?:USD|EUR|GBP)?\s*$")
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0", ""}
_PARTICLES = {"van", "von", "de", "der", "den", "da", "di", "du", "la", "le", "del", "dos", "das", "st"}


def tidy_name(text: str) -> str:
    """Spaces squeezed; a name typed all in capitals or all in lower case is capitalised."""
    name = " ".join(text.strip().strip("\"'").split())
    if not name or not (name.isupper() or name.islower()) or not any(c.isalpha() for c in name):
        return name
    words = []
    for i, word in enumerate(name.lower().split(" ")):
        if i and word in _PARTICLES:
            words.append(word)
            continue
        word = "-".join(p[:1].upper() + p[1:] for p in word.split("-"))
        word = re.sub(r"^(O'|Mc)([a-z])", lambda m: m.group(1) + m.group(2).upper(), word)
        words.append(word)
    return " ".join(words)


def _cell(values: list[str], index: int) -> str:
    value = values[index].strip() if index < len(values) else ""
    if value.lower() in mapping.PLACEHOLDERS:
        return ""
    if value.startswith("'") and len(value) > 1 and value[1] in "=+-@":
        value = value[1:]  # our own export's escaping: the formula check below applies again
    return value


class RowBuilder:
    def __init__(self, store: Store, source: Source):
        self.store, self.source = store, source
        self.fields = source.fields()
        self.default_region = store.settings.default_phone_region
        self.system = source.profile.label.split(" ")[0] if source.profile.key != "csv" else "the old system"
        self.header = source.table.header

    def get(self, values: list[str], name: str) -> str:
        for i in self.fields.get(name, ()):
            if v := _cell(values, i):
                return v
        return ""

    def all(self, values: list[str], name: str) -> list[tuple[str, str]]:
        return [(self.header[i], v) for i in self.fields.get(name, ()) if (v := _cell(values, i))]

    def address_parts(self, values: list[str]) -> dict[str, str]:
        """The first address block with anything in it (business, then home; primary, then alt)."""
        blocks = max((len(self.fields.get(p, ())) for p in ADDRESS_PARTS), default=0)
        for rank in range(blocks):
            found = {
                p: _cell(values, self.fields[p][rank]) for p in ADDRESS_PARTS if rank < len(self.fields.get(p, ()))
            }
            if any(v for k, v in found.items() if k != "country"):
                return {k: v for k, v in found.items() if v}
        return {}

    def build(self, row: Row) -> Candidate:
        v = row.values
        problems: list[str] = []
        text = lambda name: neutralise(self.get(v, name))  # noqa: E731 - every free-text cell goes through here
        notes: list[str] = []

        first, last = neutralise(tidy_name(self.get(v, "first_name"))), neutralise(tidy_name(self.get(v, "last_name")))
        company = " ".join(text("company").split()) or None
        full = neutralise(tidy_name(self.get(v, "name")))
        if full and not (first or last) and not (company and fold(full) == fold(company)):
            first, _, last = full.rpartition(" ") if " " in full else (full, "", "")
            if not first:
                first, last = last, ""

        parts = self.address_parts(v)
        country = parts.get("country") or self.get(v, "country")
        region = mapping.country_region(country) or self.default_region
        phones: list[str] = []
        for name in ("phone", "mobile", "phone2"):
            for column, raw in self.all(v, name):
                for part in _SPLIT_PHONES.split(raw):
                    if not part.strip() or part.strip().lower() in mapping.PLACEHOLDERS:
                        continue
                    e164 = phone_e164(part, region)
                    if not e164:
                        problems.append(f"{column} {part!r} is not a phone number")
                    elif e164 not in phones:
                        phones.append(e164)
        emails: list[str] = []
        for name in ("email", "email2"):
            for column, raw in self.all(v, name):
                for part in _SPLIT_LIST.split(raw):
                    if not part.strip():
                        continue
                    normal = email_normal(part)
                    if not normal:
                        problems.append(f"{column} {part!r} is not an email address")
                    elif email_key(normal) not in {email_key(e) for e in emails}:
                        emails.append(normal)

        whole = ", ".join(line.strip(" ,") for line in text("address").splitlines() if line.strip(" ,"))
        if not whole:
            part = lambda name: neutralise(parts.get(name, ""))  # noqa: E731
            state_zip = " ".join(x for x in (part("state"), part("postal_code")) if x)
            shown_country = (
                part("country") if country and mapping.country_region(country) != self.default_region else ""
            )
            whole = ", ".join(x for x in (part("street"), part("city"), state_zip, shown_country) if x)
        address = " ".join(whole.split()) or None

        for _, raw in self.all(v, "notes"):
            notes.append(neutralise(raw))
        if title := text("job_title"):
            notes.append(f"Job title: {title}")
        for column, raw in self.all(v, "note"):
            notes.append(f"{column}: {neutralise(raw)}")
        tags: list[str] = []
        for _, raw in self.all(v, "tags"):
            for tag in _SPLIT_LIST.split(raw):
                tag = neutralise(tag.strip().lstrip("* ").strip())
                if tag and tag.lower() != "mycontacts" and tag not in tags:
                    tags.append(tag)

        source_text = text("source")
        lifecycle = self.source.profile.lifecycle
        if raw_stage := self.get(v, "lifecycle"):
            stage = mapping.LIFECYCLE.get(mapping.value_key(raw_stage))
            if stage:
                lifecycle = stage
            else:
                notes.append(f"Lifecycle in {self.system}: {neutralise(raw_stage)}")
        channel = self.get(v, "preferred_channel").lower() or None
        if channel and channel not in choices(PreferredChannel):
            notes.append(f"Preferred channel: {neutralise(channel)}")
            channel = None
        archived_text = self.get(v, "archived").lower()
        if archived_text not in _TRUE | _FALSE:
            problems.append(f"archived {archived_text!r} is not true or false")

        status_text = self.get(v, "status")
        status, reason = mapping.lead_status(status_text) if status_text else ("new", None)
        external_id = self.get(v, "external_id")
        ref = f"{self.source.profile.key}:{external_id}" if external_id else "row:" + _fingerprint(v)
        own_created = self.get(v, "created") if self.source.profile.key == "backoffice" else None

        lead: Doc | None = None
        note = ""
        website = text("website")
        description = text("description")
        if self.source.kind == "leads" and status == "converted" and status_text:
            lifecycle = "customer"
            notes.append(f"{self.system} lead status: {neutralise(status_text)}")
            note = f"converted in {self.system}: added as a customer, no open lead"
        elif self.source.kind == "leads" and (status_text or self.source.every_row_a_lead):
            lead, lead_problems = self._lead(
                v, status, reason, status_text, source_text, description, website, company, first, last, emails
            )
            lead["source_ref"] = ref
            problems += lead_problems
        else:
            if status_text:
                notes.append(f"Status in {self.system}: {neutralise(status_text)}")
            if description:
                notes.append(description)
            if website:
                notes.append(f"Website: {website}")

        contact: Doc = {
            "first_name": first,
            "last_name": last,
            "phones": phones,
            "emails": emails,
            "address": address,
            "preferred_channel": channel,
            "lifecycle_stage": lifecycle,
            "source": source_text or None,
            "tags": tags,
            "quickbooks_customer_id": self.get(v, "quickbooks_customer_id") or None,
            "notes": "\n".join(notes),
            "archived": archived_text in _TRUE,
            "source_ref": ref,
        }
        if not (first or last or phones or emails):
            if company and not problems:
                contact = {}  # a business with nobody named: the company alone
            elif not problems:
                problems.append("no name, phone, email or company: nothing says who this is")
        if contact and not problems:
            problems += _check(Contact, {**contact, "contact_id": "C-0"})
        if lead is not None and not problems:
            problems += _check(Lead, {**lead, "lead_id": "L-0"})
        if problems:
            raise InvalidRecord(f"Line {row.line}", problems)
        return Candidate(row.line, v, contact, company, lead, ref, own_created, note)

    def _lead(
        self,
        v: list[str],
        status: str | None,
        reason: str | None,
        status_text: str,
        source_text: str,
        description: str,
        website: str,
        company: str | None,
        first: str,
        last: str,
        emails: list[str],
    ) -> tuple[Doc, list[str]]:
        problems: list[str] = []
        notes: list[str] = []
        tags: list[str] = []
        if status is None:
            status = "new"
            notes.append(f"Status in {self.system}: {neutralise(status_text)} (not one of ours; started as new)")
        elif status_text and mapping.value_key(status_text) != status:
            notes.append(f"Status in {self.system}: {neutralise(status_text)}")
        source = mapping.lead_source(source_text) if source_text else "other"
        if source_text and (source is None or mapping.value_key(source_text) != source):
            tags.append(neutralise(source_text))  # the exact original: "Trade Show", "Sales Mail Alias"
        value: float | None = None
        if raw_value := self.get(v, "value"):
            m = _MONEY.match(raw_value)
            if m:
                value = float(m.group(1).replace(",", "")) * (1000 if m.group(2) else 1)
            else:
                problems.append(f"value {raw_value!r} is not an amount")
        close: dt.date | None = None
        if raw_close := self.get(v, "expected_close_date"):
            parsed = mapping.parse_date(raw_close)
            if parsed is None:
                problems.append(f"expected close date {raw_close!r} is not a date")
            else:
                close = parsed.date()
        stage = self.get(v, "pipeline_stage") or "inquiry"
        if stage not in choices(PipelineStage):
            problems.append(f"pipeline stage {stage!r} is not one of {', '.join(choices(PipelineStage))}")
        if own_reason := self.get(v, "disqualification_reason"):
            reason = own_reason
        for column, raw in self.all(v, "note"):
            notes.append(f"{column}: {neutralise(raw)}")
        who = company or f"{first} {last}".strip() or (emails[0] if emails else "")
        title = short_title(neutralise(self.get(v, "lead_title")), description)
        if title == "New inquiry" and who:
            title = short_title(f"Inquiry from {who}")
        lead: Doc = {
            "title": title,
            "description": description,
            "source": source or "other",
            "status": status,
            "pipeline_stage": stage,
            "estimated_value": value,
            "expected_close_date": close.isoformat() if close else None,
            "owner": neutralise(self.get(v, "owner")) or None,
            "url": website or None,
            "notes": "\n".join(notes),
            "tags": tags,
            "imported_from": self.source.profile.label,
        }
        if status == "disqualified":
            lead["disqualification_reason"] = reason or "other"
            lead["disqualification_note"] = f"{self.system}: {neutralise(status_text)}" if status_text else None
        if external := self.get(v, "external_id"):
            lead["external_id"] = external
        if raw_created := self.get(v, "created"):
            parsed = mapping.parse_date(raw_created)
            lead["external_created_at"] = parsed.isoformat() if parsed else raw_created
        return {k: val for k, val in lead.items() if val is not None}, problems


def _fingerprint(values: list[str]) -> str:
    joined = "\x1f".join(" ".join(x.split()).lower() for x in values)
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()[:20]


def _check(model: type[Contact] | type[Lead], doc: Doc) -> list[str]:
    try:
        model.model_validate({**doc, "created_at": STAMP, "updated_at": STAMP})
    except ValidationError as exc:
        return [
            (f"{'.'.join(str(p) for p in e['loc'])}: " if e["loc"] else "") + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        ]
    return []


# ---------------------------------------------------------------------------- the plan
Action = Literal["create", "update", "skip", "reject"]


@dataclass
class Step:
    line: int
    action: Action
    label: str
    detail: str = ""
    candidate: Candidate | None = None
    contact_id: str | None = None  # an existing contact this row updates or attaches its lead to
    planned: int | None = None  # ... or the index of a contact created by an earlier row
    contact_changes: Doc = field(default_factory=dict)
    new_contact: bool = False
    new_lead: bool = False
    lead_id: str | None = None  # an existing lead this row updates
    lead_changes: Doc = field(default_factory=dict)
    company_key: str | None = None  # fold() of the company name to link


@dataclass
class Plan:
    source: Source
    steps: list[Step]
    new_companies: dict[str, str]  # fold(name) -> name, in first-seen order
    customer_companies: set[str] = field(default_factory=set)  # new companies that are customers already

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "update": 0, "skip": 0, "reject": 0}
        for s in self.steps:
            out[s.action] += 1
        return out

    def totals(self) -> dict[str, int]:
        """What the real run writes."""
        used = {s.company_key for s in self.steps if s.action in ("create", "update") and s.company_key}
        return {
            "contacts created": sum(1 for s in self.steps if s.new_contact),
            "contacts updated": sum(
                1 for s in self.steps if s.contact_changes and s.contact_id and s.action == "update"
            ),
            "companies created": sum(1 for key in self.new_companies if key in used),
            "leads created": sum(1 for s in self.steps if s.new_lead),
            "leads updated": sum(1 for s in self.steps if s.lead_changes),
        }

    @property
    def rejected(self) -> list[Step]:
        return [s for s in self.steps if s.action == "reject"]


class _FileIndex:
    """The contacts the file itself will create, findable like the book's."""

    def __init__(self) -> None:
        self.email: dict[str, int] = {}
        self.phone: dict[str, int] = {}
        self.block: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.people: list[Person] = []
        self.lines: list[int] = []
        self.contacts: list[Doc] = []

    def add(self, p: Person, contact: Doc, line: int) -> int:
        i = len(self.people)
        self.people.append(p)
        self.lines.append(line)
        self.contacts.append(contact)
        self._index(i, p)
        return i

    def refresh(self, i: int, p: Person) -> None:
        self.people[i] = p
        self._index(i, p)

    def _index(self, i: int, p: Person) -> None:
        for e in p.emails:
            self.email.setdefault(e, i)
        for ph in p.phones:
            self.phone.setdefault(ph, i)
        if any(p.block) and i not in self.block[p.block]:
            self.block[p.block].append(i)

    def match(self, p: Person) -> tuple[int, str] | None:
        for e in sorted(p.emails):
            if e in self.email:
                return self.email[e], f"same email {e}"
        for ph in sorted(p.phones):
            if ph in self.phone:
                return self.phone[ph], "same phone"
        for i in self.block.get(p.block, ()):
            if why := same_person(p, self.people[i]):
                return i, why
        return None


def plan_import(
    store: Store,
    source: Source,
    policy: Policy = "skip",
    per_line: dict[int, Policy] | None = None,
    on_row: Progress = None,
) -> Plan:
    """What importing ``source`` would do, row by row. Reads the book; writes nothing."""
    per_line = per_line or {}
    region = store.settings.default_phone_region
    builder = RowBuilder(store, source)
    steps: list[Step] = []
    new_companies: dict[str, str] = {}
    customer_companies: set[str] = set()
    file_index = _FileIndex()
    planned_steps: dict[int, Step] = {}
    for row, reason in source.table.malformed:
        shown = ", ".join(v.strip() for v in row.values if v.strip())
        steps.append(_rejected(row, shown if len(shown) <= 40 else shown[:39] + "…", reason))
    with store.reading():
        names = company_names(store)
        book_companies = {fold(name): cid for cid, name in names.items()}
        blocks = name_blocks(store, names)
        for n, row in enumerate(source.table.rows, start=1):
            if on_row:
                on_row(n)
            try:
                cand = builder.build(row)
            except InvalidRecord as exc:
                steps.append(_rejected(row, _row_label(builder, row), "; ".join(exc.problems)))
                continue
            choice = per_line.get(row.line, policy)
            company_key = fold(cand.company) if cand.company else None
            if company_key and company_key not in book_companies:
                new_companies.setdefault(company_key, cand.company or "")
                if cand.contact.get("lifecycle_stage") == "customer":
                    customer_companies.add(company_key)
            step = Step(row.line, "create", cand.label, cand.note, cand, company_key=company_key)
            steps.append(step)

            if not cand.contact:  # a company on its own
                if company_key in book_companies or any(
                    s.company_key == company_key and s.action == "create" for s in steps[:-1]
                ):
                    step.action, step.detail = "skip", "company already in the book"
                continue

            # 1. our own export read back into the same book: nothing in it is new
            own = _own_record(store, cand, "leads" if source.kind == "leads" else "contacts")
            if own is not None:
                step.action, step.detail = (
                    "skip",
                    f"already in this book ({own['lead_id' if 'lead_id' in own else 'contact_id']})",
                )
                continue
            # 2. imported before (the same key)
            existing = _already_imported(store, cand)
            if existing is not None:
                _plan_known(store, step, cand, existing, choice, "imported before")
                continue
            # 3. the same person in the book, or earlier in this file
            p = person(
                cand.contact["first_name"],
                cand.contact["last_name"],
                cand.company,
                cand.contact["phones"],
                cand.contact["emails"],
                region,
            )
            match = _book_match(store, p, blocks)
            earlier = file_index.match(p) if match is None else None
            if match is not None and choice != "create":
                doc, why = match
                _plan_known(store, step, cand, doc, choice, why)
                continue
            if earlier is not None and choice != "create":
                i, why = earlier
                first = planned_steps[i]
                if choice == "skip":
                    step.action, step.detail = "skip", f"same person as line {file_index.lines[i]} ({why})"
                    continue
                changes = fill_changes(file_index.contacts[i], cand.contact, region)
                file_index.contacts[i].update(changes)
                if company_key and not first.company_key:
                    first.company_key = company_key
                if changes:
                    file_index.refresh(i, person_of(file_index.contacts[i], {}, region))
                step.planned = i
                step.new_lead = cand.lead is not None
                step.action = "update" if (changes or step.new_lead) else "skip"
                step.detail = f"same person as line {file_index.lines[i]} ({why})" + (
                    f": adds {_changed(changes)}" if changes else ""
                )
                continue
            # 4. someone new
            i = file_index.add(p, dict(cand.contact), row.line)
            planned_steps[i] = step
            step.planned, step.new_contact, step.new_lead = i, True, cand.lead is not None
            if match is not None:
                step.detail = f"created although {match[0]['contact_id']} {full_name(match[0])} matches ({match[1]})"
            elif earlier is not None:
                step.detail = f"created although line {file_index.lines[earlier[0]]} matches ({earlier[1]})"
    for i, s in planned_steps.items():
        s.candidate.contact = file_index.contacts[i]  # type: ignore[union-attr]
    steps.sort(key=lambda s: s.line)
    return Plan(source, steps, new_companies, customer_companies)


def _rejected(row: Row, label: str, reason: str) -> Step:
    return Step(row.line, "reject", label, reason, Candidate(row.line, row.values, {}, None, None, ""))


def _row_label(builder: RowBuilder, row: Row) -> str:
    v = row.values
    name = " ".join(x for x in (builder.get(v, "first_name"), builder.get(v, "last_name")) if x)
    return name or builder.get(v, "name") or builder.get(v, "company") or builder.get(v, "email") or f"line {row.line}"


def known_lead(store: Store, cand: Candidate) -> str | None:
    """The lead this row made before, by its import key."""
    lead = store.by_source_ref("leads", cand.ref) if cand.lead is not None else None
    return lead["lead_id"] if lead else None


def _own_record(store: Store, cand: Candidate, table: str) -> Doc | None:
    """The record an export of this very book describes: same id, same creation time."""
    key, _, own_id = cand.ref.partition(":")
    prefix = {"contacts": "C-", "leads": "L-"}[table]
    if key != "backoffice" or not own_id.upper().startswith(prefix) or not cand.own_created:
        return None
    try:
        doc = store.get(table, own_id)
    except NotFound:  # "C-abc": not one of our ids after all
        return None
    return doc if doc and doc["created_at"] == cand.own_created else None


def _already_imported(store: Store, cand: Candidate) -> Doc | None:
    if (lead_id := known_lead(store, cand)) is not None:
        lead = store.get("leads", lead_id)
        if lead and lead.get("contact_id"):
            return _follow_merges(store, lead["contact_id"])
    if contact := store.by_source_ref("contacts", cand.ref):
        return _follow_merges(store, contact["contact_id"])
    return None


def _follow_merges(store: Store, contact_id: str) -> Doc | None:
    """The contact as it is now: a merged record leads to the one it was merged into."""
    seen = set()
    doc = store.get("contacts", contact_id)
    while doc is not None and doc.get("merged_into") and doc["contact_id"] not in seen:
        seen.add(doc["contact_id"])
        doc = store.get("contacts", doc["merged_into"])
    return doc


def _book_match(
    store: Store, p: Person, blocks: dict[tuple[str, str], list[tuple[str, Person]]]
) -> tuple[Doc, str] | None:
    region = store.settings.default_phone_region
    for e in sorted(p.emails):
        for found in store.contacts_by_email(e):
            if doc := _follow_merges(store, found["contact_id"]):
                return doc, f"same email {e}"
    for ph in sorted(p.phones):
        for found in store.contacts_by_phone(ph):
            if doc := _follow_merges(store, found["contact_id"]):
                return doc, f"same phone {phone_display(ph, region)}"
    for cid, other in blocks.get(p.block, ()):
        if why := same_person(p, other):
            return store.require("contacts", cid), why
    return None


def _plan_known(store: Store, step: Step, cand: Candidate, doc: Doc, choice: Policy, why: str) -> None:
    """A row about someone already in the book."""
    region = store.settings.default_phone_region
    step.contact_id = doc["contact_id"]
    who = f"{doc['contact_id']} {full_name(doc)}"
    lead_id = known_lead(store, cand)
    if choice == "skip":
        step.action = "skip"
        step.detail = (
            f"already imported ({lead_id or doc['contact_id']})"
            if why == "imported before"
            else f"duplicate of {who} ({why})"
        )
        return
    changes = fill_changes(doc, cand.contact, region)
    if step.company_key and not doc.get("company_id"):
        changes["company_id"] = None  # placeholder: the company's id is known only when it is written
    else:
        step.company_key = None
    step.contact_changes = changes
    if cand.lead is not None:
        if lead_id:
            lead = store.get("leads", lead_id) or {}
            step.lead_id = lead_id
            step.lead_changes = {
                k: v
                for k, v in cand.lead.items()
                if k in ("description", "estimated_value", "expected_close_date", "owner", "url")
                and v
                and not lead.get(k)
            }
        else:
            step.new_lead = True
    if changes or step.new_lead or step.lead_changes:
        step.action = "update"
        parts = []
        if changes:
            parts.append(f"adds {_changed(changes)}")
        if step.new_lead:
            parts.append("opens a lead")
        if step.lead_changes:
            parts.append(f"fills lead {lead_id}: {', '.join(step.lead_changes)}")
        step.detail = f"{who} ({why}): " + "; ".join(parts)
    else:
        step.action = "skip"
        step.detail = f"{who} ({why}): nothing new"


def _changed(changes: Doc) -> str:
    return ", ".join(k.replace("_", " ").replace("company id", "company") for k in changes)


def fill_changes(existing: Doc, incoming: Doc, region: str) -> Doc:
    """What ``incoming`` adds to ``existing`` without overwriting anything: empty fields filled,
    new phones, emails and tags added, notes appended, a prospect becoming a customer."""
    changes: Doc = {}
    for f in ("first_name", "last_name", "address", "source", "preferred_channel", "quickbooks_customer_id"):
        if incoming.get(f) and not existing.get(f):
            changes[f] = incoming[f]
    have_phones = {phone_e164(p, region) for p in existing.get("phones") or []}
    phones = [p for p in incoming.get("phones") or [] if p not in have_phones]
    if phones:
        changes["phones"] = [*(existing.get("phones") or []), *phones]
    have_emails = {email_key(e) for e in existing.get("emails") or []}
    emails = [e for e in incoming.get("emails") or [] if email_key(e) not in have_emails]
    if emails:
        changes["emails"] = [*(existing.get("emails") or []), *emails]
    tags = [t for t in incoming.get("tags") or [] if t not in (existing.get("tags") or [])]
    if tags:
        changes["tags"] = [*(existing.get("tags") or []), *tags]
    notes = existing.get("notes") or ""
    extra = incoming.get("notes") or ""
    if extra and extra not in notes:
        changes["notes"] = f"{notes}\n{extra}" if notes else extra
    if incoming.get("lifecycle_stage") == "customer" and existing.get("lifecycle_stage") == "prospect":
        changes["lifecycle_stage"] = "customer"
    return changes


# ---------------------------------------------------------------------------- writing
@dataclass
class Result:
    created_contacts: list[str] = field(default_factory=list)
    updated_contacts: list[str] = field(default_factory=list)
    created_companies: list[str] = field(default_factory=list)
    created_leads: list[str] = field(default_factory=list)
    updated_leads: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {
            "contacts created": len(self.created_contacts),
            "contacts updated": len(self.updated_contacts),
            "companies created": len(self.created_companies),
            "leads created": len(self.created_leads),
            "leads updated": len(self.updated_leads),
        }


def apply_plan(store: Store, plan: Plan, on_row: Progress = None) -> Result:
    """Write the plan in one transaction. Any failure (a record the store refuses, a crash) rolls
    the whole import back: the book is as it was."""
    result = Result()
    company_ids: dict[str, str] = {}
    planned_ids: dict[int, str] = {}
    with store.acting_as("import"), store.transaction():
        with store.reading():
            company_ids = {fold(c["name"]): c["company_id"] for c in store.scan("companies")}

        def company(key: str | None) -> str | None:
            if not key:
                return None
            if key not in company_ids:
                status = "active_customer" if key in plan.customer_companies else "prospect"
                fields = {"name": plan.new_companies[key], "type": "business", "status": status}
                doc = store.insert("companies", fields, action="imported")
                company_ids[key] = doc["company_id"]
                result.created_companies.append(doc["company_id"])
            return company_ids[key]

        for n, step in enumerate(plan.steps, start=1):
            if on_row:
                on_row(n)
            if step.action not in ("create", "update"):
                continue
            cand = step.candidate
            assert cand is not None
            try:
                if not cand.contact:
                    company(step.company_key)
                    continue
                if step.new_contact:
                    doc = store.insert(
                        "contacts", {**cand.contact, "company_id": company(step.company_key)}, action="imported"
                    )
                    assert step.planned is not None
                    planned_ids[step.planned] = doc["contact_id"]
                    result.created_contacts.append(doc["contact_id"])
                    contact_id = doc["contact_id"]
                elif step.planned is not None:
                    contact_id = planned_ids[step.planned]
                else:
                    assert step.contact_id is not None
                    contact_id = step.contact_id
                    if step.contact_changes:
                        changes = dict(step.contact_changes)
                        if "company_id" in changes:
                            changes["company_id"] = company(step.company_key)
                        store.update("contacts", contact_id, changes, action="imported")
                        result.updated_contacts.append(contact_id)
                if step.new_lead and cand.lead is not None:
                    contact = store.require("contacts", contact_id)
                    fields = {**cand.lead, "contact_id": contact_id, "company_id": contact.get("company_id")}
                    lead = store.insert("leads", fields, action="imported")
                    result.created_leads.append(lead["lead_id"])
                if step.lead_changes and step.lead_id:
                    store.update("leads", step.lead_id, step.lead_changes, action="imported")
                    result.updated_leads.append(step.lead_id)
            except InvalidRecord as exc:
                raise BadInput(f"The import stopped at line {step.line} and wrote nothing", exc.problems) from exc
    return result


def rejected_rows_csv(plan: Plan) -> tuple[list[str], list[list[str]]]:
    """The rejected rows as they were, with the line and the reason, to fix and import again."""
    header = [*plan.source.table.header, "import_line", "import_problem"]
    rows = []
    width = len(plan.source.table.header)
    for step in plan.rejected:
        values = list(step.candidate.values if step.candidate else [])
        values = (
            (values + [""] * width)[:width]
            if len(values) <= width
            else values[: width - 1] + [plan.source.table.delimiter.join(values[width - 1 :])]
        )
        rows.append([*values, str(step.line), step.detail])
    return header, rows


# ---------------------------------------------------------------------------- the import log
IMPORT_LOG = "imports.json"


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _log(store: Store) -> dict[str, Any]:
    data = load_json_file(store.directory / IMPORT_LOG)
    return data if isinstance(data, dict) else {}


def previewed(store: Store, digest: str) -> bool:
    """Has the owner seen the plan for this exact file before?"""
    return digest in _log(store)


def remember(store: Store, digest: str, path: Path, what: str, counts: dict[str, int]) -> None:
    """Note that this file was previewed or imported (data/imports.json)."""
    with file_lock(store.directory / ".imports.lock"):
        log = _log(store)
        entry = log.setdefault(digest, {"file": str(path.resolve())})
        entry[f"{what}_at"] = store.now().isoformat(timespec="seconds")
        entry[what] = counts
        atomic_write_bytes(store.directory / IMPORT_LOG, orjson.dumps(log, option=orjson.OPT_INDENT_2))


def write_rejected(store: Store, plan: Plan) -> Path | None:
    """The rejected rows next to the input file (or in the data dir when that folder is read-only)."""
    if not plan.rejected:
        return None
    header, rows = rejected_rows_csv(plan)
    source = plan.source.table.path
    name = f"{source.stem}.rejected.csv"
    for folder in (source.parent, store.directory / "imports"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_csv(folder / name, header, rows)
            return folder / name
        except OSError:
            continue
    return None
