"""What a procedure file names must exist in the code: the tools it lists or guards, a handler for
each event it declares, and the reports on its schedule (``briefings.schedule.schedule_of``).

``load_procedures`` checks a file's shape; this checks what it refers to, once, at start-up, for
the chat, the daemon and ``doctor`` alike. Each check returns problems as values (``file:line:
...``). An item that fails is left out and the rest keeps working: an unknown tool is never offered,
an event without a handler is never routed, a schedule entry that is not understood is not set.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path

from backoffice.agent.briefings.schedule import Scheduled, schedule_of
from backoffice.agent.events import EVENT_HANDLERS
from backoffice.agent.procedures import Procedure, Where, load_procedures, procedure_dirs
from backoffice.tools.book.settings import Settings
from backoffice.tools.catalog import all_tools


@dataclass(frozen=True)
class Checked:
    procedures: list[Procedure]
    schedule: list[Scheduled]
    problems: list[str]


def load_checked(settings: Settings, directory: Path | None = None) -> Checked:
    """The shipped procedures and the owner's in ``<directory>/procedures``, with every problem."""
    procedures, problems = load_procedures(procedure_dirs(directory))
    for proc in procedures:
        problems += reference_problems(proc)
    schedule, schedule_problems = schedule_of(procedures, settings)
    return Checked(procedures, schedule, problems + schedule_problems)


def reference_problems(proc: Procedure) -> list[str]:
    """Tools that are not in the catalog and events that no handler answers."""
    tools = sorted(all_tools())
    named: list[tuple[Where, str]] = [(("tools", i), name) for i, name in enumerate(proc.tools or ())]
    for s, stop in enumerate(proc.hard_stops):
        named += [(("hard_stops", s, "tools", i), name) for i, name in enumerate(stop.tools)]
    problems = []
    for where, name in named:
        if name not in tools:
            problems.append(proc.problem(where, f"there is no tool {name!r}{_guess(name, tools)}"))
    events = sorted(EVENT_HANDLERS)
    for i, event in enumerate(proc.events):
        if event not in EVENT_HANDLERS:
            message = f"no handler for the event {event!r}{_guess(event, events)}; the events sent are "
            problems.append(proc.problem(("triggers", "events", i), message + ", ".join(events)))
    return problems


def _guess(name: str, choices: list[str]) -> str:
    close = get_close_matches(name, choices, 1)
    return f" (did you mean {close[0]!r}?)" if close else ""
