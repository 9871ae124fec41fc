"""The orchestrator: message or event in, reply out.

It routes by procedure triggers, builds the context the planner needs (business profile, today,
the routed procedure bodies), runs the planner with every tool call going through the gate, and
falls back to the offline planner — visibly — when Claude cannot be reached.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from backoffice.agent.events import EVENT_HANDLERS
from backoffice.agent.gate.gate import Approver, Gate
from backoffice.agent.gate.pending import PendingStore
from backoffice.agent.planners.base import Planner, Turn, business_profile
from backoffice.agent.planners.offline import OfflinePlanner, understanding_for
from backoffice.agent.procedure_check import load_checked
from backoffice.agent.procedures import Procedure, Route, route_event, route_message
from backoffice.agent.reply import Reply
from backoffice.tools.book.store import Store
from backoffice.tools.errors import BackofficeError, PlannerUnavailable

MAX_MESSAGE = 20_000  # characters in one owner message (a long pasted email fits)


@dataclass
class Orchestrator:
    store: Store
    planner: Planner
    fallback: Planner
    procedures: list[Procedure]
    problems: list[str]
    gate: Gate
    current: Reply = field(default_factory=Reply)

    def handle_message(self, text: str) -> Reply:
        if len(text) > MAX_MESSAGE:  # a paste gone wrong; every planner and pattern reads bounded text
            return Reply().error(
                f"That message is {len(text):,} characters long; messages of up to {MAX_MESSAGE:,} are read. "
                "Nothing was done. Say what you need in fewer words, or save a long email as .eml and use "
                "`backoffice inbound`."
            )
        route = route_message(self.procedures, text)
        turn = self._turn(route)
        planner = self.planner
        try:
            reply = planner.respond(text, turn)
        except PlannerUnavailable as exc:
            if planner is self.fallback:
                raise
            turn = self._turn(route)
            turn.reply.notice(f"Claude could not be reached ({exc}); the offline planner is answering.")
            reply = self.fallback.respond(text, turn)
        if not reply:
            reply.say("I have nothing to add to that. Type help to see what I can do.")
        return reply

    def awaiting_answer(self) -> bool:
        """The planner asked the owner something: the next line (even an empty one) answers it."""
        return getattr(self.planner, "waiting", None) is not None

    def _turn(self, route: Route) -> Turn:
        turn = Turn(self.store, self.gate, route, business_profile(self.store))
        self.current = turn.reply
        return turn

    def handle_event(self, event: str, payload: dict[str, Any]) -> Reply:
        """Events run the same deterministic flow whichever planner is configured; an email's text is
        only ever data here, never instructions."""
        route = route_event(self.procedures, event)
        handler = EVENT_HANDLERS.get(event)
        if handler is None or not route.procedures:
            return Reply("events").error(f"No procedure handles the event {event!r}.")
        try:
            return handler(self._turn(route), payload)
        except BackofficeError as exc:
            return Reply("events").error(str(exc))


def claude_configured(store: Store) -> bool:
    return store.services.anthropic is not None or bool(os.environ.get("ANTHROPIC_API_KEY"))


def build(
    store: Store,
    approver: Approver | None,
    origin: str = "chat",
    offline: bool = False,
    actor: str = "agent",
) -> Orchestrator:
    checked = load_checked(store.settings, store.directory)
    procedures, problems = checked.procedures, checked.problems
    guarded = {t for p in procedures for t in p.guarded_tools}
    gate = Gate(store, PendingStore(store.directory), approver, origin=origin, actor=actor, guarded=guarded)
    understanding = understanding_for(procedures)
    problems = problems + understanding.problems
    fallback = OfflinePlanner(understanding)
    planner: Planner = fallback
    if not offline and claude_configured(store):
        from backoffice.agent.planners.claude import ClaudePlanner  # the SDK takes a second to import: only for Claude

        planner = ClaudePlanner(client=store.services.anthropic)
    return Orchestrator(store, planner, fallback, procedures, problems, gate)
