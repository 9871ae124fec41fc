"""The owner's voice: reading a line from a terminal or a pipe, and answering the gate's question.

Kept apart from the chat loop so that one-shot commands (``ask``, ``merge``, ``import``) can ask
without loading the loop's start-of-day machinery."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from rich.console import Console

from backoffice.agent.chat.screen import action_panel
from backoffice.agent.gate.gate import Decision
from backoffice.agent.gate.pending import Action
from backoffice.agent.planners.offline.understand import yes_no
from backoffice.tools.registry import Tool


class LineReader:
    """Owner input from a terminal (rich prompt) or a pipe (one line at a time, echoed)."""

    def __init__(self, stream: IO[str], console: Console):
        self.stream, self.console = stream, console
        self.interactive = stream.isatty()

    def read(self, prompt: str) -> str | None:
        if self.interactive:
            try:
                return self.console.input(prompt)
            except (EOFError, KeyboardInterrupt):
                self.console.print()
                return None
        line = self.stream.readline()
        if line == "":
            return None
        line = line.rstrip("\r\n")
        self.console.print(f"{prompt}{line}", markup=False, highlight=False)
        return line


class ChatApprover:
    """The owner answering the gate's question at the terminal."""

    def __init__(self, console: Console, reader: LineReader, before_asking: Callable[[], None] = lambda: None):
        self.console, self.reader, self.before_asking = console, reader, before_asking

    def decide(self, action: Action, tool: Tool) -> Decision:
        self.before_asking()
        self.console.print(action_panel(action))
        editable = tool.name == "send_message"
        question = "Send this? [yes/no/edit] " if editable else "Go ahead? [yes/no] "
        for _ in range(3):
            answer = self.reader.read(question)
            if answer is None:
                break
            verdict = yes_no(answer)
            if verdict is not None:
                return Decision("yes" if verdict else "no")
            if editable and answer.strip().lower() in {"edit", "e", "change", "edit it"}:
                revised = self._edit()
                if revised:
                    return Decision("edit", {**action.args, "body": revised})
                self.console.print("Nothing typed; the message is unchanged.")
                continue
            self.console.print("Please answer yes or no" + (", or edit to change the text." if editable else "."))
        return Decision("later")  # the gate says so, once: "Left for later as P-1 …"

    def _edit(self) -> str:
        self.console.print("Type the new message. Finish with a line holding only a dot (.)")
        lines: list[str] = []
        while (line := self.reader.read("")) is not None and line.strip() != ".":
            lines.append(line)
        return "\n".join(lines).strip() + "\n" if any(s.strip() for s in lines) else ""
