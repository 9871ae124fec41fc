"""The customer book: validated records over the crash-safe Database, with ids, timestamps,
the event log and the lookup indexes.

Every write goes through ``insert`` or ``update`` inside ``transaction()``: the record is checked
against its JSON Schema *before* it is staged (a refused record changes nothing), the whole
transaction commits at once, and one event per change is appended to ``events.jsonl``.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import os
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from backoffice.tools.book import clock
from backoffice.tools.book.normalize import email_key, fold, full_name, phone_e164
from backoffice.tools.book.schemas import LAYOUT, TABLES, problems
from backoffice.tools.book.settings import Settings, load_settings
from backoffice.tools.book.storage import WRITE_THROUGH_BELOW, Database, Doc, Tables
from backoffice.tools.errors import InvalidRecord, NotFound
from backoffice.tools.services import Services

ACTORS = ("owner", "agent", "scheduler", "email", "import")
EVENTS = "events.jsonl"


class Indexes:
    """Lookups that must stay fast at 100,000 records. Rebuilt on a full reload, kept up to date
    on every put (ours or, through the journal, another process's)."""

    def __init__(self, region: str):
        self.region = region
        self.reset({})

    def reset(self, tables: Tables) -> None:
        self.email: dict[str, set[str]] = defaultdict(set)
        self.phone: dict[str, set[str]] = defaultdict(set)
        self.by_link: dict[str, dict[str, set[str]]] = {
            "contact_id": defaultdict(set),
            "lead_id": defaultdict(set),
            "opportunity_id": defaultdict(set),
        }
        self.name_tokens: dict[str, set[str]] = defaultdict(set)  # contacts
        self.title_tokens: dict[str, set[str]] = defaultdict(set)  # leads and opportunities
        self.pending_follow_ups: set[str] = set()
        self.message_ids: dict[str, str] = {}
        self.lead_of_contact: dict[str, set[str]] = defaultdict(set)
        self.lead_by_ref: dict[str, str] = {}
        self.contact_by_ref: dict[str, str] = {}
        self.opp_of: dict[str, dict[str, set[str]]] = {"contact_id": defaultdict(set), "lead_id": defaultdict(set)}
        for table, docs in tables.items():
            for key, doc in docs.items():
                self.put(table, key, None, doc)

    def put(self, table: str, key: str, before: Doc | None, after: Doc | None) -> None:
        if before is not None:
            self._index(table, before, add=False)
        if after is not None:
            self._index(table, after, add=True)

    def _index(self, table: str, doc: Doc, add: bool) -> None:
        def mark(index: dict[str, set[str]], value: str | None, rid: str) -> None:
            if value:
                (index[value].add if add else index[value].discard)(rid)

        if table == "contacts":
            rid = doc["contact_id"]
            for e in doc.get("emails") or ():
                mark(self.email, email_key(e), rid)
            for p in doc.get("phones") or ():
                mark(self.phone, phone_e164(p, self.region), rid)
            for token in set(fold(f"{doc.get('first_name', '')} {doc.get('last_name', '')}").split()):
                mark(self.name_tokens, token, rid)
            if doc.get("source_ref") and add:
                self.contact_by_ref[doc["source_ref"]] = rid
        elif table == "interactions":
            rid = doc["interaction_id"]
            for link, index in self.by_link.items():
                mark(index, doc.get(link), rid)
            if doc.get("follow_up_status") == "pending" and add:
                self.pending_follow_ups.add(rid)
            else:
                self.pending_follow_ups.discard(rid)
            if doc.get("message_id") and add:
                self.message_ids[doc["message_id"]] = rid
        elif table == "leads":
            rid = doc["lead_id"]
            mark(self.lead_of_contact, doc.get("contact_id"), rid)
            for token in set(fold(doc.get("title")).split()):
                mark(self.title_tokens, token, rid)
            if doc.get("source_ref") and add:
                self.lead_by_ref[doc["source_ref"]] = rid
        elif table == "opportunities":
            rid = doc["opportunity_id"]
            for link, index in self.opp_of.items():
                mark(index, doc.get(link), rid)
            for token in set(fold(doc.get("name")).split()):
                mark(self.title_tokens, token, rid)


def key_of(table: str, record_id: str) -> str:
    prefix = TABLES[table][3]
    head, _, tail = str(record_id).strip().upper().partition("-")
    if head != prefix or not tail.isdigit():
        raise NotFound(f"{record_id!r} is not a {TABLES[table][4]} id (they look like {prefix}-12)")
    return str(int(tail))


def table_of(record_id: str) -> str:
    head = str(record_id).strip().upper().partition("-")[0]
    for table, spec in TABLES.items():
        if spec[3] == head:
            return table
    raise NotFound(f"{record_id!r} is not a record id (ids look like C-12, L-3, O-7)")


class Store:
    def __init__(
        self,
        directory: Path,
        settings: Settings | None = None,
        actor: str = "owner",
        write_through_below: int = WRITE_THROUGH_BELOW,
        services: Services | None = None,
    ):
        self.directory = Path(directory)
        self.services = services or Services()
        # the folder is made by the first write, never here: opening a book that is not there
        # must not create an empty one (see storage.py)
        self.settings = settings or load_settings(self.directory)
        self.actor = actor
        self.indexes = Indexes(self.settings.default_phone_region)
        self.db = Database(
            self.directory,
            LAYOUT,
            write_through_below=write_through_below,
            on_reset=self.indexes.reset,
            on_put=self.indexes.put,
        )
        self._events: list[dict[str, Any]] | None = None

    # ------------------------------------------------------------------ time
    @property
    def tz(self) -> Any:
        return self.settings.tz

    def now(self) -> dt.datetime:
        return clock.now(self.tz)

    def today(self) -> dt.date:
        return clock.today(self.tz)

    def _utc_stamp(self) -> str:
        # via the business zone, so a naive BACKOFFICE_NOW means local time here as everywhere
        return clock.stamp(self.now().astimezone(clock.UTC))

    @property
    def calendar(self) -> clock.BusinessCalendar:
        return self.settings.calendar

    # ------------------------------------------------------------------ actors
    @contextlib.contextmanager
    def acting_as(self, actor: str) -> Iterator[Store]:
        if actor not in ACTORS:
            raise ValueError(f"unknown actor {actor!r}")
        previous, self.actor = self.actor, actor
        try:
            yield self
        finally:
            self.actor = previous

    # ------------------------------------------------------------------ reading
    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """A consistent view across several queries (they all see the same state of the book)."""
        with self.db.reading():
            yield

    def get(self, table: str, record_id: str) -> Doc | None:
        key = key_of(table, record_id)
        with self.db.reading():
            tx = self.db.current_tx
            doc = tx.get(table, key) if tx else self.db.tables.get(table, {}).get(key)
            return copy.deepcopy(doc) if doc is not None else None

    def require(self, table: str, record_id: str) -> Doc:
        doc = self.get(table, record_id)
        if doc is None:
            raise NotFound(f"There is no {TABLES[table][4]} {record_id}.")
        return doc

    def count(self, table: str) -> int:
        with self.db.reading():
            return len(self.db.tables.get(table, {}))

    # ------------------------------------------------------------------ writing
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self.db.writing() as tx:
            outer = self._events is None
            if outer:
                self._events = []
                events = self._events
                tx.after_commit.append(lambda: self._append_events(events))
            try:
                yield
            finally:
                if outer:
                    self._events = None

    def insert(self, table: str, fields: dict[str, Any], action: str = "created") -> Doc:
        id_field, prefix, noun = TABLES[table][2], TABLES[table][3], TABLES[table][4]
        with self.transaction():
            tx = self.db.current_tx
            assert tx is not None
            key = tx.next_key(table)
            stamp = self._utc_stamp()
            doc = {id_field: f"{prefix}-{key}", **_clean(fields), "created_at": stamp, "updated_at": stamp}
            self._validate(table, doc, f"New {noun}")
            tx.put(table, key, doc)
            self._event(action, table, doc[id_field], None, doc)
            return copy.deepcopy(doc)

    def update(self, table: str, record_id: str, changes: dict[str, Any], action: str = "updated") -> Doc:
        id_field, noun = TABLES[table][2], TABLES[table][4]
        key = key_of(table, record_id)
        with self.transaction():
            tx = self.db.current_tx
            assert tx is not None
            old = tx.get(table, key)
            if old is None:
                raise NotFound(f"There is no {noun} {record_id}.")
            changes = {k: v for k, v in _clean(changes, keep_none=True).items() if old.get(k, _MISSING) != v}
            changes.pop(id_field, None)
            changes.pop("created_at", None)
            if not changes:
                return copy.deepcopy(old)
            doc = {**old, **changes, "updated_at": self._utc_stamp()}
            self._validate(table, doc, f"{noun.capitalize()} {old[id_field]}")
            tx.put(table, key, doc)
            before = {k: old.get(k) for k in changes}
            self._event(action, table, old[id_field], before, {k: doc[k] for k in changes})
            return copy.deepcopy(doc)

    def _validate(self, table: str, doc: Doc, label: str) -> None:
        found = problems(table, doc)
        if found:
            raise InvalidRecord(label, found)

    # ------------------------------------------------------------------ events
    def _event(self, action: str, table: str, record_id: str, before: Doc | None, after: Doc | None) -> None:
        assert self._events is not None
        self._events.append(
            {
                "at": self._utc_stamp(),
                "actor": self.actor,
                "action": action,
                "record_type": TABLES[table][4],
                "record_id": record_id,
                "before": before,
                "after": after,
            }
        )

    def note(self, action: str, table: str, record_id: str, details: dict[str, Any]) -> None:
        """An event that is not a field change (a merge): ``details`` is its "after"."""
        with self.transaction():
            self._event(action, table, record_id, None, details)

    def _append_events(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        payload = b"".join(orjson.dumps(e) + b"\n" for e in events)
        fd = os.open(self.directory / EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)

    def events(self, record_id: str | None = None) -> list[dict[str, Any]]:
        path = self.directory / EVENTS
        if not path.exists():
            return []
        out = []
        with open(path, "rb") as handle:
            for line in handle:
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue  # a torn last line after a crash
                if record_id is None or event.get("record_id") == record_id:
                    out.append(event)
        return out

    # ------------------------------------------------------------------ queries
    # Everything the tools, reports and intake need to find records. Callers never reach into
    # the tables or the indexes: each question is one method here, answered from an index where
    # the book is large. Returned documents are the caller's to read, never to change in place.
    def scan(self, table: str, **where: Any) -> list[Doc]:
        """Every record of ``table`` (oldest first) whose fields equal ``where``'s values; a tuple,
        list or set value means any of them (``status=("new", "working")``)."""
        tests = [(k, v if isinstance(v, tuple | list | set | frozenset) else (v,)) for k, v in where.items()]
        with self.db.reading():
            docs = self.db.tables.get(table, {}).values()
            if not tests:
                return list(docs)
            return [d for d in docs if all(d.get(k) in allowed for k, allowed in tests)]

    def counts(self) -> dict[str, int]:
        """How many records each table holds."""
        with self.db.reading():
            return {table: len(self.db.tables.get(table, {})) for table in TABLES}

    def contacts_by_email(self, email: str) -> list[Doc]:
        key = email_key(email)
        with self.db.reading():
            return self._docs("contacts", self.indexes.email.get(key, ()) if key else ())

    def contacts_by_phone(self, phone: str) -> list[Doc]:
        key = phone_e164(phone, self.settings.default_phone_region)
        with self.db.reading():
            return self._docs("contacts", self.indexes.phone.get(key, ()) if key else ())

    def linked(self, table: str, link: str, record_id: str) -> list[Doc]:
        """Records of ``table`` ("interactions" or "opportunities" or "leads") pointing at ``record_id``."""
        with self.db.reading():
            return self._docs(table, self._linked_ids(table, link, record_id))

    def count_linked(self, table: str, link: str, record_id: str) -> int:
        """How many records of ``table`` point at ``record_id`` (no copies made)."""
        with self.db.reading():
            return len(self._linked_ids(table, link, record_id))

    def _linked_ids(self, table: str, link: str, record_id: str) -> Collection[str]:
        if table == "interactions":
            return self.indexes.by_link[link].get(record_id, ())
        if table == "opportunities":
            return self.indexes.opp_of[link].get(record_id, ())
        if table == "leads" and link == "contact_id":
            return self.indexes.lead_of_contact.get(record_id, ())
        raise ValueError(f"no index for {table}.{link}")

    def latest_interaction(self, link: str, record_id: str, human_only: bool = False) -> Doc | None:
        """The most recent interaction pointing at a record; ``human_only`` skips the agent's own
        system notes."""
        with self.db.reading():
            table = self.db.tables.get("interactions", {})
            docs = (table[key_of("interactions", i)] for i in self.indexes.by_link[link].get(record_id, ()))
            if human_only:
                docs = (d for d in docs if d["type"] != "system")
            return copy.deepcopy(max(docs, key=lambda d: _utc(d["timestamp"]), default=None))

    def by_message_id(self, message_id: str) -> Doc | None:
        """The interaction that recorded an email with this Message-ID (sent or received)."""
        with self.db.reading():
            rid = self.indexes.message_ids.get(message_id)
            return self._one("interactions", rid)

    def by_source_ref(self, table: str, ref: str) -> Doc | None:
        """The lead or contact captured from ``ref`` (an email's Message-ID, an import row's key)."""
        with self.db.reading():
            index = self.indexes.lead_by_ref if table == "leads" else self.indexes.contact_by_ref
            return self._one(table, index.get(ref))

    def pending_follow_ups(self, due_by: dt.date | None = None) -> list[Doc]:
        """Interactions whose follow-up is pending, due on ``due_by`` or earlier (all when None)."""
        limit = due_by.isoformat() if due_by else None
        with self.db.reading():
            table = self.db.tables.get("interactions", {})
            docs = [table[key_of("interactions", rid)] for rid in self.indexes.pending_follow_ups]
            return sorted(
                (d for d in docs if limit is None or d["follow_up_date"] <= limit),
                key=lambda d: (d["follow_up_date"], d["interaction_id"]),
            )

    def companies_named(self, name: str) -> list[Doc]:
        """Companies whose name is ``name`` once case, accents, punctuation and '&'/'and' are ignored."""
        target = fold(name)
        return [c for c in self.scan("companies") if fold(c["name"]) == target]

    def search_tokens(self, table: str, text: str) -> list[Doc]:
        """Records whose name (contacts) or title (leads, opportunities) holds every word of ``text``
        (a word may be the start of a longer one: "Rey" finds "Reyes")."""
        prefix = TABLES[table][3] + "-"
        words = fold(text).split()
        if not words:
            return []
        with self.db.reading():
            # only now: the first read of a fresh process loads the book and rebuilds the indexes
            index = self.indexes.name_tokens if table == "contacts" else self.indexes.title_tokens
            found: set[str] | None = None
            for word in words:
                ids = set(index.get(word, ()))
                if not ids and len(word) >= 3:
                    ids = {i for token, members in index.items() if token.startswith(word) for i in members}
                ids = {i for i in ids if i.startswith(prefix)}
                found = ids if found is None else found & ids
                if not found:
                    return []
            return self._docs(table, found or ())

    def _one(self, table: str, record_id: str | None) -> Doc | None:
        if record_id is None:
            return None
        doc = self.db.tables.get(table, {}).get(key_of(table, record_id))
        return copy.deepcopy(doc) if doc is not None else None

    def _docs(self, table: str, ids: Iterable[str]) -> list[Doc]:
        docs = self.db.tables.get(table, {})
        out = [copy.deepcopy(d) for rid in ids if (d := docs.get(key_of(table, rid))) is not None]
        out.sort(key=lambda d: d[TABLES[table][2]])
        return out

    def label(self, table: str, doc: Doc) -> str:
        if table == "contacts":
            return full_name(doc)
        return str(doc.get("title") or doc.get("name") or doc.get("subject") or doc[TABLES[table][2]])

    def close(self) -> None:
        self.db.close()


_MISSING = object()


def _utc(stamp: str) -> str:
    """A stored timestamp as canonical UTC text, so instants compare as strings. Our own writes
    are already canonical; anything else (an import with an offset) is converted."""
    if len(stamp) == 25 and stamp.endswith("+00:00"):
        return stamp
    return clock.stamp(clock.parse_stamp(stamp).astimezone(clock.UTC))


def _clean(fields: dict[str, Any], keep_none: bool = False) -> dict[str, Any]:
    """Dates and datetimes become their stored string form; Nones are dropped unless asked."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None and not keep_none:
            continue
        if isinstance(value, dt.datetime):
            value = clock.stamp(value.astimezone(clock.UTC))
        elif isinstance(value, dt.date):
            value = value.isoformat()
        out[key] = value
    return out
