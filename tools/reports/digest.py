"""The morning digest: follow-ups due (overdue ones marked) and open leads gone quiet."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from backoffice.tools.book import clock
from backoffice.tools.book.models import OPEN_LEAD_STATUSES
from backoffice.tools.book.normalize import full_name
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.registry import ToolInput, tool
from backoffice.tools.reports.activity import summary


# ---------------------------------------------------------------------------- follow-ups
class FollowUpsDueInput(ToolInput):
    on: dt.date | None = Field(default=None, description="default today")
    include_overdue: bool = Field(default=True, description="also list follow-ups due before that day")


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


QUIET_STATUSES = OPEN_LEAD_STATUSES  # every open lead is watched: qualifying one must not hide it
SHOWN = 10  # quiet leads drawn in the digest; the rest are counted (``--all`` or the data lists every one)


def stale_lead_rows(store: Store, as_of: dt.date | None = None, limit: int | None = None) -> list[Doc]:
    """Open leads (new, working or qualified) with no touch in the last N business days (N is the
    ``stale_after_business_days`` setting, 3 by default), longest silence first, then the most
    valuable. A lead's own creation counts as activity; the agent's system records (a lead
    qualified, a message saved to the outbox unsent) do not. ``limit`` keeps the first ones only."""
    return _quiet(store, as_of or store.today(), limit)[0]


def _quiet(store: Store, day: dt.date, limit: int | None) -> tuple[list[Doc], int]:
    edge = quiet_since(store, day)
    # activity at or after the start of the day after ``edge`` (business time zone) is recent
    cutoff = dt.datetime.combine(edge + dt.timedelta(days=1), dt.time(), store.tz)
    with store.reading():
        quiet = []
        for lead, last_ts in store.quiet_leads(QUIET_STATUSES, cutoff):
            latest = clock.parse_stamp(lead["created_at"])
            if last_ts and clock.parse_stamp(last_ts) >= latest:
                latest = clock.parse_stamp(last_ts)
            else:
                last_ts = None  # logged before the lead existed (imported history): not a touchpoint on it
            quiet.append(((day - latest.astimezone(store.tz).date()).days, lead, last_ts))
        quiet.sort(key=lambda q: (-q[0], -float(q[1].get("estimated_value") or 0), q[1]["lead_id"]))
        total = len(quiet)
        shown = quiet if limit is None else quiet[:limit]
        contacts = store.many("contacts", [q[1]["contact_id"] for q in shown if q[1].get("contact_id")])
        lasts = store.latest_interactions("lead_id", [q[1]["lead_id"] for q in shown if q[2]], human_only=True)
    rows = []
    for days, lead, _ in shown:
        contact = contacts.get(lead.get("contact_id") or "")
        last = lasts.get(lead["lead_id"])
        rows.append(
            {
                "lead_id": lead["lead_id"],
                "title": lead["title"],
                "contact": full_name(contact) if contact else (lead.get("email") or lead.get("phone") or "unknown"),
                "contact_id": lead.get("contact_id"),
                "status": lead["status"],
                "pipeline_stage": lead["pipeline_stage"],
                "estimated_value": lead.get("estimated_value"),
                "days_since_activity": days,
                "last_touchpoint": summary(last) if last else "lead created, nothing logged since",
            }
        )
    return rows, total


@tool("read")
def stale_leads(store: Store, args: StaleLeadsInput) -> dict[str, Any]:
    """Open leads (new, working or qualified) with no call, email, text, meeting or note in the past
    3 business days (the stale_after_business_days setting), longest silence first."""
    return {"stale_leads": stale_lead_rows(store, args.as_of)}


# ---------------------------------------------------------------------------- morning digest
def digest_data(store: Store, day: dt.date | None = None, limit: int | None = SHOWN) -> Doc:
    """The morning digest: follow-ups due (overdue ones marked) and leads gone quiet. Quiet leads
    beyond ``limit`` are counted in ``stale_total``, not listed (None lists every one)."""
    day = day or store.today()
    with store.reading():
        follow_ups = follow_ups_due_rows(store, day)
        stale, total = _quiet(store, day, limit)
        open_leads = store.count_where("leads", status=OPEN_LEAD_STATUSES)
    return {
        "date": day.isoformat(),
        "business_day": store.calendar.is_business_day(day),
        "follow_ups": follow_ups,
        "stale_leads": stale,
        "stale_total": total,
        "open_leads": open_leads,
        "quiet_after": store.settings.stale_after_business_days,
    }


class DigestInput(ToolInput):
    on: dt.date | None = Field(default=None, description="default today")


@tool("read")
def morning_digest(store: Store, args: DigestInput) -> dict[str, Any]:
    """The morning digest: today's follow-ups (overdue ones marked, each with its interaction id so
    it can be completed, cancelled or rescheduled) and the open leads with no touch in the past
    3 business days (the first ten, and how many there are)."""
    return digest_data(store, args.on)
