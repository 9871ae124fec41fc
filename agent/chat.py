"""The terminal chat. For now the offline answers cover the read side of the core procedure
(pipeline, follow-ups, stale leads, newest customers, last touchpoint, finding people and leads);
the planners, the gate and the write requests arrive with the agent (issue 3)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from typing import IO

from rich.console import Console
from rich.table import Table

from tools.crm import FindContactsInput, find_contact_docs, resolve_contact
from tools.errors import BackofficeError
from tools.normalize import full_name
from tools.registry import get_tool
from tools.reports import follow_ups_due_rows, pipeline_data, stale_lead_rows
from tools.store import Store

HELP = """I can answer, offline:
  • what's our pipeline?            • what follow-ups are due today?
  • which leads have gone quiet?    • who are our newest customers?
  • how long since we talked to Dana?   • find Dana / find 555-201-7788
Adding and changing records by chat is not available yet; type quit to leave."""


def _money(value: float) -> str:
    return f"${value:,.0f}"


def show_pipeline(store: Store, console: Console) -> None:
    d = pipeline_data(store)
    console.print(f"[bold]Pipeline — {d['from']} to {d['to']}[/bold]")
    console.print(f"New leads this week: {d['new_leads']}")
    console.print(f"Leads in follow-up: {d['in_follow_up']} (avg age: {d['in_follow_up_avg_age_days']} days)")
    console.print(f"Proposals out: {d['proposals_out']} (total value: {_money(d['proposals_value'])})")
    console.print(f"Won this week: {d['won']} ({_money(d['won_value'])})")
    console.print(f"Lost this week: {d['lost']}")
    if d["oldest_open_lead"]:
        o = d["oldest_open_lead"]
        console.print(f"Oldest open lead: {o['title']} ({o['contact']}) — {o['age_days']} days, stage: {o['stage']}")
    for row in d["past_expected_close"]:
        console.print(f"Past expected close: {row['title']} ({row['contact']}), expected {row['expected_close_date']}")


def show_follow_ups(store: Store, console: Console) -> None:
    rows = follow_ups_due_rows(store)
    if not rows:
        console.print("No follow-ups due today.")
        return
    table = Table(title="Today's follow-ups")
    for col in ("who", "about", "due"):
        table.add_column(col)
    for r in rows:
        due = f"overdue {r['overdue_days']} d" if r["overdue_days"] else "today"
        table.add_row(r["name"] or "-", r["topic"], due)
    console.print(table)


def show_stale(store: Store, console: Console) -> None:
    rows = stale_lead_rows(store)
    if not rows:
        console.print("Every open lead has had activity in the last few business days.")
    for r in rows:
        console.print(
            f"Heads up: the {r['title']} lead from {r['contact']} has had no activity in "
            f"{r['days_since_activity']} days. Last touchpoint: {r['last_touchpoint']}"
        )


def show_newest(store: Store, console: Console) -> None:
    tool = get_tool("newest_customers")
    rows = tool.func(store, tool.parse({}))["customers"]
    if not rows:
        console.print("No customers yet — a contact becomes a customer when a job is won.")
    for r in rows:
        console.print(f"{r['name']} ({r['contact_id']}), customer since {r['since']}")


def show_last_touch(store: Store, console: Console, who: str) -> None:
    contact = resolve_contact(store, who)
    tool = get_tool("last_touchpoint")
    console.print(tool.func(store, tool.parse({"contact_id": contact["contact_id"]}))["message"])


def show_find(store: Store, console: Console, what: str) -> None:
    matches = find_contact_docs(store, FindContactsInput(query=what))
    if not matches:
        console.print(f"No contact matches {what!r}.")
    for doc, why in matches:
        console.print(f"{full_name(doc)} ({doc['contact_id']}) — {why}")


INTENTS: list[tuple[re.Pattern[str], Callable[..., None]]] = [
    (re.compile(r"\bpipeline\b"), show_pipeline),
    (re.compile(r"\bfollow[- ]?ups?\b|\bdue\b|\bto ?do\b"), show_follow_ups),
    (re.compile(r"\bstale\b|\bquiet\b|\bgone cold\b|\bneglected\b"), show_stale),
    (re.compile(r"\bnewest customers?\b|\bnew customers\b|\blatest customers\b"), show_newest),
    (
        re.compile(
            r"(?:how long since|when did) we (?:last )?(?:talk(?:ed)?|spoke|spoken) (?:to|with) (?P<who>.+?)\??$"
        ),
        show_last_touch,
    ),
    (re.compile(r"^(?:find|look up|search(?: for)?)\s+(?P<what>.+)$"), show_find),
]


def answer(store: Store, console: Console, line: str) -> None:
    text = line.strip().lower()
    for pattern, handler in INTENTS:
        match = pattern.search(text)
        if match:
            try:
                handler(
                    store,
                    console,
                    **{k: line.strip()[match.start(k) : match.end(k)].strip(" ?.") for k in match.groupdict()},
                )
            except BackofficeError as exc:
                console.print(str(exc))
            return
    console.print("I didn't catch that.\n" + HELP)


def _lines(stream: IO[str], console: Console) -> Iterator[str]:
    interactive = stream.isatty()
    while True:
        try:
            line = console.input("[bold]you> [/bold]") if interactive else stream.readline()
        except (EOFError, KeyboardInterrupt):
            return
        if not interactive and line == "":
            return
        yield line


def run_chat(store: Store, console: Console, stream: IO[str] | None = None) -> int:
    stream = stream or sys.stdin
    console.print(
        f"[bold]{store.settings.business_name}[/bold] back office — offline planner answering (no Claude configured)."
    )
    console.print(HELP)
    for line in _lines(stream, console):
        if line.strip().lower() in {"quit", "exit", "bye", "q"}:
            break
        if line.strip():
            answer(store, console, line)
    console.print("Bye.")
    return 0
