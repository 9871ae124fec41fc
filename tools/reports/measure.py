"""The owner's measures, from the event log: the KPIs of a month, where leads come from and what
they cost (the source report), and whom jobs are lost to (the competitor report).

A month is counted by what happened in it: a lead counts in the month its "created" event was
logged, a qualification or disqualification in the month of that event, a job's outcome in the
month of its "won" or "lost" event. The open pipeline at the end of a month is rebuilt by replaying
the jobs' events up to that moment, so an earlier month's weighted value is what it was then.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from pydantic import Field

from backoffice.tools.book import clock
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.crm.sources import MONTH, attribution
from backoffice.tools.registry import ToolInput, tool

EPOCH = dt.datetime(2000, 1, 1, tzinfo=clock.UTC)
COMPETITOR_UNKNOWN = "not recorded"


def month_bounds(store: Store, month: str | None) -> tuple[str, dt.datetime, dt.datetime]:
    """(YYYY-MM, its first moment, the first moment of the next month), in the business's time zone;
    this month when ``month`` is None."""
    if month is None:
        month = f"{store.today():%Y-%m}"
    year, number = int(month[:4]), int(month[5:7])
    start = dt.datetime(year, number, 1, tzinfo=store.tz)
    end = dt.datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=store.tz)
    return month, start, end


def _day(store: Store, stamp: str) -> dt.date:
    return clock.parse_stamp(stamp).astimezone(store.tz).date()


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _lead_sources(store: Store, leads: dict[str, Doc]) -> dict[str, str]:
    playbook = store.playbook
    return {i: attribution(playbook, d.get("source"), d.get("source_detail")) for i, d in leads.items()}


def replay_jobs(store: Store, until: dt.datetime) -> dict[str, Doc]:
    """Every job as the event log says it stood just before ``until``."""
    jobs: dict[str, Doc] = {}
    for event in store.events_between(EPOCH, until, "O-"):
        after = event.get("after") or {}
        jobs.setdefault(event["record_id"], {}).update(after)
    return jobs


def stage_days(store: Store, events: list[Doc], until: dt.datetime) -> tuple[dict[str, float | None], list[float]]:
    """From jobs' events: the average days a job spent at each stage it left before ``until``, and
    each won job's cycle (days from the job's creation to its win)."""
    spent: dict[str, list[float]] = defaultdict(list)
    cycles: list[float] = []
    entered: dict[str, tuple[str, dt.datetime]] = {}
    created: dict[str, dt.datetime] = {}
    for event in events:
        at = clock.parse_stamp(event["at"])
        if at >= until:
            break
        rid, after = event["record_id"], event.get("after") or {}
        if "stage" not in after:
            continue
        if event["action"] == "created":
            created.setdefault(rid, at)
        if rid in entered and entered[rid][0] != after["stage"]:
            stage, since = entered[rid]
            spent[stage].append((at - since).total_seconds() / 86400)
        entered[rid] = (after["stage"], at)
        if after["stage"] == "won" and rid in created:  # a job created before the events read has no cycle
            cycles.append((at - created[rid]).total_seconds() / 86400)
    order = [s.name for s in store.playbook.stages.jobs]
    return {name: _mean(spent.get(name, [])) for name in order}, cycles


# ---------------------------------------------------------------------------- KPIs
def kpis_data(store: Store, month: str | None = None) -> dict[str, Any]:
    month, start, end = month_bounds(store, month)
    lead_events = store.events_between(start, end, "L-")
    job_events = store.events_between(start, end, "O-")
    with store.reading():
        lead_ids = {e["record_id"] for e in lead_events}
        job_ids = {e["record_id"] for e in job_events}
        jobs = store.many("opportunities", sorted(job_ids))
        lead_ids |= {j["lead_id"] for j in jobs.values() if j.get("lead_id")}
        leads = store.many("leads", sorted(lead_ids))
    sources = _lead_sources(store, leads)

    created = [e["record_id"] for e in lead_events if e["action"] == "created"]
    volume: dict[str, int] = defaultdict(int)
    for rid in created:
        volume[sources.get(rid, "unattributed")] += 1

    to_qualify: list[float] = []
    qualified = disqualified = 0
    decided_by_class: dict[str, list[bool]] = defaultdict(list)
    for event in lead_events:
        lead = leads.get(event["record_id"])
        if lead is None:
            continue
        if event["action"] == "qualified":
            qualified += 1
            at = clock.parse_stamp(event["at"])
            to_qualify.append((at - clock.parse_stamp(lead["created_at"])).total_seconds() / 86400)
        elif event["action"] == "disqualified":
            disqualified += 1
            if lead.get("effort_class"):  # classed, then dropped: a class that did not convert
                decided_by_class[lead["effort_class"]].append(False)

    won_by_source: dict[str, list[bool]] = defaultdict(list)
    to_close: list[float] = []
    for event in job_events:
        if event["action"] not in ("won", "lost"):
            continue
        job = jobs.get(event["record_id"])
        if job is None:
            continue
        won = event["action"] == "won"
        won_by_source[sources.get(job.get("lead_id") or "", "unattributed")].append(won)
        decided_by_class[job.get("effort_class") or "unclassed"].append(won)
        if won:
            to_close.append((_day(store, event["at"]) - _day(store, job["created_at"])).days)

    as_then = replay_jobs(store, end)
    stages = store.playbook.stages
    open_jobs = [j for j in as_then.values() if j.get("stage") not in ("won", "lost")]
    weighted = sum(float(j.get("amount") or 0) * stages.job_probability(j["stage"]) for j in open_jobs)
    per_stage, cycles = stage_days(store, store.events_between(EPOCH, end, "O-"), end)
    return {
        "month": month,
        "volume_by_source": dict(sorted(volume.items(), key=lambda kv: (-kv[1], kv[0]))),
        "leads_created": len(created),
        "time_to_qualification_days": _mean(to_qualify),
        "qualified": qualified,
        "disqualified": disqualified,
        "disqualification_rate": _rate(disqualified, qualified + disqualified),
        # per class, of the work decided this month (a job won or lost, a classed lead disqualified): the share won
        "conversion_by_class": {
            name: {"decided": len(v), "won": sum(v), "rate": _rate(sum(v), len(v))}
            for name, v in sorted(decided_by_class.items())
        },
        "win_rate_by_source": {
            name: {"closed": len(v), "won": sum(v), "rate": _rate(sum(v), len(v))}
            for name, v in sorted(won_by_source.items())
        },
        "days_to_close": _mean(to_close),
        "open_jobs_at_month_end": len(open_jobs),
        "pipeline_value": round(sum(float(j.get("amount") or 0) for j in open_jobs), 2),
        "weighted_pipeline_value": round(weighted, 2),
        "velocity": {"days_per_stage": per_stage, "cycle_days": _mean(cycles)},
    }


class KpisInput(ToolInput):
    month: str | None = Field(default=None, pattern=f"^{MONTH}$", description="YYYY-MM; default this month")


@tool("read")
def kpis(store: Store, args: KpisInput) -> dict[str, Any]:
    """The month's key numbers, from the event log: new leads by source, days to qualify, the share
    disqualified, conversion by class (gold, silver, bronze: of the work decided, the share won), win rate
    by source, days to close, the
    open pipeline's weighted value (amount x the stage's probability) and velocity (days per stage,
    cycle time)."""
    return kpis_data(store, args.month)


# ---------------------------------------------------------------------------- sources
def sources_data(store: Store, month: str | None = None) -> dict[str, Any]:
    """Per source: leads created in the month, how many became jobs, jobs won and their value, the
    month's spend, cost per won job and return on the spend. Leads with no known origin show as
    "unattributed"; spend on a source that brought nothing still shows."""
    month, start, end = month_bounds(store, month)
    created = [e["record_id"] for e in store.events_between(start, end, "L-") if e["action"] == "created"]
    with store.reading():
        leads = store.many("leads", created)
        job_ids = [d["converted_opportunity_id"] for d in leads.values() if d.get("converted_opportunity_id")]
        jobs = store.many("opportunities", job_ids)
        spend = store.scan("source_spend", month=month)
    sources = _lead_sources(store, leads)
    rows: dict[str, dict[str, Any]] = {}

    def row(name: str) -> dict[str, Any]:
        return rows.setdefault(name, {"source": name, "leads": 0, "converted": 0, "won": 0, "won_value": 0.0,
                                      "spend": 0.0})  # fmt: skip

    for lead_id, lead in leads.items():
        r = row(sources[lead_id])
        r["leads"] += 1
        job = jobs.get(lead.get("converted_opportunity_id") or "")
        if job:
            r["converted"] += 1
            if job["stage"] == "won":
                r["won"] += 1
                r["won_value"] += float(job.get("amount") or 0)
    for s in spend:
        row(s["source"])["spend"] += float(s["amount"])
    out = []
    for r in rows.values():
        r["conversion"] = _rate(r["converted"], r["leads"])
        r["cost_per_won_job"] = round(r["spend"] / r["won"], 2) if r["won"] and r["spend"] else None
        r["roi"] = round((r["won_value"] - r["spend"]) / r["spend"], 2) if r["spend"] else None
        r["won_value"] = round(r["won_value"], 2)
        out.append(r)
    out.sort(key=lambda r: (r["source"] == "unattributed", -r["leads"], -r["spend"], r["source"]))
    return {
        "month": month,
        "sources": out,
        "total_spend": round(sum(r["spend"] for r in out), 2),
        "total_leads": sum(r["leads"] for r in out),
        "unattributed_leads": next((r["leads"] for r in out if r["source"] == "unattributed"), 0),
    }


class SourcesInput(ToolInput):
    month: str | None = Field(default=None, pattern=f"^{MONTH}$", description="YYYY-MM; default this month")


@tool("read")
def source_report(store: Store, args: SourcesInput) -> dict[str, Any]:
    """Where the month's leads came from and what each source returned: leads, conversion, jobs won and
    their value, the spend recorded, cost per won job and ROI, with unattributed leads shown."""
    return sources_data(store, args.month)


# ---------------------------------------------------------------------------- competitors
def competitors_data(store: Store) -> dict[str, Any]:
    """Whom lost jobs went to, how often, and on what (the loss reasons); and who else is bidding on the
    jobs still open."""
    lost = store.scan("opportunities", stage="lost")
    by: dict[str, dict[str, Any]] = {}
    for job in lost:
        name = job.get("competitor") or COMPETITOR_UNKNOWN
        row = by.setdefault(name, {"competitor": name, "losses": 0, "lost_value": 0.0, "reasons": {}})
        row["losses"] += 1
        row["lost_value"] += float(job.get("amount") or 0)
        reason = job.get("lost_reason") or "other"
        row["reasons"][reason] = row["reasons"].get(reason, 0) + 1
    rows = sorted(by.values(), key=lambda r: (r["competitor"] == COMPETITOR_UNKNOWN, -r["losses"], r["competitor"]))
    for r in rows:
        r["lost_value"] = round(r["lost_value"], 2)
        r["share"] = _rate(r["losses"], len(lost))
        r["reasons"] = dict(sorted(r["reasons"].items(), key=lambda kv: -kv[1]))
    bidding: dict[str, int] = defaultdict(int)
    for job in store.open_jobs():
        for name in job.get("competitors") or []:
            bidding[name] += 1
    return {
        "lost_jobs": len(lost),
        "competitors": rows,
        "bidding_on_open_jobs": dict(sorted(bidding.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


class CompetitorsInput(ToolInput):
    pass


@tool("read")
def competitor_report(store: Store, args: CompetitorsInput) -> dict[str, Any]:
    """Who we lose jobs to: each competitor with how many jobs they took, their value and the reasons
    (price, timing, scope...), lost jobs with no competitor recorded, and who is bidding on open jobs."""
    return competitors_data(store)
