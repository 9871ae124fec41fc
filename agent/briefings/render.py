"""How each scheduled report reads: the data of a report turned into the blocks the chat shows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from backoffice.agent import views
from backoffice.agent.reply import Reply
from backoffice.tools.book.normalize import money


# ---------------------------------------------------------------------------- rendering
def digest_title(day: dt.date) -> str:
    return f"Morning digest — {day:%A %B} {day.day}"


def digest_reply(d: dict[str, Any]) -> Reply:
    day = dt.date.fromisoformat(d["date"])
    reply = Reply(planner="reports").say(f"**{digest_title(day)}**")
    if d["follow_ups"]:
        views.follow_ups(reply, d["follow_ups"], d.get("follow_ups_total"))
    if d["stale_leads"]:
        views.stale_leads(
            reply, d["stale_leads"], d.get("stale_total"), d.get("open_leads", 0), d.get("quiet_after", 3)
        )
        first = d["stale_leads"][0]["lead_id"]
        reply.say(f'Want me to draft a follow-up? Say "follow up on {first}" (nothing is sent without your yes).')
    if not d["follow_ups"] and not d["stale_leads"]:
        reply.say(f"Nothing due on {day:%A}, and every open lead has had recent activity.")
    return reply


def pipeline_reply(d: dict[str, Any]) -> Reply:
    reply = Reply(planner="reports")
    lines = [
        f"**Pipeline — {d['to']}** (the 7 days from {d['from']})",
        f"- New leads this week: {d['new_leads']}",
        f"- Leads in follow-up: {d['in_follow_up']} (avg age: {d['in_follow_up_avg_age_days']} days)",
        f"- Proposals out: {d['proposals_out']} (total value: {money(d['proposals_value'])})",
        f"- Won this week: {d['won']} ({money(d['won_value'])})",
        f"- Lost this week: {d['lost']}",
    ]
    if "weighted_pipeline_value" in d:
        lines.append(f"- Open jobs: {money(d['open_jobs_value'])}, weighted by stage: "
                     f"{money(d['weighted_pipeline_value'])}")  # fmt: skip
        v = d["velocity"]
        stages = [f"{s.replace('_', ' ')} {days:g} d" for s, days in v["days_per_stage"].items() if days is not None]
        if stages or v["cycle_days"] is not None:
            cycle = f"; job to win {v['cycle_days']:g} d" if v["cycle_days"] is not None else ""
            lines.append(f"- Velocity (last {v['window_days']} days): " + (", ".join(stages) or "no moves") + cycle)
    if d["oldest_open_lead"]:
        o = d["oldest_open_lead"]
        lines.append(f"\nOldest open lead: {o['title']} ({o['contact']}) — {o['age_days']} days, stage: {o['stage']}")
    reply.say("\n".join(lines))
    if d["past_expected_close"]:
        rows = [[r["title"], r["contact"], r["expected_close_date"], r["id"]] for r in d["past_expected_close"]]
        reply.table("Past their expected close date", ["lead or job", "contact", "expected", "id"], rows)
        more = d.get("past_expected_close_total", len(rows)) - len(rows)
        if more > 0:
            reply.say(f"… and {more:,} more past their expected close date. Every one: `backoffice pipeline --all`.")
    return reply


def winloss_reply(d: dict[str, Any]) -> Reply:
    reply = Reply(planner="reports")
    month = dt.date.fromisoformat(d["from"])
    rate = f"{d['win_rate']:.0%}" if d["win_rate"] is not None else "no jobs decided"
    days = f"{d['avg_days_to_close']:g} days" if d["avg_days_to_close"] is not None else "no jobs won"
    lines = [
        f"**Win/loss — {month:%B %Y}**",
        f"- Won: {d['won']} ({money(d['won_value'])}) · Lost: {d['lost']} ({money(d['lost_value'])}) "
        f"· Win rate: {rate}",
        f"- Leads disqualified: {d['disqualified']}",
        f"- New leads: {d['new_leads']} ({d['new_leads_still_open']} still open) · "
        f"turned into jobs this month: {d['converted_to_jobs']}",
        f"- Average time from first inquiry to a won job: {days}",
    ]
    reasons = (("Why jobs were lost", "loss_reasons"), ("Why leads were disqualified", "disqualification_reasons"))
    for label, key in reasons:
        if d[key]:
            lines.append(f"- {label}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in d[key].items()))
    if d.get("lost_to"):
        lines.append("- Lost to: " + ", ".join(f"{name} {n}" for name, n in d["lost_to"].items()))
    reply.say("\n".join(lines))
    if d["top_sources"]:
        rows = [[s["source"].replace("_", " "), s["leads"], s["won"]] for s in d["top_sources"]]
        reply.table("Top sources", ["source", "new leads", "jobs won"], rows)
    return reply
