"""The morning digest: follow-ups due (overdue ones marked) and open leads gone quiet."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from backoffice.tools.book import clock
from backoffice.tools.book.normalize import full_name
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.registry import ToolInput, tool
from backoffice.tools.reports.activity import summary


# ---------------------------------------------------------------------------- follow-ups
class FollowUpsDueInput(ToolInput):
    on: dt.date | None = Field(default=None, description="default today")
    include_overdue: bool = True


def follow_ups_due_rows(store: Store, on: dt.date | None = None, include_overdue: bool = True) -> list[Doc]:
    day = on or store.today()
    rows = []
    with store.reading():
        for item in store.pending_follow_ups(due_by=day):
            due = dt.date.fromisoformat(item["follow_up_date"])
            if due < day and not include_overdue:
                continue
            contact = store.get("contacts", item["contact_id"]) if item.get("contact_id") else None
            rows.append(
                {
                    "interaction_id": item["interaction_id"],
                    "due": due.isoformat(),
                    "overdue_days": (day - due).days,
                    "contact_id": item.get("contact_id"),
                    "name": full_name(contact) if contact else None,
                    "lead_id": item.get("lead_id"),
                    "opportunity_id": item.get("opportunity_id"),
                    "topic": summary(item),
                    "type": item["type"],
                }
            )
    rows.sort(key=lambda r: (r["due"], r["interaction_id"]))
    return rows


@tool("read")
def follow_ups_due(store: Store, args: FollowUpsDueInput) -> dict[str, Any]:
    """Pending follow-ups due on a day (default today), overdue ones included and marked."""
    return {"follow_ups": follow_ups_due_rows(store, args.on, args.include_overdue)}


# ---------------------------------------------------------------------------- stale leads
class StaleLeadsInput(ToolInput):
    as_of: dt.date | None = Field(default=None, description="default today")


def quiet_since(store: Store, day: dt.date) -> dt.date:
    """The last day on which activity still leaves a lead quiet on ``day``: the business days
    after it, up to ``day``, number ``stale_after_business_days``."""
    calendar, left = store.calendar, store.settings.stale_after_business_days
    edge = day
    while left:
        if calendar.is_business_day(edge):
            left -= 1
        edge -= dt.timedelta(days=1)
    return edge


def stale_lead_rows(store: Store, as_of: dt.date | None = None) -> list[Doc]:
    """Leads in status new or working with no interaction in the last N business days (N is the
    ``stale_after_business_days`` setting, 3 by default). A lead's own creation counts as activity."""
    day = as_of or store.today()
    edge = quiet_since(store, day)
    # activity at or after the start of the day after ``edge`` (business time zone) is recent
    cutoff = dt.datetime.combine(edge + dt.timedelta(days=1), dt.time(), store.tz)
    rows = []
    with store.reading():
        for lead in store.scan("leads", status=("new", "working")):
            last = store.latest_interaction("lead_id", lead["lead_id"])
            latest = clock.parse_stamp(lead["created_at"])
            if last is not None and clock.parse_stamp(last["timestamp"]) >= latest:
                latest = clock.parse_stamp(last["timestamp"])
            else:
                last = None
            if latest >= cutoff:
                continue
            touched = latest.astimezone(store.tz).date()
            contact = store.get("contacts", lead["contact_id"]) if lead.get("contact_id") else None
            rows.append(
                {
                    "lead_id": lead["lead_id"],
                    "title": lead["title"],
                    "contact": full_name(contact) if contact else (lead.get("email") or lead.get("phone") or "unknown"),
                    "contact_id": lead.get("contact_id"),
                    "status": lead["status"],
                    "pipeline_stage": lead["pipeline_stage"],
                    "days_since_activity": (day - touched).days,
                    "last_touchpoint": summary(last) if last else "lead created, nothing logged since",
                }
            )
    rows.sort(key=lambda r: -r["days_since_activity"])
    return rows


@tool("read")
def stale_leads(store: Store, args: StaleLeadsInput) -> dict[str, Any]:
    """Open leads (new or working) with no activity in the past 3 business days, oldest silence first."""
    return {"stale_leads": stale_lead_rows(store, args.as_of)}


# ---------------------------------------------------------------------------- morning digest
def digest_data(store: Store, day: dt.date | None = None) -> Doc:
    """The morning digest: follow-ups due (overdue ones marked) and leads gone quiet."""
    day = day or store.today()
    return {
        "date": day.isoformat(),
        "business_day": store.calendar.is_business_day(day),
        "follow_ups": follow_ups_due_rows(store, day),
        "stale_leads": stale_lead_rows(store, day),
    }


class DigestInput(ToolInput):
    on: dt.date | None = Field(default=None, description="default today")


@tool("read")
def morning_digest(store: Store, args: DigestInput) -> dict[str, Any]:
    """The morning digest: today's follow-ups (overdue ones marked) and every new or working lead
    with no activity in the past 3 business days."""
    return digest_data(store, args.on)
