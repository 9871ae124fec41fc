"""Views shared by the chat's opening screen, the offline planner and the commands. Each adds
blocks to a ``Reply``, so every place shows the same rows the same way."""

from __future__ import annotations

import datetime as dt
from typing import Any

from backoffice.agent.gate.pending import Action
from backoffice.agent.reply import Reply

HEADS_UP_SHOWN = 3  # quiet leads told as a sentence each; the next ones go in a table


def follow_ups(
    reply: Reply, rows: list[dict[str, Any]], total: int | None = None, today: dt.date | None = None
) -> None:
    """Due follow-ups, the longest overdue first; when ``total`` says there are more than the rows
    given, a count and how to see them all. With ``today`` (a date), rows due later are listed too,
    each with its day, and overdue is counted from today."""

    def late(r: dict[str, Any]) -> int:
        return int(r["overdue_days"]) if today is None else (today - dt.date.fromisoformat(r["due"])).days

    def due(r: dict[str, Any]) -> str:
        days = late(r)
        return (
            f"overdue {days} d"
            if days > 0
            else "today"
            if days == 0
            else f"{dt.date.fromisoformat(r['due']):%a %b %-d}"
        )

    rows = sorted(rows, key=lambda r: (-late(r), r["interaction_id"]))
    table = [[r["name"] or "-", r["topic"], due(r), r["interaction_id"]] for r in rows]
    ahead = any(late(r) < 0 for r in rows)
    reply.table("Follow-ups due" if ahead else "Today's follow-ups", ["who", "about", "due", "id"], table)
    if total is not None and total > len(rows):
        reply.say(f"… and {total - len(rows):,} more follow-ups due. Every one: `backoffice digest --all`.")


def _class_mark(row: dict[str, Any]) -> str:
    return f"{row['effort_class']} " if row.get("effort_class") else ""


def stale_leads(
    reply: Reply,
    rows: list[dict[str, Any]],
    total: int | None = None,
    open_leads: int = 0,
    quiet_after: int = 3,
    heads_up: int = HEADS_UP_SHOWN,
) -> None:
    """Quiet leads: the first few as the procedure's heads-up, the next in a table, then the count
    of the rest. Very many quiet leads is a finding about the business, said in one line."""
    total = len(rows) if total is None else total
    if open_leads and total >= 20 and total * 4 >= open_leads:
        reply.say(
            f"**{total:,} of your {open_leads:,} open leads** have had no activity for {quiet_after} business days "
            "or more: more than a quarter of the pipeline. That is a list to clear (disqualify what is dead, "
            'say "no response") more than a list to chase one by one. The longest silent come first.'
        )
    for r in rows[:heads_up]:
        reply.say(
            f"Heads up: the {_class_mark(r)}**{r['title']}** lead from {r['contact']} ({r['lead_id']}) has had no "
            f"activity in {r['days_since_activity']} days. Last touchpoint: {r['last_touchpoint']}"
        )
    rest = rows[heads_up:]
    if rest:
        reply.table(
            "Also gone quiet",
            ["lead", "who", "quiet", "last touchpoint", "id"],
            [
                [r["title"], r["contact"], f"{r['days_since_activity']} d", r["last_touchpoint"], r["lead_id"]]
                for r in rest
            ],
        )
    if total > len(rows):
        reply.say(f"… and {total - len(rows):,} more quiet leads. Every one: `backoffice digest --all` (or --json).")


def pending_actions(reply: Reply, actions: list[Action], title: str, with_status: bool = False) -> None:
    columns = ["id", *(["status"] if with_status else []), "what", "from", "since"]
    rows = [
        [a.id, *([a.shown_status] if with_status else []), a.title, a.origin, a.created_at[:16].replace("T", " ")]
        for a in actions
    ]
    reply.table(title, columns, rows)
