"""The duplicate scan: groups of contacts in the book that look like one person, and why."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from backoffice.tools.book.normalize import phone_display
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.crm.contacts import contact_card
from backoffice.tools.crm.identity import Person, block_of, person_of, same_person
from backoffice.tools.registry import ToolInput, tool

BLOCK_LIMIT = 2000  # more namesakes than this in one block are compared only with the same first name


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


class NameBlocks:
    """Contacts by name block, read from the index's folded names; the people of a block are built
    (their records read) only when that block is asked for, so a scan of 100,000 contacts reads
    only the records that share a block."""

    def __init__(self, store: Store, names: dict[str, str], **where: Any):
        self.store, self.names = store, names
        self.ids: dict[tuple[str, str], list[str]] = defaultdict(list)
        for row in store.fields("contacts", ["first", "last"], **where):
            block = block_of(row["first"] or "", row["last"] or "")
            if any(block):
                self.ids[block].append(row["id"])
        self._people: dict[tuple[str, str], list[tuple[str, Person]]] = {}

    def get(
        self, block: tuple[str, str], default: list[tuple[str, Person]] | tuple[()] = ()
    ) -> list[tuple[str, Person]] | tuple[()]:
        if block not in self.ids:
            return default
        if block not in self._people:
            self._build([block])
        return self._people[block]

    def crowded(self) -> list[list[tuple[str, Person]]]:
        """Every block of two people or more (read in one pass)."""
        blocks = [b for b, ids in self.ids.items() if len(ids) > 1]
        self._build([b for b in blocks if b not in self._people])
        return [self._people[b] for b in blocks]

    def _build(self, blocks: list[tuple[str, str]]) -> None:
        region = self.store.settings.default_phone_region
        docs = self.store.many("contacts", [cid for b in blocks for cid in self.ids[b]])
        for b in blocks:
            self._people[b] = [(cid, person_of(docs[cid], self.names, region)) for cid in self.ids[b] if cid in docs]


def name_blocks(store: Store, names: dict[str, str]) -> NameBlocks:
    """Active (not merged) contacts by name block."""
    return NameBlocks(store, names, merged_into=None)


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
        by_email = store.shared_values("contacts", "email", archived=False)
        by_phone = store.shared_values("contacts", "phone", archived=False)
        blocks = NameBlocks(store, names, archived=False).crowded()
    for email, ids in by_email.items():
        link(ids, f"same email {email}")
    for phone, ids in by_phone.items():
        link(ids, f"same phone {phone_display(phone, region)}")
    for members in blocks:
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
    """How many interactions, leads and jobs point at a contact."""
    with store.reading():
        return sum(store.count_linked(t, "contact_id", contact_id) for t in ("interactions", "leads", "opportunities"))


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
    limit: int = Field(default=20, ge=1, le=200, description="at most this many groups")


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
