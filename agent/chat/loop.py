"""The terminal chat: thin. It reads lines, hands them to the orchestrator, shows replies, and is
the owner's voice for confirmations (the gate asks through ``ChatApprover``).

Piped stdin works line by line: each line is an owner message, or the answer to the question
just asked (confirmations included). End of input is a clean exit."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import IO, Any

from rich.console import Console
from rich.text import Text

from backoffice.agent import views
from backoffice.agent.briefings.notifications import Notifications
from backoffice.agent.briefings.schedule import KINDS, run_due
from backoffice.agent.chat.prompts import ChatApprover, LineReader
from backoffice.agent.chat.screen import action_panel, planner_banner, render, show_outcome
from backoffice.agent.orchestrator import Orchestrator, build
from backoffice.agent.reply import Reply
from backoffice.agent.untrusted import safe_line
from backoffice.tools.book import clock, keeping
from backoffice.tools.book.store import Store
from backoffice.tools.errors import BackofficeError, StoreCorrupt

QUIT = {"quit", "exit", "bye", "q", ":q"}


STATE_FILE = "chat_state.json"
SEEN_KEPT = 50_000  # years of reports and emails


# ---------------------------------------------------------------------------- start of day
def _state(store: Store) -> dict[str, Any]:
    kept = keeping.slot(store.directory, "chat_state")  # chat_state.json, or its row in the office's database
    state = kept.load() or {}
    seen = state.get("seen_reports", []) if isinstance(state, dict) else None
    if not isinstance(seen, list) or not all(isinstance(s, str) for s in seen):
        raise StoreCorrupt(f"{kept.where}: seen_reports should be a list of report ids; it was left as it is.")
    return dict(state)


def show_reports(store: Store, console: Console) -> None:
    """What the daemon produced since the owner last looked, and today's digest if no daemon made it.
    Only the newest report of each kind is shown; older unseen ones are counted."""
    state = _state(store)
    seen = set(state.get("seen_reports") or [])
    run_due(store, origin="chat", early_digest=True)
    folder = Notifications(store.directory)
    unseen = folder.unseen(seen)
    for problem in folder.problems:
        console.print(f"[red]✗ {problem}[/red]", highlight=False)
    emails = [n for n in unseen if n.kind not in KINDS]
    reports = [n for n in unseen if n.kind in KINDS]
    newest = {n.kind: n for n in reports}  # files sort by day, so the last of a kind is its newest
    shown = emails[-10:] + sorted(newest.values(), key=lambda n: (n.day, KINDS.index(n.kind)))
    for note in shown:
        when = note.created_at[:16].replace("T", " ")
        if note.origin == "daemon":
            console.print(f"[dim]From the daemon, {when}:[/dim]", highlight=False)
        elif note.kind == "email":
            console.print(Text(safe_line(note.title), style="bold"), Text(when, style="dim"))
        render(note.reply(), console)
    if len(unseen) > len(shown):
        kept = "the book's database" if store.database_url else store.directory / "notifications"
        console.print(
            f"[dim]{len(unseen) - len(shown)} older item(s) you have not seen are in {kept}.[/dim]",
            highlight=False,
        )
    # every id seen is kept (a few a day), so an old one never comes back as new
    state["seen_reports"] = sorted(seen | {n.id for n in unseen})[-SEEN_KEPT:]
    chat_state = keeping.slot(store.directory, "chat_state")
    with chat_state.locked():
        chat_state.save(state)


def show_pending(orch: Orchestrator, console: Console) -> None:
    actions = orch.gate.pending.open()
    if not actions:
        return
    reply = Reply()
    views.pending_actions(reply, actions, "Waiting for your approval")
    reply.say('Say "approve P-1" or "reject P-1" (or use `backoffice approve ID`).')
    render(reply, console)


APPROVE = re.compile(r"^\s*(approve|reject)\s+(?:action\s+)?(p-?\d+|\d+)\s*$", re.I)


def owner_decision(orch: Orchestrator, console: Console, verb: str, ref: str) -> None:
    """'approve P-3' typed by the owner: this is the owner's answer, so it never goes to a planner."""
    action = orch.gate.pending.get(ref)
    outcome = orch.gate.execute(action.id, by="owner") if verb.lower() == "approve" else orch.gate.reject(action.id)
    if outcome.action is not None and outcome.status != "error":  # described from its tool, never stored text
        console.print(action_panel(outcome.action))
    show_outcome(outcome, console)


# ---------------------------------------------------------------------------- the loop
def take_line(orch: Orchestrator, console: Console, line: str, shown: dict[str, int]) -> Reply | None:
    """One owner line: an approve/reject decision, or a message to the planner with its reply shown
    (``shown`` counts what a confirmation panel already flushed). None when nothing was asked: an
    empty line with no question waiting, or a decision."""
    if not line.strip() and not orch.awaiting_answer():
        return None
    decision = APPROVE.match(line)
    if decision:
        owner_decision(orch, console, decision.group(1), decision.group(2))
        return None
    shown["n"] = 0
    reply = orch.handle_message(line)
    render(reply, console, shown["n"])
    return reply


def run_chat(store: Store, console: Console, stream: IO[str] | None = None, offline: bool = False) -> int:
    reader = LineReader(stream or sys.stdin, console)
    shown = {"n": 0}
    holder: dict[str, Orchestrator] = {}

    def flush() -> None:  # show what the planner has said so far before a confirmation panel
        shown["n"] = render(holder["orch"].current, console, shown["n"])

    orch = build(store, ChatApprover(console, reader, flush), origin="chat", offline=offline)
    holder["orch"] = orch
    console.print(
        f"[bold]{store.settings.business_name}[/bold] back office — {clock.today():%A %B} {clock.today().day}"
    )
    console.print(f"[dim]Book: {store.directory}[/dim]", highlight=False)
    console.print(planner_banner(orch, offline), highlight=False)
    for problem in orch.problems:
        console.print(f"[red]Procedure file problem:[/red] {problem}", highlight=False)
    openings: list[Callable[[], None]] = [lambda: show_pending(orch, console), lambda: show_reports(store, console)]
    for opening in openings:
        try:  # a damaged file is named, and the conversation still starts
            opening()
        except BackofficeError as exc:
            console.print(f"[red]✗ {exc}[/red]", highlight=False)
    while True:
        line = reader.read("you> ")
        if line is None or line.strip().lower() in QUIT:
            break
        try:
            take_line(orch, console, line, shown)
        except KeyboardInterrupt:
            console.print("(interrupted — nothing more will run for that message)")
        except BackofficeError as exc:  # e.g. an unknown action id: say so and keep the conversation going
            console.print(f"[red]✗ {exc}[/red]", highlight=False)
    console.print("Bye.")
    return 0
