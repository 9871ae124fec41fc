"""What importing a file would do, row by row: create, update, skip or reject, with the reason."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from backoffice.tools.book.normalize import email_key, fold, full_name, phone_display, phone_e164
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.bulk.importer.rows import Candidate, RowBuilder
from backoffice.tools.bulk.importer.source import Source
from backoffice.tools.bulk.mapping import Policy
from backoffice.tools.bulk.tabular import Row
from backoffice.tools.crm.duplicates import NameBlocks, company_names, name_blocks
from backoffice.tools.crm.identity import Person, person, person_of, same_person
from backoffice.tools.errors import InvalidRecord, NotFound

Progress = Callable[[int], None] | None


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
    policy: Policy = "skip"
    per_line: dict[int, Policy] = field(default_factory=dict)

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
    return Plan(source, steps, new_companies, customer_companies, policy, per_line)


def stale_lines(approved: Plan, fresh: Plan) -> tuple[list[str], list[int]]:
    """How ``fresh`` (made now, inside the write) departs from ``approved`` (what the owner saw):
    the rows that would now write something other than what was shown, and the lines that were to
    write but have nothing left to do (another import or a change brought them in meanwhile)."""
    shown = {s.line: s for s in approved.steps}
    changed: list[str] = []
    gone: list[int] = []
    for step in fresh.steps:
        before = shown.get(step.line)
        writes = step.action in ("create", "update")
        if before is None:
            changed.append(f"line {step.line} was not in the plan")
        elif writes and (before.action, before.label, before.detail) != (step.action, step.label, step.detail):
            was = f"{before.action}" + (f" ({before.detail})" if before.detail else "")
            now = f"{step.action}" + (f" ({step.detail})" if step.detail else "")
            changed.append(f"line {step.line} was to {was}, now {now}")
        elif not writes and before.action in ("create", "update"):
            gone.append(step.line)
    return changed, gone


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


def _book_match(store: Store, p: Person, blocks: NameBlocks) -> tuple[Doc, str] | None:
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
