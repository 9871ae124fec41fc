"""How the terminal shows things: a reply's blocks, an outcome, an action waiting for the owner."""

from __future__ import annotations

from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from backoffice.agent.gate.gate import Outcome
from backoffice.agent.gate.pending import Action
from backoffice.agent.orchestrator import Orchestrator
from backoffice.agent.reply import Reply
from backoffice.agent.untrusted import safe_line, safe_text


# ---------------------------------------------------------------------------- rendering
def render(reply: Reply, console: Console, start: int = 0) -> int:
    """Show blocks from ``start``; returns how many are shown now. Every piece of text passes
    ``safe_text`` (it may come from an email) and is never read as rich markup."""
    for block in reply.blocks[start:]:
        if block.kind == "text":
            console.print(Markdown(safe_text(block.text)))
        elif block.kind == "notice":
            console.print(Text(f"ⓘ {safe_text(block.text)}", style="yellow"))
        elif block.kind == "error":
            console.print(Text(f"✗ {safe_text(block.text)}", style="red"))
        else:
            table = Table(title=Text(safe_line(block.title or "")), title_justify="left")
            for column in block.columns:
                table.add_column(Text(safe_line(column)))
            for row in block.rows:
                table.add_row(*(Text(safe_text(cell)) for cell in row))
            console.print(table)
    return len(reply.blocks)


def show_outcome(outcome: Outcome, console: Console) -> None:
    colour = {"ok": "green", "already": "green", "error": "red", "declined": "yellow", "pending": "yellow"}
    console.print(Text(safe_text(outcome.message), style=colour[outcome.status]))


def planner_banner(orch: Orchestrator, offline_forced: bool) -> str:
    if orch.planner.name == "claude":
        model = getattr(orch.planner, "model", "")
        return f"Claude ({model}) is answering; if it cannot be reached the offline planner takes over."
    if offline_forced:
        return "Offline planner answering (--offline)."
    return "Offline planner answering (no ANTHROPIC_API_KEY set). Type help to see what it understands."


def action_panel(action: Action) -> Panel:
    """What the owner approves: the preview exactly, with any control character made visible."""
    return Panel(
        Text(safe_text(action.preview)),
        title=Text(safe_line(action.title), style="bold"),
        subtitle=Text(safe_line(action.id)),
        expand=False,
    )
