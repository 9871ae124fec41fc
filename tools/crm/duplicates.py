"""Duplicate contacts: how two records are recognised as one person, the scan of the whole book,
and the merge (consequential: only with the owner's yes).

Two contacts are the same person when they share a phone number (any format: both are compared
in E.164), an email address (case-insensitive), or a name: the same last name, first names that
agree ("Dana" and "Dana", "D." and "Dana", "Jon" and "John") and either the same company ("Smith
& Sons" and "Smith and Sons") or, without a company to compare, no phone or email that tells them
apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field
from rapidfuzz import fuzz

from backoffice.tools.crm.contacts import contact_card
from backoffice.tools.errors import BadInput
from backoffice.tools.book.normalize import email_key, fold, full_name, phone_display, phone_e164
from backoffice.tools.registry import ToolInput, tool
from backoffice.tools.book.store import Store

Doc = dict[str, Any]
SIMILAR = 85  # percent: names and companies at least this alike count as the same (NextCRM's rule)
BLOCK_LIMIT = 2000  # more namesakes than this in one block are compared only with the same first name


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    company: str
    phones: frozenset[str]
    emails: frozenset[str]

    @property
    def block(self) -> tuple[str, str]:
        """Only people in the same block are compared by name: same last name and first initial."""
        return (self.last, self.first[:1]) if self.last else ("", self.first)


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


# ---------------------------------------------------------------------------- the scan
@dataclass
class Cluster:
    ids: list[str]
    reasons: list[tuple[str, str, str]] = field(default_factory=list)  # (id, id, why)


class _Union:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while x != root:
            self.parent[x], x = root, self.parent.get(x, x)
        return root

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb, key=_num)] = min(ra, rb, key=_num)


def _num(record_id: str) -> int:
    return int(record_id.rpartition("-")[2])


def name_blocks(store: Store, names: dict[str, str]) -> dict[tuple[str, str], list[tuple[str, Person]]]:
    """Active (not merged) contacts by name block. Call inside ``store.reading()``."""
    region = store.settings.default_phone_region
    blocks: dict[tuple[str, str], list[tuple[str, Person]]] = defaultdict(list)
    for doc in store.scan("contacts"):
        if doc.get("merged_into"):
            continue
        p = person_of(doc, names, region)
        if any(p.block):
            blocks[p.block].append((doc["contact_id"], p))
    return blocks


def company_names(store: Store) -> dict[str, str]:
    """company id -> name. Call inside ``store.reading()``."""
    return {c["company_id"]: c["name"] for c in store.scan("companies")}


def duplicate_clusters(store: Store) -> list[Cluster]:
    """Groups of active contacts that look like one person, each pair with the reason."""
    region = store.settings.default_phone_region
    union = _Union()
    reasons: dict[tuple[str, str], list[str]] = {}  # every reason a pair matched for

    def link(ids: list[str], why: str) -> None:
        ids = sorted(ids, key=_num)
        for other in ids[1:]:
            reasons.setdefault((ids[0], other), []).append(why)
            union.join(ids[0], other)

    with store.reading():
        names = company_names(store)
        by_email: dict[str, list[str]] = defaultdict(list)
        by_phone: dict[str, list[str]] = defaultdict(list)
        blocks: dict[tuple[str, str], list[tuple[str, Person]]] = defaultdict(list)
        for doc in store.scan("contacts"):
            if doc.get("archived"):
                continue
            cid = doc["contact_id"]
            p = person_of(doc, names, region)
            for e in p.emails:
                by_email[e].append(cid)
            for ph in p.phones:
                by_phone[ph].append(cid)
            if any(p.block):
                blocks[p.block].append((cid, p))
    for email, ids in by_email.items():
        if len(ids) > 1:
            link(ids, f"same email {email}")
    for phone, ids in by_phone.items():
        if len(ids) > 1:
            link(ids, f"same phone {phone_display(phone, region)}")
    for members in blocks.values():
        if len(members) < 2:
            continue
        groups: Iterable[list[tuple[str, Person]]] = [members]
        if len(members) > BLOCK_LIMIT:
            by_first: dict[str, list[tuple[str, Person]]] = defaultdict(list)
            for m in members:
                by_first[m[1].first].append(m)
            groups = by_first.values()
        for group in groups:
            for i, (a_id, a) in enumerate(group):
                for b_id, b in group[i + 1 :]:
                    if union.find(a_id) == union.find(b_id):
                        continue
                    why = same_person(a, b)
                    if why:
                        link([a_id, b_id], why)
    clusters: dict[str, Cluster] = {}
    for (left, right), whys in reasons.items():
        cluster = clusters.setdefault(union.find(left), Cluster([]))
        cluster.reasons.append((left, right, ", ".join(whys)))
        for x in (left, right):
            if x not in cluster.ids:
                cluster.ids.append(x)
    out = list(clusters.values())
    for cluster in out:
        cluster.ids.sort(key=_num)
    out.sort(key=lambda c: _num(c.ids[0]))
    return out


def history_size(store: Store, contact_id: str) -> int:
    with store.reading():
        ix = store.indexes
        return (
            len(ix.by_link["contact_id"].get(contact_id, ()))
            + len(ix.lead_of_contact.get(contact_id, ()))
            + len(ix.opp_of["contact_id"].get(contact_id, ()))
        )


LIFECYCLE_RANK = {"prospect": 0, "past_customer": 1, "customer": 2}


def suggest_keep(store: Store, docs: list[Doc]) -> Doc:
    """The record to keep: the one with the most history, then a customer, then the oldest."""
    return max(
        docs,
        key=lambda d: (
            history_size(store, d["contact_id"]),
            LIFECYCLE_RANK.get(d.get("lifecycle_stage", ""), 0),
            -_num(d["contact_id"]),
        ),
    )


class FindDuplicatesInput(ToolInput):
    limit: int = Field(default=20, ge=1, le=200)


@tool("read")
def find_duplicates(store: Store, args: FindDuplicatesInput) -> dict[str, Any]:
    """Scan the customer book for contacts that look like the same person (same phone, same email,
    or the same name at the same company), grouped, with the reason for each match and the record
    suggested to keep. Merging them is merge_contacts, which needs the owner's yes."""
    clusters = duplicate_clusters(store)
    shown = []
    for cluster in clusters[: args.limit]:
        docs = [store.require("contacts", cid) for cid in cluster.ids]
        keep = suggest_keep(store, docs)
        shown.append(
            {
                "contacts": [{**contact_card(store, d), "history": history_size(store, d["contact_id"])} for d in docs],
                "why": [f"{a} and {b}: {why}" for a, b, why in cluster.reasons],
                "suggested_keep": keep["contact_id"],
            }
        )
    if not clusters:
        message = "No likely duplicates in the book."
    else:
        message = f"{len(clusters)} group{'s' if len(clusters) != 1 else ''} of likely duplicates."
    return {"clusters": shown, "total": len(clusters), "message": message}


# ---------------------------------------------------------------------------- merging
SCALARS = ("first_name", "last_name", "company_id", "address", "preferred_channel", "source", "quickbooks_customer_id")
LABELS = {
    "first_name": "first name",
    "last_name": "last name",
    "company_id": "company",
    "address": "address",
    "preferred_channel": "preferred channel",
    "source": "source",
    "quickbooks_customer_id": "QuickBooks customer",
    "lifecycle_stage": "lifecycle",
}


class MergeContactsInput(ToolInput):
    keep: str = Field(description="the contact id to keep (the master record), e.g. C-1")
    merge: list[str] = Field(min_length=1, description="contact ids to fold into it; they are archived, never deleted")
    take: dict[str, str] = Field(
        default_factory=dict,
        description="optional field -> contact id whose value to keep, e.g. {'address': 'C-7'}; by default the "
        "kept contact's values win and its empty fields are filled from the others",
    )


@dataclass
class MergePlan:
    keep: Doc
    others: list[Doc]
    changes: Doc
    choices: dict[str, dict[str, Any]]
    moves: dict[str, list[str]]


def plan_merge(store: Store, args: MergeContactsInput) -> MergePlan:
    keep_id = args.keep.strip().upper()
    other_ids = [m.strip().upper() for m in args.merge]
    problems = []
    if keep_id in other_ids:
        problems.append(f"{keep_id} cannot be merged into itself")
    if len(set(other_ids)) != len(other_ids):
        problems.append("a contact is named twice")
    bad_take = [f for f in args.take if f not in SCALARS]
    if bad_take:
        problems.append(f"take names unknown field(s) {', '.join(bad_take)}; choose from {', '.join(SCALARS)}")
    if problems:
        raise BadInput("Cannot merge", problems)
    keep = store.require("contacts", keep_id)
    others = [store.require("contacts", oid) for oid in other_ids]
    for doc in (keep, *others):
        if doc.get("archived"):
            into = f" (merged into {doc['merged_into']})" if doc.get("merged_into") else ""
            raise BadInput("Cannot merge", [f"{doc['contact_id']} is archived{into}; only active contacts are merged"])
    everyone = {d["contact_id"]: d for d in (keep, *others)}
    for f, source in args.take.items():
        if source.strip().upper() not in everyone:
            raise BadInput("Cannot merge", [f"take[{f}] is {source}, which is not one of the contacts being merged"])

    changes: Doc = {}
    choices: dict[str, dict[str, Any]] = {}
    for f in SCALARS:
        value, source = keep.get(f), keep_id
        chosen = args.take.get(f, "").strip().upper()
        if chosen:
            value, source = everyone[chosen].get(f), chosen
        elif f == "first_name" and len(fold(value)) == 1:
            # "D." kept beside "Dana": the fuller first name with the same initial wins
            fuller = [o for o in others if fold(o.get(f)).startswith(fold(value)) and len(fold(o.get(f))) > 1]
            if fuller:
                value, source = fuller[0][f], fuller[0]["contact_id"]
        elif not value:
            filled = next((o for o in others if o.get(f)), None)
            if filled:
                value, source = filled[f], filled["contact_id"]
        if value != keep.get(f):
            changes[f] = value
        if value or source != keep_id:
            choices[f] = {"value": value, "from": source}
    region = store.settings.default_phone_region
    for f, key in (("phones", lambda x: phone_e164(x, region)), ("emails", email_key), ("tags", fold)):
        merged: list[str] = []
        seen: set[Any] = set()
        for doc in (keep, *others):
            for item in doc.get(f) or []:
                k = key(item)
                if k not in seen:
                    seen.add(k)
                    merged.append(item)
        if merged != (keep.get(f) or []):
            changes[f] = merged
            choices[f] = {"value": merged, "from": "all"}
    stage = max(
        (d.get("lifecycle_stage", "prospect") for d in everyone.values()), key=lambda s: LIFECYCLE_RANK.get(s, 0)
    )
    if stage != keep.get("lifecycle_stage"):
        changes["lifecycle_stage"] = stage
        choices["lifecycle_stage"] = {
            "value": stage,
            "from": next(i for i, d in everyone.items() if d.get("lifecycle_stage") == stage),
        }
    notes = keep.get("notes") or ""
    for o in others:
        extra = []
        if o.get("notes") and o["notes"] not in notes:
            extra.append(o["notes"])
        qb = o.get("quickbooks_customer_id")
        if qb and qb != changes.get("quickbooks_customer_id", keep.get("quickbooks_customer_id")):
            extra.append(f"also QuickBooks customer {qb}")
        if extra:
            notes = (notes + "\n" if notes else "") + f"From {full_name(o)} ({o['contact_id']}): " + "; ".join(extra)
    if notes != (keep.get("notes") or ""):
        changes["notes"] = notes

    moves: dict[str, list[str]] = {"interactions": [], "leads": [], "opportunities": [], "companies": []}
    with store.reading():
        for o in others:
            oid = o["contact_id"]
            moves["interactions"] += [d["interaction_id"] for d in store.linked("interactions", "contact_id", oid)]
            moves["leads"] += [d["lead_id"] for d in store.linked("leads", "contact_id", oid)]
            moves["opportunities"] += [d["opportunity_id"] for d in store.linked("opportunities", "contact_id", oid)]
        moves["companies"] = [
            c["company_id"] for c in store.scan("companies") if c.get("primary_contact_id") in other_ids
        ]
    return MergePlan(keep, others, changes, choices, moves)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe_merge(store: Store, plan: MergePlan) -> tuple[str, str]:
    """The title and preview the owner says yes or no to."""
    region = store.settings.default_phone_region

    def card(d: Doc) -> str:
        bits = [f"{full_name(d)} ({d['contact_id']})"]
        bits += [phone_display(p, region) for p in (d.get("phones") or [])[:2]]
        bits += (d.get("emails") or [])[:2]
        if d.get("address"):
            bits.append(d["address"])
        bits.append(_plural(history_size(store, d["contact_id"]), "linked record"))
        return " · ".join(bits)

    keep = plan.keep
    lines = [f"Keep:    {card(keep)}"]
    lines += [f"Archive: {card(o)}" for o in plan.others]
    m = plan.moves
    lines.append(
        f"Moves to {keep['contact_id']}: {_plural(len(m['interactions']), 'interaction')}, "
        f"{_plural(len(m['leads']), 'lead')}, {_plural(len(m['opportunities']), 'job')}"
        + (f", primary contact of {_plural(len(m['companies']), 'company')}" if m["companies"] else "")
        + "."
    )
    for f, choice in plan.choices.items():
        if f in ("phones", "emails", "tags"):
            shown = ", ".join(phone_display(v, region) if f == "phones" else v for v in choice["value"])
            lines.append(f"{f.capitalize()}: {shown}")
        elif choice["from"] != keep["contact_id"]:
            value = choice["value"]
            if f == "company_id" and value:
                value = (store.get("companies", value) or {}).get("name", value)
            lines.append(f"{LABELS.get(f, f).capitalize()}: {value!r} from {choice['from']}")
    ids = ", ".join(o["contact_id"] for o in plan.others)
    lines.append(
        f"Nothing is deleted: {ids} stay{'s' if len(plan.others) == 1 else ''} on file, archived and marked merged."
    )
    names = " and ".join(full_name(o) for o in plan.others)
    return f"Merge {names} into {full_name(keep)} ({keep['contact_id']})", "\n".join(lines)


@tool("consequential")
def merge_contacts(store: Store, args: MergeContactsInput) -> dict[str, Any]:
    """Merge duplicate contacts into one: every interaction, lead and job of the others moves to the
    kept contact, its empty fields are filled from theirs, phones/emails/tags are combined, and the
    others are archived (never deleted) and marked merged_into. Needs the owner's yes."""
    with store.transaction():
        plan = plan_merge(store, args)
        keep_id = plan.keep["contact_id"]
        for table, link in (("interactions", "contact_id"), ("leads", "contact_id"), ("opportunities", "contact_id")):
            for rid in plan.moves[table]:
                store.update(table, rid, {link: keep_id}, action="relinked")
        for cid in plan.moves["companies"]:
            store.update("companies", cid, {"primary_contact_id": keep_id}, action="relinked")
        if plan.changes:
            store.update("contacts", keep_id, plan.changes, action="merged")
        for o in plan.others:
            store.update("contacts", o["contact_id"], {"archived": True, "merged_into": keep_id}, action="merged_into")
        merged = [o["contact_id"] for o in plan.others]
        store.note(
            "merge",
            "contacts",
            keep_id,
            {"kept": keep_id, "merged": merged, "fields": plan.choices, "moved": plan.moves},
        )
    m = plan.moves
    folded = ", ".join(f"{full_name(o)} ({o['contact_id']})" for o in plan.others)
    kept = full_name({**plan.keep, **plan.changes})
    return {
        "kept": keep_id,
        "merged": merged,
        "moved": {k: len(v) for k, v in m.items()},
        "message": (
            f"Merged {folded} into "
            f"{kept} ({keep_id}): moved {_plural(len(m['interactions']), 'interaction')}, "
            f"{_plural(len(m['leads']), 'lead')} and {_plural(len(m['opportunities']), 'job')}. "
            f"{', '.join(merged)} {'is' if len(merged) == 1 else 'are'} archived, not deleted."
        ),
    }
