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

        def who(doc: Doc) -> str:
            c = store.get("contacts", doc["contact_id"]) if doc.get("contact_id") else None
            return full_name(c) if c else "unknown"

        for lead in store.scan("leads"):
            created = local_date(store, lead["created_at"])
            if start <= created <= end:
                new_leads += 1
            if lead["status"] == "disqualified" and start <= local_date(store, lead["updated_at"]) <= end:
                disqualified += 1
            if lead["status"] not in OPEN_LEAD_STATUSES:
                continue
            age = (end - created).days
            open_ages.append(age)
            if lead["pipeline_stage"] in ESTIMATE_OUT_STAGES:
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
                "age_days": (end - local_date(store, oldest["created_at"])).days,
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
