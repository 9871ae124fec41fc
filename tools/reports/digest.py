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


def follow_ups_due_rows(
    store: Store, on: dt.date | None = None, include_overdue: bool = True, limit: int | None = None
) -> list[Doc]:
    """Pending follow-ups due on ``on`` (default today) or, with ``include_overdue``, before: the
    longest overdue first, the first ``limit`` of them (None: all)."""
    day = on or store.today()
    rows = []
    with store.reading():
        found = store.pending_follow_ups(due_by=day, limit=limit if include_overdue else None)
        due_items = [i for i in found if include_overdue or i["follow_up_date"] >= day.isoformat()]
        contacts = store.many("contacts", [i["contact_id"] for i in due_items if i.get("contact_id")])
        for item in due_items:
            due = dt.date.fromisoformat(item["follow_up_date"])
            contact = contacts.get(item.get("contact_id") or "")
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
LISTED = 25  # quiet leads the stale_leads tool lists unless asked for more; the rest are counted


class StaleLeadsInput(ToolInput):
    as_of: dt.date | None = Field(default=None, description="default today")
    limit: int = Field(
        default=LISTED, ge=1, le=1000, description="how many to list, most urgent first; all are counted in 'total'"
    )


def quiet_since(store: Store, day: dt.date, business_days: int | None = None) -> dt.date:
    """The last day on which activity still leaves a lead quiet on ``day``: the business days
    after it, up to ``day``, number ``business_days`` (default ``stale_after_business_days``)."""
    calendar = store.calendar
    left = business_days if business_days is not None else store.settings.stale_after_business_days
    edge = day
    while left:
        if calendar.is_business_day(edge):
            left -= 1
        edge -= dt.timedelta(days=1)
    return edge


QUIET_STATUSES = OPEN_LEAD_STATUSES  # every open lead is watched: qualifying one must not hide it
FOLLOW_UPS_SHOWN = 15  # follow-ups listed in the digest; the rest are counted
SHOWN = 10  # quiet leads drawn in the digest; the rest are counted (``--all`` or the data lists every one)


def stale_lead_rows(store: Store, as_of: dt.date | None = None, limit: int | None = None) -> list[Doc]:
    """Open leads (new, working or qualified) with no touch in the last N business days (N is the
    ``stale_after_business_days`` setting, 3 by default; a classed lead's own number from the
    playbook: gold sooner, bronze later), gold first and bronze last, then the longest silence, then
    the most valuable. A lead's own creation counts as activity; the agent's system records (a lead
    qualified, a message saved to the outbox unsent) do not. ``limit`` keeps the first ones only."""
    return _quiet(store, as_of or store.today(), limit)[0]


UNCLASSED_ORDER = 2  # a lead without a class sorts after silver and before bronze


def _quiet(store: Store, day: dt.date, limit: int | None) -> tuple[list[Doc], int]:
    def cutoff(business_days: int | None = None) -> dt.datetime:
        # activity at or after the start of the day after the edge (business time zone) is recent
        edge = quiet_since(store, day, business_days)
        return dt.datetime.combine(edge + dt.timedelta(days=1), dt.time(), store.tz)

    # the class says how soon a quiet lead is nudged and where it sorts (playbook.json classes)
    classes = store.playbook.classes
    by_class = {name: cutoff(effort.nudge_after_business_days) for name, effort in classes.items()}
    order: dict[str, int] = {"": UNCLASSED_ORDER, **{name: effort.digest_order for name, effort in classes.items()}}
    with store.reading():
        shown, total = store.quiet_leads(QUIET_STATUSES, cutoff(), limit, by_class, order)
        leads = store.many("leads", [q["id"] for q in shown])
        contacts = store.many("contacts", [d["contact_id"] for d in leads.values() if d.get("contact_id")])
        lasts = store.latest_interactions("lead_id", [q["id"] for q in shown if q["last_ts"]], human_only=True)
    rows = []
    for found in shown:
        latest = clock.parse_stamp(found["last_ts"] or found["created_at"])
        days = (day - latest.astimezone(store.tz).date()).days
        lead = leads[found["id"]]
        contact = contacts.get(lead.get("contact_id") or "")
        last = lasts.get(lead["lead_id"]) if found["last_ts"] else None
        rows.append(
            {
                "lead_id": lead["lead_id"],
                "title": lead["title"],
                "contact": full_name(contact) if contact else (lead.get("email") or lead.get("phone") or "unknown"),
                "contact_id": lead.get("contact_id"),
                "status": lead["status"],
                "pipeline_stage": lead["pipeline_stage"],
                "estimated_value": lead.get("estimated_value"),
                "effort_class": lead.get("effort_class"),
                "days_since_activity": days,
                "last_touchpoint": summary(last) if last else "lead created, nothing logged since",
            }
        )
    return rows, total


@tool("read")
def stale_leads(store: Store, args: StaleLeadsInput) -> dict[str, Any]:
    """Open leads (new, working or qualified) with no call, email, text, meeting or note in the past
    3 business days (the stale_after_business_days setting; a gold lead after 1, a bronze one after 5,
    as the playbook's classes say), gold leads first, then the longest silence. Lists the first
    ``limit`` (25); ``total`` counts them all and ``open_leads`` is every open lead."""
    with store.reading():
        rows, total = _quiet(store, args.as_of or store.today(), args.limit)
        open_leads = store.count_where("leads", status=OPEN_LEAD_STATUSES)
    return {
        "stale_leads": rows,
        "total": total,
        "open_leads": open_leads,
        "quiet_after": store.settings.stale_after_business_days,
    }


# ---------------------------------------------------------------------------- morning digest
def digest_data(store: Store, day: dt.date | None = None, limit: int | None = SHOWN) -> Doc:
    """The morning digest: follow-ups due (overdue ones marked; the longest overdue first) and
    leads gone quiet. Beyond ``limit`` quiet leads (and ``FOLLOW_UPS_SHOWN`` follow-ups) the rest
    are counted in ``stale_total`` / ``follow_ups_total``, not listed; None lists every one."""
    day = day or store.today()
    with store.reading():
        follow_ups = follow_ups_due_rows(store, day, limit=None if limit is None else FOLLOW_UPS_SHOWN)
        follow_ups_total = store.count_follow_ups(day)
        stale, total = _quiet(store, day, limit)
        open_leads = store.count_where("leads", status=OPEN_LEAD_STATUSES)
    return {
        "date": day.isoformat(),
        "business_day": store.calendar.is_business_day(day),
        "follow_ups": follow_ups,
        "follow_ups_total": follow_ups_total,
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
    3 business days, or their class's own number of days (the first ten, gold first, and how many there are)."""
    return digest_data(store, args.on)
