"""How the terminal shows things: a reply's blocks, an outcome, an action waiting for the owner."""

from __future__ import annotations

from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table

from backoffice.agent.gate.gate import Outcome
from backoffice.agent.gate.pending import Action
from backoffice.agent.orchestrator import Orchestrator
from backoffice.agent.reply import Reply


# ---------------------------------------------------------------------------- rendering
def render(reply: Reply, console: Console, start: int = 0) -> int:
    """Show blocks from ``start``; returns how many are shown now."""
    for block in reply.blocks[start:]:
        if block.kind == "text":
            console.print(Markdown(block.text))
        elif block.kind == "notice":
            console.print(f"[yellow]ⓘ {block.text}[/yellow]", highlight=False)
        elif block.kind == "error":
            console.print(f"[red]✗ {block.text}[/red]", highlight=False)
        else:
            table = Table(title=block.title, title_justify="left")
            for column in block.columns:
                table.add_column(column)
            for row in block.rows:
                table.add_row(*row)
            console.print(table)
    return len(reply.blocks)


def show_outcome(outcome: Outcome, console: Console) -> None:
    colour = {"ok": "green", "already": "green", "error": "red", "declined": "yellow", "pending": "yellow"}
    console.print(f"[{colour[outcome.status]}]{outcome.message}[/]", highlight=False)


def planner_banner(orch: Orchestrator, offline_forced: bool) -> str:
    if orch.planner.name == "claude":
        model = getattr(orch.planner, "model", "")
        return f"Claude ({model}) is answering; if it cannot be reached the offline planner takes over."
    if offline_forced:
        return "Offline planner answering (--offline)."
    return "Offline planner answering (no ANTHROPIC_API_KEY set). Type help to see what it understands."


def action_panel(action: Action) -> Panel:
    return Panel(action.preview, title=f"[bold]{action.title}[/bold]", subtitle=action.id, expand=False)
