"""The pipeline summary: the Monday report, and the answer to "what's our pipeline?"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from backoffice.tools.book.models import OPEN_LEAD_STATUSES
from backoffice.tools.book.normalize import full_name
from backoffice.tools.book.states import ESTIMATE_OUT_STAGES
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.registry import ToolInput, tool
from backoffice.tools.reports.activity import local_date


# ---------------------------------------------------------------------------- pipeline
class PipelineInput(ToolInput):
    as_of: dt.date | None = Field(
        default=None, description="the report covers the 7 days up to this day; default today"
    )


SHOWN = 10  # past-due rows drawn in the report; the data of --json / --all lists every one


def pipeline_data(store: Store, as_of: dt.date | None = None, limit: int | None = SHOWN) -> Doc:
    """Numbers for the pipeline summary. "This week" is the seven days ending on ``as_of``, so the
    Monday-morning report covers the week just finished. Leads and jobs past their expected close
    date are listed longest overdue first, ``limit`` of them (None: all), and counted."""
    end = as_of or store.today()
    start = end - dt.timedelta(days=6)
    day = end.isoformat()
    lo, hi = start.isoformat(), end.isoformat()
    new_leads = disqualified = lost = 0
    open_ages: list[int] = []
    proposals: list[float] = []
    won: list[float] = []
    oldest: dict[str, Any] | None = None
    past_due: list[dict[str, Any]] = []
    with store.reading():
        leads = store.fields(
            "leads", ["created_at", "updated_at", "status", "pipeline_stage", "estimated_value", "expected_close_date"]
        )
        jobs = store.fields("opportunities", ["stage", "close_date", "amount", "expected_close_date"])
        for lead in leads:
            created = local_date(store, lead["created_at"])
            if start <= created <= end:
                new_leads += 1
            if lead["status"] == "disqualified" and start <= local_date(store, lead["updated_at"]) <= end:
                disqualified += 1
            if lead["status"] not in OPEN_LEAD_STATUSES:
                continue
            open_ages.append((end - created).days)
            if lead["pipeline_stage"] in ESTIMATE_OUT_STAGES:
                proposals.append(float(lead["estimated_value"] or 0))
            if oldest is None or lead["created_at"] < oldest["created_at"]:
                oldest = lead
            if lead["expected_close_date"] and lead["expected_close_date"] < day:
                past_due.append(lead)
        for job in jobs:
            closed = job["close_date"]
            if job["stage"] == "won" and closed and lo <= closed <= hi:
                won.append(float(job["amount"] or 0))
            elif job["stage"] == "lost" and closed and lo <= closed <= hi:
                lost += 1
            elif job["stage"] == "proposal_sent":
                proposals.append(float(job["amount"] or 0))
            if job["stage"] not in ("won", "lost") and job["expected_close_date"] and job["expected_close_date"] < day:
                past_due.append(job)
        past_due.sort(key=lambda r: (r["expected_close_date"], r["id"]))
        shown = past_due if limit is None else past_due[:limit]
        records = {
            **store.many("leads", [r["id"] for r in shown if r["id"].startswith("L-")]),
            **store.many("opportunities", [r["id"] for r in shown if r["id"].startswith("O-")]),
        }
        if oldest is not None:
            records.update(store.many("leads", [oldest["id"]]))
        contacts = store.many("contacts", [d["contact_id"] for d in records.values() if d.get("contact_id")])

    def who(doc: Doc) -> str:
        contact = contacts.get(doc.get("contact_id") or "")
        return full_name(contact) if contact else "unknown"

    oldest_row = None
    if oldest is not None:
        lead = records[oldest["id"]]
        oldest_row = {
            "lead_id": lead["lead_id"],
            "title": lead["title"],
            "contact": who(lead),
            "age_days": (end - local_date(store, lead["created_at"])).days,
            "stage": lead["pipeline_stage"],
        }
    return {
        "from": lo,
        "to": hi,
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
        "past_expected_close": [
            {
                "id": r["id"],
                "title": records[r["id"]].get("title") or records[r["id"]].get("name"),
                "contact": who(records[r["id"]]),
                "expected_close_date": r["expected_close_date"],
            }
            for r in shown
        ],
        "past_expected_close_total": len(past_due),
        **_weighted(store, jobs, end),
    }


VELOCITY_DAYS = 90  # velocity is measured on the jobs' moves of the last 90 days


def _weighted(store: Store, jobs: list[dict[str, Any]], end: dt.date) -> dict[str, Any]:
    """The open jobs' value weighted by their stage's chance of winning (the playbook's probabilities),
    and velocity: average days a job spent at each stage it left, and days from job to win, over the
    last ``VELOCITY_DAYS`` days."""
    from backoffice.tools.reports.measure import stage_days

    stages = store.playbook.stages
    open_jobs = [j for j in jobs if j["stage"] not in ("won", "lost")]
    weighted = sum(float(j["amount"] or 0) * stages.job_probability(j["stage"]) for j in open_jobs)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), store.tz)
    events = store.events_between(until - dt.timedelta(days=VELOCITY_DAYS + 1), until, "O-")
    per_stage, cycles = stage_days(store, events, until)
    return {
        "open_jobs_value": round(sum(float(j["amount"] or 0) for j in open_jobs), 2),
        "weighted_pipeline_value": round(weighted, 2),
        "velocity": {"days_per_stage": per_stage, "cycle_days": round(sum(cycles) / len(cycles), 1) if cycles else None,
                     "window_days": VELOCITY_DAYS},  # fmt: skip
    }


@tool("read")
def pipeline_summary(store: Store, args: PipelineInput) -> dict[str, Any]:
    """The pipeline for the last 7 days: new leads, open leads in follow-up and their average age,
    proposals out and their value, won and lost, the oldest open lead, and anything past its expected close date."""
    return pipeline_data(store, args.as_of)
