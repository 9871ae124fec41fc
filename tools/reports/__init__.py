"""Read-only views: last touchpoint, newest customers, follow-ups due, stale leads, pipeline, timeline.

Scans read the in-memory tables directly (inside ``store.reading()``) and use the indexes, so they
stay well under a second at 100,000 leads (see bench/store_bench.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from backoffice.tools.book import clock
from backoffice.tools.book.models import OPEN_LEAD_STATUSES, OPEN_OPPORTUNITY_STAGES
from backoffice.tools.book.normalize import full_name
from backoffice.tools.registry import ToolInput, tool
from backoffice.tools.book.store import Store, key_of

Doc = dict[str, Any]


def _local_date(store: Store, stamp: str) -> dt.date:
    return clock.parse_stamp(stamp).astimezone(store.tz).date()


def _summary(item: Doc) -> str:
    text = item.get("ai_summary") or item.get("subject") or item.get("body") or item["type"]
    text = " ".join(str(text).split())
    return text if len(text) <= 120 else text[:119] + "…"


def last_interaction(store: Store, link: str, record_id: str, human_only: bool = False) -> Doc | None:
    """The most recent interaction pointing at a record (index lookup, no scan). ``human_only``
    skips the agent's own system notes."""
    ids = store.indexes.by_link[link].get(record_id)
    if not ids:
        return None
    table = store.db.tables["interactions"]
    docs = [table[key_of("interactions", i)] for i in ids]
    if human_only:
        docs = [d for d in docs if d["type"] != "system"]
    return max(docs, key=lambda d: d["timestamp"]) if docs else None


def current_work(store: Store, contact_id: str) -> tuple[Doc | None, Doc | None]:
    """(lead, job) a contact is in the middle of: their newest open job, else their newest open lead."""
    jobs = [o for o in store.linked("opportunities", "contact_id", contact_id) if o["stage"] in OPEN_OPPORTUNITY_STAGES]
    if jobs:
        return None, max(jobs, key=lambda o: o["created_at"])
    leads = [d for d in store.linked("leads", "contact_id", contact_id) if d["status"] in OPEN_LEAD_STATUSES]
    return (max(leads, key=lambda d: d["created_at"]) if leads else None), None


# ---------------------------------------------------------------------------- touchpoints
class ContactRefInput(ToolInput):
    contact_id: str


@tool("read")
def last_touchpoint(store: Store, args: ContactRefInput) -> dict[str, Any]:
    """When we last talked to a contact, and what about."""
    contact = store.require("contacts", args.contact_id)
    with store.reading():
        last = last_interaction(store, "contact_id", contact["contact_id"], human_only=True)
    name = full_name(contact)
    if last is None:
        return {
            "contact_id": contact["contact_id"],
            "last": None,
            "message": f"Nothing has been logged with {name} yet.",
        }
    when = _local_date(store, last["timestamp"])
    days = (store.today() - when).days
    ago = "today" if days == 0 else "yesterday" if days == 1 else f"{days} days ago"
    return {
        "contact_id": contact["contact_id"],
        "last": {
            "interaction_id": last["interaction_id"],
            "type": last["type"],
            "date": when.isoformat(),
            "days_ago": days,
            "summary": _summary(last),
        },
        "message": f"Last contact with {name}: {ago} ({when:%a %b %d}), "
        f"{last['type'].replace('_', ' ')} — {_summary(last)}",
    }


class NewestCustomersInput(ToolInput):
    limit: int = Field(default=5, ge=1, le=50)


@tool("read")
def newest_customers(store: Store, args: NewestCustomersInput) -> dict[str, Any]:
    """The most recently updated customers (lifecycle stage customer), newest first."""
    with store.reading():
        customers = [c for c in store.scan("contacts") if c["lifecycle_stage"] == "customer" and not c.get("archived")]
        customers.sort(key=lambda c: c["updated_at"], reverse=True)
        rows = [
            {
                "contact_id": c["contact_id"],
                "name": full_name(c),
                "since": _local_date(store, c["updated_at"]).isoformat(),
            }
            for c in customers[: args.limit]
        ]
    return {"customers": rows}


# ---------------------------------------------------------------------------- follow-ups
class FollowUpsDueInput(ToolInput):
    on: dt.date | None = Field(default=None, description="default today")
    include_overdue: bool = True


def follow_ups_due_rows(store: Store, on: dt.date | None = None, include_overdue: bool = True) -> list[Doc]:
    day = on or store.today()
    rows = []
    with store.reading():
        table = store.db.tables["interactions"]
        for rid in list(store.indexes.pending_follow_ups):
            item = table[key_of("interactions", rid)]
            due = dt.date.fromisoformat(item["follow_up_date"])
            if due > day or (due < day and not include_overdue):
                continue
            contact = (
                store.db.tables["contacts"].get(key_of("contacts", item["contact_id"]))
                if item.get("contact_id")
                else None
            )
            rows.append(
                {
                    "interaction_id": item["interaction_id"],
                    "due": due.isoformat(),
                    "overdue_days": (day - due).days,
                    "contact_id": item.get("contact_id"),
                    "name": full_name(contact) if contact else None,
                    "lead_id": item.get("lead_id"),
                    "opportunity_id": item.get("opportunity_id"),
                    "topic": _summary(item),
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


def _utc(stamp: str) -> str:
    """A stored timestamp as canonical UTC text, so instants compare as strings. Our own writes
    are already canonical; anything else (an import with an offset) is converted."""
    if len(stamp) == 25 and stamp.endswith("+00:00"):
        return stamp
    return clock.stamp(clock.parse_stamp(stamp).astimezone(clock.UTC))


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
    cutoff = _utc(clock.stamp(dt.datetime.combine(edge + dt.timedelta(days=1), dt.time(), store.tz)))
    rows = []
    with store.reading():
        contacts = store.db.tables["contacts"]
        interactions = store.db.tables["interactions"]
        by_lead = store.indexes.by_link["lead_id"]
        for lead in store.scan("leads"):
            if lead["status"] not in ("new", "working"):
                continue
            latest, last = _utc(lead["created_at"]), None
            for rid in by_lead.get(lead["lead_id"], ()):
                item = interactions[rid[2:]]
                when = _utc(item["timestamp"])
                if when >= latest:
                    latest, last = when, item
            if latest >= cutoff:
                continue
            touched = _local_date(store, latest)
            contact = contacts.get(key_of("contacts", lead["contact_id"])) if lead.get("contact_id") else None
            rows.append(
                {
                    "lead_id": lead["lead_id"],
                    "title": lead["title"],
                    "contact": full_name(contact) if contact else (lead.get("email") or lead.get("phone") or "unknown"),
                    "contact_id": lead.get("contact_id"),
                    "status": lead["status"],
                    "pipeline_stage": lead["pipeline_stage"],
                    "days_since_activity": (day - touched).days,
                    "last_touchpoint": _summary(last) if last else "lead created, nothing logged since",
                }
            )
    rows.sort(key=lambda r: -r["days_since_activity"])
    return rows


@tool("read")
def stale_leads(store: Store, args: StaleLeadsInput) -> dict[str, Any]:
    """Open leads (new or working) with no activity in the past 3 business days, oldest silence first."""
    return {"stale_leads": stale_lead_rows(store, args.as_of)}


# ---------------------------------------------------------------------------- pipeline
class PipelineInput(ToolInput):
    as_of: dt.date | None = Field(
        default=None, description="the report covers the 7 days up to this day; default today"
    )


def pipeline_data(store: Store, as_of: dt.date | None = None) -> Doc:
    """Numbers for the pipeline summary. "This week" is the seven days ending on ``as_of``, so the
    Monday-morning report covers the week just finished."""
    end = as_of or store.today()
    start = end - dt.timedelta(days=6)
    new_leads = 0
    open_ages: list[int] = []
    proposals: list[float] = []
    oldest: Doc | None = None
    past_due: list[Doc] = []
    won: list[float] = []
    lost = 0
    disqualified = 0
    with store.reading():
        contacts = store.db.tables["contacts"]

        def who(doc: Doc) -> str:
            c = contacts.get(key_of("contacts", doc["contact_id"])) if doc.get("contact_id") else None
            return full_name(c) if c else "unknown"

        for lead in store.scan("leads"):
            created = _local_date(store, lead["created_at"])
            if start <= created <= end:
                new_leads += 1
            if lead["status"] == "disqualified" and start <= _local_date(store, lead["updated_at"]) <= end:
                disqualified += 1
            if lead["status"] not in OPEN_LEAD_STATUSES:
                continue
            age = (end - created).days
            open_ages.append(age)
            if lead["pipeline_stage"] == "estimate_sent":
                proposals.append(float(lead.get("estimated_value") or 0))
            if oldest is None or lead["created_at"] < oldest["created_at"]:
                oldest = lead
            if lead.get("expected_close_date") and lead["expected_close_date"] < end.isoformat():
                past_due.append(
                    {
                        "id": lead["lead_id"],
                        "title": lead["title"],
                        "contact": who(lead),
                        "expected_close_date": lead["expected_close_date"],
                    }
                )
        for opp in store.scan("opportunities"):
            closed = opp.get("close_date")
            if opp["stage"] == "won" and closed and start.isoformat() <= closed <= end.isoformat():
                won.append(float(opp.get("amount") or 0))
            elif opp["stage"] == "lost" and closed and start.isoformat() <= closed <= end.isoformat():
                lost += 1
            elif opp["stage"] == "proposal_sent":
                proposals.append(float(opp.get("amount") or 0))
            if (
                opp["stage"] not in ("won", "lost")
                and opp.get("expected_close_date")
                and opp["expected_close_date"] < end.isoformat()
            ):
                past_due.append(
                    {
                        "id": opp["opportunity_id"],
                        "title": opp["name"],
                        "contact": who(opp),
                        "expected_close_date": opp["expected_close_date"],
                    }
                )
        oldest_row = None
        if oldest is not None:
            oldest_row = {
                "lead_id": oldest["lead_id"],
                "title": oldest["title"],
                "contact": who(oldest),
                "age_days": (end - _local_date(store, oldest["created_at"])).days,
                "stage": oldest["pipeline_stage"],
            }
    past_due.sort(key=lambda r: r["expected_close_date"])
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "new_leads": new_leads,
        "in_follow_up": len(open_ages),
        "in_follow_up_avg_age_days": round(sum(open_ages) / len(open_ages), 1) if open_ages else 0,
        "proposals_out": len(proposals),
        "proposals_value": round(sum(proposals), 2),
        "won": len(won),
        "won_value": round(sum(won), 2),
        "lost": lost,
        "disqualified": disqualified,
        "oldest_open_lead": oldest_row,
        "past_expected_close": past_due,
    }


@tool("read")
def pipeline_summary(store: Store, args: PipelineInput) -> dict[str, Any]:
    """The pipeline for the last 7 days: new leads, open leads in follow-up and their average age,
    proposals out and their value, won and lost, the oldest open lead, and anything past its expected close date."""
    return pipeline_data(store, args.as_of)


# ---------------------------------------------------------------------------- timeline
class LeadRefInput(ToolInput):
    lead_id: str


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
                "text": _summary(item),
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


# ---------------------------------------------------------------------------- win/loss
MONTH = r"\d{4}-(0[1-9]|1[0-2])"  # "YYYY-MM"


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of a "YYYY-MM" month."""
    first = dt.date.fromisoformat(f"{month}-01")
    following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def previous_month(day: dt.date) -> str:
    last = day.replace(day=1) - dt.timedelta(days=1)
    return f"{last:%Y-%m}"


def winloss_data(store: Store, month: str | None = None) -> Doc:
    """Numbers for the monthly win/loss summary of ``month`` ("YYYY-MM", default last month).

    Outcomes count when they were decided in the month: jobs by their close date, disqualified
    leads by their last change. Days to close run from the lead's first day (the job's, when it
    came without a lead) to the close date of a won job."""
    month = month or previous_month(store.today())
    first, last = month_bounds(month)
    lo, hi = first.isoformat(), last.isoformat()
    won: list[float] = []
    lost: list[float] = []
    loss_reasons: dict[str, int] = {}
    disqualified_reasons: dict[str, int] = {}
    days_to_close: list[int] = []
    sources: dict[str, dict[str, int]] = {}
    new_leads = still_open = converted = 0

    def source_row(name: str) -> dict[str, int]:
        return sources.setdefault(name, {"leads": 0, "won": 0})

    with store.reading():
        leads = store.db.tables["leads"]
        for lead in store.scan("leads"):
            created = _local_date(store, lead["created_at"])
            if first <= created <= last:
                new_leads += 1
                source_row(lead["source"])["leads"] += 1
                if lead["status"] in OPEN_LEAD_STATUSES:
                    still_open += 1
            if lead["status"] == "disqualified" and first <= _local_date(store, lead["updated_at"]) <= last:
                reason = lead.get("disqualification_reason") or "other"
                disqualified_reasons[reason] = disqualified_reasons.get(reason, 0) + 1
        for opp in store.scan("opportunities"):
            if opp.get("lead_id") and first <= _local_date(store, opp["created_at"]) <= last:
                converted += 1
            closed = opp.get("close_date")
            if opp["stage"] not in ("won", "lost") or not closed or not lo <= closed <= hi:
                continue
            from_lead = leads.get(key_of("leads", opp["lead_id"])) if opp.get("lead_id") else None
            if opp["stage"] == "lost":
                lost.append(float(opp.get("amount") or 0))
                reason = opp.get("lost_reason") or "other"
                loss_reasons[reason] = loss_reasons.get(reason, 0) + 1
                continue
            won.append(float(opp.get("amount") or 0))
            began = _local_date(store, (from_lead or opp)["created_at"])
            days_to_close.append((dt.date.fromisoformat(closed) - began).days)
            source_row(from_lead["source"] if from_lead else "no lead")["won"] += 1
    decided = len(won) + len(lost)
    top = sorted(sources.items(), key=lambda kv: (-kv[1]["won"], -kv[1]["leads"], kv[0]))
    return {
        "month": month,
        "from": lo,
        "to": hi,
        "new_leads": new_leads,
        "new_leads_still_open": still_open,
        "converted_to_jobs": converted,
        "won": len(won),
        "won_value": round(sum(won), 2),
        "lost": len(lost),
        "lost_value": round(sum(lost), 2),
        "disqualified": sum(disqualified_reasons.values()),
        "win_rate": round(len(won) / decided, 3) if decided else None,
        "avg_days_to_close": round(sum(days_to_close) / len(days_to_close), 1) if days_to_close else None,
        "top_sources": [{"source": name, **counts} for name, counts in top[:5]],
        "loss_reasons": dict(sorted(loss_reasons.items(), key=lambda kv: -kv[1])),
        "disqualification_reasons": dict(sorted(disqualified_reasons.items(), key=lambda kv: -kv[1])),
    }


class WinLossInput(ToolInput):
    month: str | None = Field(default=None, pattern=f"^{MONTH}$", description="YYYY-MM; default last month")


@tool("read")
def winloss_summary(store: Store, args: WinLossInput) -> dict[str, Any]:
    """The win/loss summary of a month: outcomes (won, lost, disqualified), win rate, top sources,
    average days from first inquiry to a won job, and loss reasons."""
    return winloss_data(store, args.month)
