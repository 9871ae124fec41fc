"""The monthly win/loss summary."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from backoffice.tools.book.models import OPEN_LEAD_STATUSES
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.registry import ToolInput, tool
from backoffice.tools.reports.activity import local_date

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
    competitors: dict[str, int] = {}
    disqualified_reasons: dict[str, int] = {}
    days_to_close: list[int] = []
    sources: dict[str, dict[str, int]] = {}
    new_leads = still_open = converted = 0

    def source_row(name: str) -> dict[str, int]:
        return sources.setdefault(name, {"leads": 0, "won": 0})

    with store.reading():
        for lead in store.scan("leads"):
            created = local_date(store, lead["created_at"])
            if first <= created <= last:
                new_leads += 1
                source_row(lead["source"])["leads"] += 1
                if lead["status"] in OPEN_LEAD_STATUSES:
                    still_open += 1
            if lead["status"] == "disqualified" and first <= local_date(store, lead["updated_at"]) <= last:
                reason = lead.get("disqualification_reason") or "other"
                disqualified_reasons[reason] = disqualified_reasons.get(reason, 0) + 1
        for opp in store.scan("opportunities"):
            if opp.get("lead_id") and first <= local_date(store, opp["created_at"]) <= last:
                converted += 1
            closed = opp.get("close_date")
            if opp["stage"] not in ("won", "lost") or not closed or not lo <= closed <= hi:
                continue
            from_lead = store.get("leads", opp["lead_id"]) if opp.get("lead_id") else None
            if opp["stage"] == "lost":
                lost.append(float(opp.get("amount") or 0))
                reason = opp.get("lost_reason") or "other"
                loss_reasons[reason] = loss_reasons.get(reason, 0) + 1
                if opp.get("competitor"):
                    competitors[opp["competitor"]] = competitors.get(opp["competitor"], 0) + 1
                continue
            won.append(float(opp.get("amount") or 0))
            began = local_date(store, (from_lead or opp)["created_at"])
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
        "lost_to": dict(sorted(competitors.items(), key=lambda kv: (-kv[1], kv[0]))),
        "disqualification_reasons": dict(sorted(disqualified_reasons.items(), key=lambda kv: -kv[1])),
    }


class WinLossInput(ToolInput):
    month: str | None = Field(default=None, pattern=f"^{MONTH}$", description="YYYY-MM; default last month")


@tool("read")
def winloss_summary(store: Store, args: WinLossInput) -> dict[str, Any]:
    """The win/loss summary of a month: outcomes (won, lost, disqualified), win rate, top sources,
    average days from first inquiry to a won job, loss reasons and the competitors jobs were lost to."""
    return winloss_data(store, args.month)
