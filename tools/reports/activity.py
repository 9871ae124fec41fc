"""What happened with a customer: the last touchpoint, what they are in the middle of, a lead's
timeline, and the newest customers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from backoffice.tools.book import clock
from backoffice.tools.book.models import OPEN_LEAD_STATUSES, is_open_job
from backoffice.tools.book.normalize import full_name
from backoffice.tools.book.schemas import TABLES
from backoffice.tools.book.store import Doc, Store, table_of
from backoffice.tools.errors import NotFound
from backoffice.tools.registry import ToolInput, tool


def local_date(store: Store, stamp: str) -> dt.date:
    """A stored timestamp as a day in the business time zone."""
    return clock.parse_stamp(stamp).astimezone(store.tz).date()


def summary(item: Doc) -> str:
    """One line saying what an interaction was about."""
    text = item.get("ai_summary") or item.get("subject") or item.get("body") or item["type"]
    text = " ".join(str(text).split())
    return text if len(text) <= 120 else text[:119] + "…"


def current_work(store: Store, contact_id: str) -> tuple[Doc | None, Doc | None]:
    """(lead, job) a contact is in the middle of: their newest open job, else their newest open lead."""
    jobs = [o for o in store.linked("opportunities", "contact_id", contact_id) if is_open_job(o)]
    if jobs:
        return None, max(jobs, key=lambda o: o["created_at"])
    leads = [d for d in store.linked("leads", "contact_id", contact_id) if d["status"] in OPEN_LEAD_STATUSES]
    return (max(leads, key=lambda d: d["created_at"]) if leads else None), None


# ---------------------------------------------------------------------------- touchpoints
class ContactRefInput(ToolInput):
    contact_id: str = Field(description="the person (C-12)")


@tool("read")
def last_touchpoint(store: Store, args: ContactRefInput) -> dict[str, Any]:
    """When we last talked to a contact, and what about."""
    contact = store.require("contacts", args.contact_id)
    last = store.latest_interaction("contact_id", contact["contact_id"], human_only=True)
    name = full_name(contact)
    if last is None:
        return {
            "contact_id": contact["contact_id"],
            "last": None,
            "message": f"Nothing has been logged with {name} yet.",
        }
    when = local_date(store, last["timestamp"])
    days = (store.today() - when).days
    ago = "today" if days == 0 else "yesterday" if days == 1 else f"{days} days ago"
    return {
        "contact_id": contact["contact_id"],
        "last": {
            "interaction_id": last["interaction_id"],
            "type": last["type"],
            "date": when.isoformat(),
            "days_ago": days,
            "summary": summary(last),
        },
        "message": f"Last contact with {name}: {ago} ({when:%a %b %d}), "
        f"{last['type'].replace('_', ' ')} — {summary(last)}",
    }


class NewestCustomersInput(ToolInput):
    limit: int = Field(default=5, ge=1, le=50, description="how many to list")


@tool("read")
def newest_customers(store: Store, args: NewestCustomersInput) -> dict[str, Any]:
    """The most recently updated customers (lifecycle stage customer), newest first."""
    customers = [c for c in store.scan("contacts", lifecycle_stage="customer") if not c.get("archived")]
    customers.sort(key=lambda c: c["updated_at"], reverse=True)
    rows = [
        {"contact_id": c["contact_id"], "name": full_name(c), "since": local_date(store, c["updated_at"]).isoformat()}
        for c in customers[: args.limit]
    ]
    return {"customers": rows}


# ---------------------------------------------------------------------------- timeline
NOUN = {"contacts": "contact", "leads": "lead", "opportunities": "job", "interactions": "interaction"}
OPENED = {"contacts": "contact added", "leads": "lead opened", "opportunities": "job created"}


class TimelineInput(ToolInput):
    record_id: str = Field(description="a contact (C-12), lead (L-3) or job (O-7)")
    limit: int = Field(default=100, ge=1, le=1000, description="at most this many entries: the most recent ones")


def _change_text(event: Doc) -> str:
    after = event.get("after") or {}
    before = event.get("before") or {}
    parts = [
        f"{k.replace('_', ' ')}: {_shown(before.get(k))} → {_shown(v)}" for k, v in after.items() if k != "updated_at"
    ]
    return ", ".join(parts) or event["action"].replace("_", " ")


def _shown(value: Any) -> str:
    if value in (None, "", []):
        return "(none)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    text = " ".join(str(value).split())
    return text if len(text) <= 80 else text[:79] + "…"


def timeline_entries(store: Store, record_id: str) -> tuple[Doc, list[Doc]]:
    """A record and everything that happened to it, oldest first: its interactions and every recorded
    change (with who made it). A contact's includes its leads' and jobs' changes; a job's includes the
    lead it came from, and a converted lead's the job it became. Entries of the same second keep the
    order they were written in."""
    table = table_of(record_id)
    if table not in OPENED:
        raise NotFound(f"{record_id!r} is not a contact, lead or job id (they look like C-12, L-3, O-7).")
    record = store.require(table, record_id)
    own_id = record[TABLES[table][2]]
    ids = [own_id]
    link = {"C": "contact_id", "L": "lead_id", "O": "opportunity_id"}
    with store.reading():
        if table == "contacts":
            ids += [d["lead_id"] for d in store.linked("leads", "contact_id", own_id)]
            ids += [o["opportunity_id"] for o in store.linked("opportunities", "contact_id", own_id)]
        elif table == "leads" and record.get("converted_opportunity_id"):
            ids.append(record["converted_opportunity_id"])
        elif table == "opportunities" and record.get("lead_id"):
            ids.append(record["lead_id"])
        items: dict[str, Doc] = {}
        for rid in [own_id] if table == "contacts" else ids:
            for item in store.linked("interactions", link[rid.split("-")[0]], rid):
                items[item["interaction_id"]] = item
        events = store.events_of([*ids, *items])
    entries: list[tuple[dt.datetime, int, Doc]] = []
    placed: set[str] = set()
    for n, event in enumerate(events):
        logged = items.get(event["record_id"])
        if logged is None:
            entries.append((clock.parse_stamp(event["at"]), n, _event_entry(event)))
        elif event["action"] in ("logged", "created") and logged["interaction_id"] not in placed:
            entries.append((clock.parse_stamp(logged["timestamp"]), n, _interaction_entry(logged)))
            placed.add(logged["interaction_id"])
        elif event["action"] not in ("logged", "created"):
            entries.append((clock.parse_stamp(event["at"]), n, _event_entry(event)))
    for item in items.values():  # history brought in without its events (an import)
        if item["interaction_id"] not in placed:
            entries.append((clock.parse_stamp(item["timestamp"]), len(events), _interaction_entry(item)))
    entries.sort(key=lambda e: (e[0], e[1]))
    out = []
    for moment, _, entry in entries:
        entry["date"] = moment.astimezone(store.tz).date().isoformat()
        out.append(entry)
    return record, out


def _interaction_entry(item: Doc) -> Doc:
    follow = ""
    if item.get("follow_up_date"):
        follow = f" (follow-up {item['follow_up_status']}, due {item['follow_up_date']})"
    return {
        "at": item["timestamp"],
        "kind": item["type"],
        "text": summary(item) + follow,
        "record_id": item["interaction_id"],
        "by": None,
    }


def _event_entry(event: Doc) -> Doc:
    table = {"contact": "contacts", "lead": "leads", "opportunity": "opportunities"}.get(event.get("record_type", ""))
    if event["action"] == "created" and table in OPENED:
        text = OPENED[table]
    else:
        text = f"{event['action'].replace('_', ' ')}: {_change_text(event)}"
    return {"at": event["at"], "kind": "change", "text": text, "record_id": event["record_id"], "by": event["actor"]}


@tool("read")
def timeline(store: Store, args: TimelineInput) -> dict[str, Any]:
    """The history of a contact, lead or job, oldest first: every call, email, text, meeting and note, and
    every recorded change (stage moves, edits with before → after, follow-ups closed or moved) with who made
    it. A contact's history covers their leads and jobs; a job's includes the lead it came from. "Show me
    Marcus's history", "what happened on the Oak St lead?"."""
    record, entries = timeline_entries(store, args.record_id)
    shown = entries[-args.limit :]
    table = table_of(args.record_id)
    name = full_name(record) if table == "contacts" else store.label(table, record)
    return {
        "record_id": record[TABLES[table][2]],
        "name": name,
        "timeline": shown,
        "total": len(entries),
        "message": f"{len(entries)} entries for {NOUN[table]} {name}"
        + (f"; the last {len(shown)} shown." if len(shown) < len(entries) else "."),
    }


class LeadRefInput(ToolInput):
    lead_id: str = Field(description="the lead (L-3)")


@tool("read")
def lead_timeline(store: Store, args: LeadRefInput) -> dict[str, Any]:
    """A lead's history, oldest first (the same as timeline with a lead id; timeline also takes contacts
    and jobs)."""
    if table_of(args.lead_id) != "leads":
        raise NotFound(f"{args.lead_id!r} is not a lead id (they look like L-3).")
    lead, entries = timeline_entries(store, args.lead_id)
    return {"lead": lead, "timeline": entries}
