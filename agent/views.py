"""Views shared by the chat's opening screen, the offline planner and the commands. Each adds
blocks to a ``Reply``, so every place shows the same rows the same way."""

from __future__ import annotations

from typing import Any

from backoffice.agent.gate.pending import Action
from backoffice.agent.reply import Reply


def follow_ups(reply: Reply, rows: list[dict[str, Any]]) -> None:
    table = [
        [
            r["name"] or "-",
            r["topic"],
            f"overdue {r['overdue_days']} d" if r["overdue_days"] else "today",
            r["interaction_id"],
        ]
        for r in rows
    ]
    reply.table("Today's follow-ups", ["who", "about", "due", "id"], table)


def stale_leads(reply: Reply, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        reply.say(
            f"Heads up: the **{r['title']}** lead from {r['contact']} ({r['lead_id']}) has had no activity in "
            f"{r['days_since_activity']} days. Last touchpoint: {r['last_touchpoint']}"
        )


def pending_actions(reply: Reply, actions: list[Action], title: str, with_status: bool = False) -> None:
    columns = ["id", *(["status"] if with_status else []), "what", "from", "since"]
    rows = [
        [a.id, *([a.status] if with_status else []), a.title, a.origin, a.created_at[:16].replace("T", " ")]
        for a in actions
    ]
    reply.table(title, columns, rows)
