"""What a planner is given and what it promises, in a module of its own so that the orchestrator and
the planners both depend on it and never on each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from backoffice.agent.gate.gate import Gate
from backoffice.agent.procedures import Route
from backoffice.agent.reply import Reply
from backoffice.tools.book.store import Store


class Planner(Protocol):
    name: str

    def respond(self, text: str, turn: Turn) -> Reply: ...


@dataclass
class Turn:
    """Everything a planner may use for one message."""

    store: Store
    gate: Gate
    route: Route
    profile: str
    reply: Reply = field(default_factory=Reply)  # the planner writes here; the chat may show it while it grows

    def system_text(self) -> str:
        business = self.store.settings.business_name
        bodies = [p.body.replace("{business}", business) for p in self.route.procedures]
        return "\n\n---\n\n".join(bodies)


def business_profile(store: Store) -> str:
    s = store.settings
    today = store.today()
    return (
        f"Business: {s.business_name}. Owner: {s.owner_name}. Time zone: {s.timezone}. "
        f"Today is {today:%A} {today.isoformat()}. Business days: {', '.join(s.business_days)}. "
        f"Auto-send for follow-ups is {'on' if s.auto_send_follow_ups else 'off'}."
    )
