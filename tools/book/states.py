"""The state machines for leads and opportunities. Every status/stage change is checked here."""

from __future__ import annotations

from backoffice.tools.errors import IllegalTransition

LEAD_TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"working", "qualified", "disqualified"}),
    "working": frozenset({"qualified", "disqualified"}),
    "qualified": frozenset({"working", "converted", "disqualified"}),
    "disqualified": frozenset(),  # final: the record stays as history
    "converted": frozenset(),  # final: the opportunity carries on
}

OPPORTUNITY_TRANSITIONS: dict[str, frozenset[str]] = {
    "estimating": frozenset({"scheduled", "proposal_sent", "won", "lost"}),
    "scheduled": frozenset({"estimating", "proposal_sent", "won", "lost"}),
    "proposal_sent": frozenset({"estimating", "scheduled", "won", "lost"}),
    "won": frozenset(),
    "lost": frozenset(),
}

_MACHINES = {"lead": LEAD_TRANSITIONS, "opportunity": OPPORTUNITY_TRANSITIONS}


def allowed(kind: str, current: str) -> frozenset[str]:
    return _MACHINES[kind].get(current, frozenset())


def check(kind: str, record_id: str, current: str, target: str) -> None:
    """Raise IllegalTransition unless ``current -> target`` is allowed. Staying in the same open
    state is allowed; a final state refuses everything, itself included (no re-disqualifying)."""
    machine = _MACHINES[kind]
    if current == target and machine.get(current):
        return
    if target not in machine:
        raise IllegalTransition(f"{target!r} is not a {kind} state; states are: {', '.join(machine)}.")
    nexts = machine.get(current, frozenset())
    if target in nexts:
        return
    if not nexts:
        change = f"be {target} again" if current == target else f"become {target}"
        raise IllegalTransition(
            f"{kind.capitalize()} {record_id} is {current}, which is final: it cannot {change}. "
            "The record stays as history."
        )
    raise IllegalTransition(
        f"{kind.capitalize()} {record_id} is {current}; it cannot go straight to {target}. "
        f"From {current} it can become: {', '.join(sorted(nexts))}."
    )
