"""One row of an import file turned into the contact, company and lead it describes."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from pydantic import ValidationError

from backoffice.tools.book.models import Contact, Lead, PipelineStage, PreferredChannel, choices
from backoffice.tools.book.normalize import email_key, email_normal, fold, full_name, phone_e164
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.bulk import mapping
from backoffice.tools.bulk.importer.source import STAMP, Source
from backoffice.tools.bulk.mapping import ADDRESS_PARTS
from backoffice.tools.bulk.tabular import Row, neutralise
from backoffice.tools.crm.leads import short_title
from backoffice.tools.errors import InvalidRecord


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
