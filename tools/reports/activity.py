"""What happened with a customer: the last touchpoint, what they are in the middle of, a lead's
timeline, and the newest customers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from backoffice.tools.book import clock
from backoffice.tools.book.models import OPEN_LEAD_STATUSES, OPEN_OPPORTUNITY_STAGES
from backoffice.tools.book.normalize import full_name
from backoffice.tools.book.store import Doc, Store
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
    jobs = [o for o in store.linked("opportunities", "contact_id", contact_id) if o["stage"] in OPEN_OPPORTUNITY_STAGES]
    if jobs:
        return None, max(jobs, key=lambda o: o["created_at"])
    leads = [d for d in store.linked("leads", "contact_id", contact_id) if d["status"] in OPEN_LEAD_STATUSES]
    return (max(leads, key=lambda d: d["created_at"]) if leads else None), None


# ---------------------------------------------------------------------------- touchpoints
class ContactRefInput(ToolInput):
    contact_id: str = Field(description="a contact id, like C-12")


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
    limit: int = Field(default=5, ge=1, le=50, description="how many to list (default 5)")


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
class LeadRefInput(ToolInput):
    lead_id: str = Field(description="a lead id, like L-4")


@tool("read")
def lead_timeline(store: Store, args: LeadRefInput) -> dict[str, Any]:
    """Everything that happened on a lead, oldest first: its interactions and its recorded changes."""
    lead = store.require("leads", args.lead_id)
    entries = []
    for item in store.linked("interactions", "lead_id", lead["lead_id"]):
        entries.append(
            {
                "at": item["timestamp"],
                "kind": item["type"],
                "text": summary(item),
                "interaction_id": item["interaction_id"],
            }
        )
    for event in store.events(lead["lead_id"]):
        if event["action"] == "created":
            text = "lead opened"
        else:
            text = ", ".join(
                f"{k}: {event['before'].get(k)} → {v}"
                for k, v in (event.get("after") or {}).items()
                if k != "updated_at"
            )
        entries.append({"at": event["at"], "kind": f"change by {event['actor']}", "text": text})
    entries.sort(key=lambda e: e["at"])
    return {"lead": lead, "timeline": entries}
