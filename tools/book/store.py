"""The customer book: validated records with ids and timestamps, every change an event, and the
questions the tools ask of it.

Every write goes through ``insert`` or ``update`` inside ``transaction()``: the record is checked
against its JSON Schema *before* it is staged (a refused record changes nothing), the whole
transaction commits at once, and one event per change is committed with it.

Reads are queries (``get``, ``scan``, ``contacts_by_email``, ``latest_interaction``...), each
answered from the book's index; no caller reaches into tables or indexes. Returned documents are
copies the caller may keep.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from rapidfuzz import fuzz, process

from backoffice.tools.book import clock
from backoffice.tools.book.filebook import WRITE_THROUGH_BELOW, FileBook
from backoffice.tools.book.location import database
from backoffice.tools.book.normalize import email_key, fold, full_name, phone_e164
from backoffice.tools.book.playbook import Playbook, load_playbook
from backoffice.tools.book.schemas import LAYOUT, TABLES, problems
from backoffice.tools.book.scoring import LeadFacts, count_touches
from backoffice.tools.book.settings import Settings, load_settings
from backoffice.tools.book.spec import indexed
from backoffice.tools.book.storage import Doc
from backoffice.tools.errors import InvalidRecord, NotFound
from backoffice.tools.services import Services

if TYPE_CHECKING:
    from backoffice.tools.book.pgbook import PgBook

ACTORS = ("owner", "agent", "scheduler", "email", "import")
SCORED = ("new", "working", "qualified")  # open leads are scored; a decided one keeps the score it had
SIMILAR_NAME = 80  # rapidfuzz WRatio: a typo or a partial name still finds the contact


def key_of(table: str, record_id: str) -> str:
    prefix = TABLES[table][3]
    head, _, tail = str(record_id).strip().upper().partition("-")
    if head != prefix or not (tail.isascii() and tail.isdigit()) or len(tail) > 15:
        raise NotFound(f"{_short(record_id)!r} is not a {TABLES[table][4]} id (they look like {prefix}-12)")
    return str(int(tail))


def table_of(record_id: str) -> str:
    head = str(record_id).strip().upper().partition("-")[0]
    for table, spec in TABLES.items():
        if spec[3] == head:
            return table
    raise NotFound(f"{_short(record_id)!r} is not a record id (ids look like C-12, L-3, O-7)")


def _short(text: object) -> str:
    """An id as typed, cut to a readable length for a message."""
    value = str(text)
    return value if len(value) <= 30 else value[:30] + "…"


class Store:
    def __init__(
        self,
        directory: Path,
        settings: Settings | None = None,
        actor: str = "owner",
        write_through_below: int = WRITE_THROUGH_BELOW,
        services: Services | None = None,
        database_url: str | None = None,
    ):
        self.directory = Path(directory)
        self.services = services or Services()
        # the folder is made by the first write, never here: opening a book that is not there
        # must not create an empty one (see filebook.py)
        self.settings = settings or load_settings(self.directory)
        self.actor = actor
        # the records live in the data dir's files, or on the PostgreSQL server named by
        # BACKOFFICE_DATABASE_URL (or settings.json); either is the same seam: reading(), writing()
        if database_url is None:
            found = database(self.directory)
            database_url = found.url if found else None
        self.database_url = database_url
        self.db: FileBook | PgBook
        if database_url:
            from backoffice.tools.book.pgbook import PgBook  # psycopg loads only for a book on a server

            self.db = PgBook(database_url)
        else:
            self.db = FileBook(self.directory, LAYOUT, write_through_below=write_through_below)

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

    @property
    def playbook(self) -> Playbook:
        """How this business qualifies, classes, scores and stages its work (``playbook.json``)."""
        return load_playbook(self.directory)

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
    def exists(self) -> bool:
        """Whether there is a book at all, in the data dir or the database (a read-only command never
        creates one)."""
        return self.db.exists()

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """A consistent view across several queries (they all see the same state of the book)."""
        with self.db.reading():
            yield

    def get(self, table: str, record_id: str) -> Doc | None:
        key = key_of(table, record_id)
        with self.db.reading() as ix:
            return ix.get(table, key)

    def require(self, table: str, record_id: str) -> Doc:
        doc = self.get(table, record_id)
        if doc is None:
            raise NotFound(f"There is no {TABLES[table][4]} {record_id}.")
        return doc

    def count(self, table: str) -> int:
        with self.db.reading() as ix:
            return ix.count(table)

    # ------------------------------------------------------------------ writing
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together, with its events, or not at all."""
        with self.db.writing():
            yield

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
            return doc

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
                return old
            doc = {**old, **changes, "updated_at": self._utc_stamp()}
            self._validate(table, doc, f"{noun.capitalize()} {old[id_field]}")
            tx.put(table, key, doc)
            before = {k: old.get(k) for k in changes}
            self._event(action, table, old[id_field], before, {k: doc[k] for k in changes})
            return doc

    # ------------------------------------------------------------------ scores
    def lead_facts(self, lead_ids: list[str]) -> dict[str, LeadFacts]:
        """What the score of each open lead among ``lead_ids`` is computed from (see ``scoring``)."""
        keys = []
        for rid in lead_ids:
            with contextlib.suppress(NotFound):
                keys.append(int(key_of("leads", rid)))
        with self.db.reading() as ix:
            leads = [d for d in ix.docs("leads", keys) if d.get("status") in SCORED]
            return self._facts(ix, leads)

    def _facts(self, ix: Any, leads: list[Doc]) -> dict[str, LeadFacts]:
        ids = [d["lead_id"] for d in leads]
        contact_keys = [int(key_of("contacts", d["contact_id"])) for d in leads if d.get("contact_id")]
        contacts = {c["contact_id"]: c for c in ix.docs("contacts", contact_keys)}
        touches = ix.touch_counts(ids)
        last = dict(ix.values("leads", "last_ts", [int(i[2:]) for i in ids]))
        # a few leads: their records; many (a ranking of the book): the whole, small, table
        records = ix.select("qualifications", {"lead_id": tuple(ids)} if len(ids) <= 500 else {})
        answers = {q["lead_id"]: q.get("answers") or {} for q in records}
        sources = self.playbook.sources
        out: dict[str, LeadFacts] = {}
        for lead in leads:
            contact = contacts.get(lead.get("contact_id") or "") or {}
            responded, missed = count_touches(touches.get(lead["lead_id"], []))
            out[lead["lead_id"]] = LeadFacts(
                lead_id=lead["lead_id"],
                source=lead.get("source") or "other",
                source_detail=lead.get("source_detail"),
                named_source=sources.canonical(lead.get("source_detail")),
                estimated_value=lead.get("estimated_value"),
                effort_class=lead.get("effort_class"),
                created=self._local_day(lead.get("created_at")),
                last_touch=self._local_day(last.get(int(lead["lead_id"][2:]))),
                has_name=bool(contact.get("first_name") or contact.get("last_name")),
                has_phone=bool(contact.get("phones") or lead.get("phone")),
                has_email=bool(contact.get("emails") or lead.get("email")),
                has_address=bool(contact.get("address")),
                address=contact.get("address") or "",
                responded=responded,
                missed=missed,
                answers=answers.get(lead["lead_id"], {}),
            )
        return out

    def _local_day(self, stamp: str | None) -> dt.date | None:
        return clock.parse_stamp(stamp).astimezone(self.tz).date() if stamp else None

    def _validate(self, table: str, doc: Doc, label: str) -> None:
        found = problems(table, doc)
        if found:
            raise InvalidRecord(label, found)

    # ------------------------------------------------------------------ events
    def _event(self, action: str, table: str, record_id: str, before: Doc | None, after: Doc | None) -> None:
        tx = self.db.current_tx
        assert tx is not None, "events are only made inside a transaction"
        tx.events.append(
            {
                "at": self._utc_stamp(),
                "actor": self.actor,
                "action": action,
                "record_type": TABLES[table][4],
                "record_id": record_id,
                # frozen now: the caller keeps the dicts it passed and may go on changing them
                "before": None if before is None else orjson.Fragment(orjson.dumps(before, default=str)),
                "after": None if after is None else orjson.Fragment(orjson.dumps(after, default=str)),
            }
        )

    def note(self, action: str, table: str, record_id: str, details: dict[str, Any]) -> None:
        """An event that is not a field change (a merge): ``details`` is its "after"."""
        with self.transaction():
            self._event(action, table, record_id, None, details)

    def note_approved(self, action_id: str, token: str, tool: str) -> None:
        """Inside the transaction of an approved action's run: the event that proves the run got
        into the book (the gate asks ``approved_ran`` before running an interrupted action again)."""
        tx = self.db.current_tx
        assert tx is not None, "an approval is noted inside the run's own transaction"
        tx.events.append(
            {
                "at": self._utc_stamp(),
                "actor": self.actor,
                "action": "approved_action_ran",
                "record_type": "pending action",
                "record_id": f"{action_id}#{token}",
                "before": None,
                "after": {"tool": tool},
            }
        )

    def approved_ran(self, action_id: str, token: str) -> bool:
        """Whether the run of ``action_id`` that claimed it with ``token`` committed."""
        with self.db.reading() as ix:
            return bool(ix.events_for(f"{action_id}#{token}"))

    def events(self, record_id: str | None = None) -> list[dict[str, Any]]:
        """The audit log, oldest first: every event, or those of one record."""
        if record_id is None:
            return list(self.db.events.read())
        with self.db.reading() as ix:
            return ix.events_for(record_id)

    def events_between(self, start: dt.datetime, end: dt.datetime, prefix: str | None = None) -> list[dict[str, Any]]:
        """Events logged from ``start`` up to (not including) ``end``, oldest first; with ``prefix``
        ("L-", "O-"), only those of one kind of record. What the KPIs of a month are computed from."""
        lo = clock.stamp(start.astimezone(clock.UTC))
        hi = clock.stamp(end.astimezone(clock.UTC))
        with self.db.reading() as ix:
            return ix.events_between(lo, hi, prefix)

    def events_of(self, record_ids: list[str]) -> list[dict[str, Any]]:
        """The events of several records together, in the order they were logged: a history."""
        with self.db.reading() as ix:
            return ix.events_for_many(list(dict.fromkeys(record_ids)))

    # ------------------------------------------------------------------ queries
    # Everything the tools, reports and intake need to find records, each answered from the index.
    def scan(self, table: str, **where: Any) -> list[Doc]:
        """Every record of ``table`` (oldest first) whose fields equal ``where``'s values; a tuple,
        list or set value means any of them (``status=("new", "working")``)."""
        by_index = {k: v for k, v in where.items() if indexed(table, k)}
        rest = [(k, v if isinstance(v, tuple | list | set | frozenset) else (v,)) for k, v in where.items()
                if k not in by_index]  # fmt: skip
        with self.db.reading() as ix:
            docs = ix.select(table, {k: _column_value(k, v) for k, v in by_index.items()})
        return [d for d in docs if all(d.get(k) in allowed for k, allowed in rest)] if rest else docs

    def fields(self, table: str, names: list[str], **where: Any) -> list[dict[str, Any]]:
        """Some indexed fields of every matching record (with its id), without reading the
        records: what a report over the whole book needs ("id", then ``names``; timestamps are UTC)."""
        unknown = [n for n in [*names, *where] if not indexed(table, n)]
        if unknown:
            raise ValueError(f"{table} has no indexed field {', '.join(unknown)}")
        prefix = TABLES[table][3]
        with self.db.reading() as ix:
            found = ix.rows(table, names, {k: _column_value(k, v) for k, v in where.items()})
        return [{"id": f"{prefix}-{row[0]}", **dict(zip(names, row[1:], strict=True))} for row in found]

    def shared_values(self, table: str, name: str, **where: Any) -> dict[str, list[str]]:
        """Values of a multi-valued lookup (``email``, ``phone``) that several records share, each
        with the ids sharing it: the first step of a duplicate scan."""
        prefix = TABLES[table][3]
        with self.db.reading() as ix:
            found = ix.shared(table, name, {k: _column_value(k, v) for k, v in where.items()})
        return {value: [f"{prefix}-{k}" for k in sorted(map(int, keys.split(",")))] for value, keys in found}

    def first(self, table: str, limit: int, **where: Any) -> list[Doc]:
        """The ``limit`` oldest records (in the order they were added) whose indexed fields equal
        ``where``'s values, without reading the rest: a page of a long list."""
        for column in where:
            self._check_link(table, column)
        with self.db.reading() as ix:
            return ix.select(table, {k: _column_value(k, v) for k, v in where.items()}, limit=max(limit, 1))

    def count_where(self, table: str, **where: Any) -> int:
        """How many records have these indexed field values (as ``scan``, without reading them)."""
        with self.db.reading() as ix:
            return ix.count(table, {k: _column_value(k, v) for k, v in where.items()})

    def counts(self) -> dict[str, int]:
        """How many records each table holds."""
        with self.db.reading() as ix:
            return {table: ix.count(table) for table in TABLES}

    def contacts_by_email(self, email: str) -> list[Doc]:
        key = email_key(email)
        return self._by_multi("contacts", "email", [key] if key else [])

    def contacts_by_phone(self, phone: str) -> list[Doc]:
        key = phone_e164(phone, self.settings.default_phone_region)
        return self._by_multi("contacts", "phone", [key] if key else [])

    def _by_multi(self, table: str, name: str, values: list[str]) -> list[Doc]:
        with self.db.reading() as ix:
            return ix.docs(table, ix.by_multi(table, name, values)) if values else []

    def linked(self, table: str, link: str, record_id: str) -> list[Doc]:
        """Records of ``table`` pointing at ``record_id`` through ``link`` (e.g. a lead's interactions)."""
        self._check_link(table, link)
        with self.db.reading() as ix:
            return ix.select(table, {link: record_id})

    def count_linked(self, table: str, link: str, record_id: str) -> int:
        """How many records of ``table`` point at ``record_id``."""
        self._check_link(table, link)
        with self.db.reading() as ix:
            return ix.count(table, {link: record_id})

    @staticmethod
    def _check_link(table: str, link: str) -> None:
        if not indexed(table, link):
            raise ValueError(f"no index for {table}.{link}")

    def latest_interaction(self, link: str, record_id: str, human_only: bool = False) -> Doc | None:
        """The most recent interaction pointing at a record; ``human_only`` skips the agent's own
        system notes."""
        self._check_link("interactions", link)
        with self.db.reading() as ix:
            found = ix.select(
                "interactions",
                {link: record_id},
                order="ts DESC, key DESC",
                limit=1,
                extra="type != 'system'" if human_only else "",
            )
        return found[0] if found else None

    def latest_interactions(self, link: str, record_ids: list[str], human_only: bool = False) -> dict[str, Doc]:
        """The latest interaction of each of many records at once (the digest's last touchpoints);
        ``human_only`` skips the agent's own system notes."""
        self._check_link("interactions", link)
        with self.db.reading() as ix:
            return ix.latest_by(link, record_ids, human_only)

    def many(self, table: str, record_ids: list[str]) -> dict[str, Doc]:
        """Several records by id at once; ids that match nothing are left out."""
        keys = []
        for rid in record_ids:
            with contextlib.suppress(NotFound):
                keys.append(int(key_of(table, rid)))
        id_field = TABLES[table][2]
        with self.db.reading() as ix:
            return {d[id_field]: d for d in ix.docs(table, keys)}

    def quiet_leads(
        self,
        statuses: tuple[str, ...],
        since: dt.datetime,
        limit: int | None = None,
        since_by_class: dict[str, dt.datetime] | None = None,
        class_order: dict[str, int] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Leads in ``statuses`` with no activity (their creation counts) at or after ``since``, the
        longest silence first then the most valuable: the id, ``created_at``, ``last_ts`` (the latest
        touch since, None when there was none) and ``estimated_value`` of the first ``limit`` (None:
        all), without reading the leads; and how many there are. A touch is any interaction but the
        agent's own system records: a note that a lead was qualified, or that a message was saved to
        the outbox unsent, reached nobody. ``since_by_class`` gives a class its own edge (a gold lead
        is nudged sooner), and ``class_order`` sorts by class first ("" places the unclassed)."""
        cutoff = clock.stamp(since.astimezone(clock.UTC))
        by_class = {k: clock.stamp(v.astimezone(clock.UTC)) for k, v in (since_by_class or {}).items()}
        with self.db.reading() as ix:
            found, total = ix.quiet_leads(statuses, cutoff, limit, by_class, class_order)
        rows = [
            {"id": f"L-{k}", "created_at": c, "last_ts": t, "estimated_value": v, "effort_class": e}
            for k, c, t, v, e in found
        ]
        return rows, total

    def open_jobs(self, limit: int | None = None) -> list[Doc]:
        """Jobs still being pursued (any stage but won or lost), oldest first."""
        with self.db.reading() as ix:
            return ix.select("opportunities", {}, limit=limit, extra="stage NOT IN ('won', 'lost')")

    def by_message_id(self, message_id: str) -> Doc | None:
        """The interaction that recorded an email with this Message-ID (sent or received)."""
        with self.db.reading() as ix:
            found = ix.select("interactions", {"message_id": message_id}, limit=1)
        return found[0] if found else None

    def by_source_ref(self, table: str, ref: str) -> Doc | None:
        """The lead or contact captured from ``ref`` (an email's Message-ID, an import row's key)."""
        with self.db.reading() as ix:
            found = ix.select(table, {"source_ref": ref}, limit=1)
        return found[0] if found else None

    def pending_follow_ups(
        self,
        due_by: dt.date | None = None,
        link: str | None = None,
        record_id: str | None = None,
        limit: int | None = None,
    ) -> list[Doc]:
        """Interactions whose follow-up is pending, due on ``due_by`` or earlier (all when None), the
        longest overdue first; with ``link``, only those pointing at ``record_id`` (a lead's, say);
        the first ``limit`` of them (None: all)."""
        where: dict[str, Any] = {"follow_up_status": "pending"}
        if link is not None:
            self._check_link("interactions", link)
            where[link] = record_id
        with self.db.reading() as ix:
            return ix.select(
                "interactions",
                where,
                order="follow_up_date, key",
                limit=limit,
                extra="follow_up_date <= ?" if due_by else "",
                params=(due_by.isoformat(),) if due_by else (),
            )

    def count_follow_ups(self, due_by: dt.date) -> int:
        """How many pending follow-ups are due on ``due_by`` or earlier."""
        with self.db.reading() as ix:
            return ix.count(
                "interactions",
                {"follow_up_status": "pending"},
                extra="follow_up_date <= ?",
                params=(due_by.isoformat(),),
            )

    def companies_named(self, name: str) -> list[Doc]:
        """Companies whose name is ``name`` once case, accents, punctuation and '&'/'and' are ignored."""
        with self.db.reading() as ix:
            return ix.select("companies", {"name": fold(name)})

    def contacts_like(self, text: str, limit: int = 6) -> list[tuple[float, Doc]]:
        """Active contacts whose name is like ``text`` despite typos ("Dana Reys", "reyes"), or whose
        address holds it ("Oak St"), best first, each with its score (0-100)."""
        return self.contacts_like_each([text], limit)[text]

    def contacts_like_each(self, texts: Sequence[str], limit: int = 6) -> dict[str, list[tuple[float, Doc]]]:
        """``contacts_like`` for several texts, reading the names once (at 100,000 contacts the
        names take longer to read than to compare)."""
        found: dict[str, list[tuple[float, Doc]]] = {text: [] for text in texts}
        targets = {text: fold(text) for text in texts if fold(text)}
        if not targets:
            return found
        with self.db.reading() as ix:
            names = dict(ix.column("contacts", "name", {"archived": 0}))
            for text, target in targets.items():
                scored = {
                    key: score
                    for _, score, key in process.extract(
                        target, names, scorer=fuzz.WRatio, score_cutoff=SIMILAR_NAME, limit=limit * 4
                    )
                }
                for doc in ix.select("contacts", {"archived": 0}, extra="address LIKE ?", params=(f"%{target}%",)):
                    scored[int(key_of("contacts", doc["contact_id"]))] = 100.0
                best = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
                docs = {int(key_of("contacts", d["contact_id"])): d for d in ix.docs("contacts", [k for k, _ in best])}
                found[text] = [(score, docs[k]) for k, score in best if k in docs]
        return found

    def search_tokens(self, table: str, text: str) -> list[Doc]:
        """Records whose name (contacts) or title (leads, opportunities) holds every word of ``text``
        (a word may be the start of a longer one: "Rey" finds "Reyes")."""
        words = fold(text).split()
        if not words:
            return []
        with self.db.reading() as ix:
            found: set[int] | None = None
            for word in words:
                keys = ix.by_multi(table, "word", [word])
                if not keys and len(word) >= 3:
                    keys = ix.by_multi(table, "word", [word], prefix=True)
                found = keys if found is None else found & keys
                if not found:
                    return []
            return ix.docs(table, found or ())

    def label(self, table: str, doc: Doc) -> str:
        if table == "contacts":
            return full_name(doc)
        return str(doc.get("title") or doc.get("name") or doc.get("subject") or doc[TABLES[table][2]])

    def fold(self) -> None:
        """Write the journal's changes into the TinyDB files now (they are otherwise folded when the
        journal grows), so the files are complete on their own: before a backup, say."""
        self.db.fold()

    def close(self) -> None:
        self.db.close()


_MISSING = object()


def _column_value(column: str, value: Any) -> Any:
    """How a field's value is stored in its index column (flags are 0/1)."""
    if column == "archived":
        if isinstance(value, tuple | list | set | frozenset):
            return tuple(1 if v else 0 for v in value)
        return 1 if value else 0
    return value


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
