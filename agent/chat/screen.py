"""How the terminal shows things: a reply's blocks, an outcome, an action waiting for the owner."""

from __future__ import annotations

import re

from rich.console import Console, RenderableType
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
            console.print(markdown(safe_text(block.text)))
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


# What the offline planner and the reports write: bold, code, bullets, quotes, headings. Anything
# richer (a table, fenced code, a link: Claude may write them) goes to rich's full Markdown, which
# takes a tenth of a second to import and is loaded only then.
_RICH_MARKDOWN = re.compile(r"^\s*\|.*\||^\s*```|\]\(|^\s*[-*_]{3,}\s*$", re.M)
_INLINE = re.compile(r"\*\*(.+?)\*\*|`([^`]+)`")


def markdown(text: str) -> RenderableType:
    """A text block as the terminal shows it: line breaks kept, light markdown styled."""
    if _RICH_MARKDOWN.search(text):
        from rich.markdown import Markdown

        return Markdown(text)
    out = Text()
    for n, line in enumerate(text.split("\n")):
        if n:
            out.append("\n")
        stripped = line.lstrip()
        if stripped.startswith(("- ", "* ")):
            out.append(line[: len(line) - len(stripped)] + " • ")
            line = stripped[2:]
        elif stripped.startswith(">"):
            out.append("▌ " + stripped.lstrip("> "), style="dim italic")
            continue
        elif stripped.startswith("#"):
            out.append(stripped.lstrip("# "), style="bold")
            continue
        _inline(out, line)
    return out


def _inline(out: Text, line: str) -> None:
    at = 0
    for m in _INLINE.finditer(line):
        out.append(line[at : m.start()])
        if m.group(1) is not None:
            out.append(m.group(1), style="bold")
        else:
            out.append(m.group(2), style="bold cyan")
        at = m.end()
    out.append(line[at:])


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
