"""The state machines for leads and opportunities, and the one rule for moves the book makes by
itself. Every status/stage change is checked here.

Two kinds of change:
- the owner's own (``update_lead``, ``update_opportunity``, ``disqualify_lead``...): any move the
  machine allows, backward included: the owner may correct a stage that was wrong;
- the book's automatic ones (qualifying, converting, logging a sent proposal, a call on a new lead):
  these only ever move forward (``forward``). A lead whose estimate is out stays estimate_sent when
  it is qualified; a job converted from it starts at proposal_sent.
"""

from __future__ import annotations

from collections.abc import Callable

from backoffice.tools.errors import IllegalTransition

LEAD_TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"working", "qualified", "disqualified"}),
    "working": frozenset({"qualified", "disqualified"}),
    "qualified": frozenset({"working", "converted", "disqualified"}),
    "disqualified": frozenset(),  # final: the record stays as history
    "converted": frozenset(),  # final: the opportunity carries on
}

# The default stages. A job at any stage of the owner's playbook moves like these: to any other
# open stage (the owner's move, if the stage's gate is met), or to won or lost, which are final.
OPPORTUNITY_TRANSITIONS: dict[str, frozenset[str]] = {
    "estimating": frozenset({"scheduled", "proposal_sent", "won", "lost"}),
    "scheduled": frozenset({"estimating", "proposal_sent", "won", "lost"}),
    "proposal_sent": frozenset({"estimating", "scheduled", "won", "lost"}),
    "won": frozenset(),
    "lost": frozenset(),
}

_MACHINES = {"lead": LEAD_TRANSITIONS, "opportunity": OPPORTUNITY_TRANSITIONS}

# How far along each value is. Values of equal rank are side by side: neither is ahead of the other.
PROGRESS: dict[str, dict[str, int]] = {
    "lead_status": {"new": 0, "working": 1, "qualified": 2, "converted": 3, "disqualified": 3},
    # a lead's conversation: first contact, understanding the job, a visit to look at it, a price
    # out, chasing that price
    "lead_stage": {"inquiry": 0, "needs_analysis": 1, "scheduled_visit": 2, "estimate_sent": 3, "follow_up": 4},
    # a job is priced (estimating) or visited first (scheduled), then proposed, then decided
    "opportunity_stage": {"estimating": 0, "scheduled": 0, "proposal_sent": 1, "won": 2, "lost": 2},
}

# lead stages that mean a price is with the customer: "Proposals out" counts them, a follow-up asks
# about the estimate, and a job converted from such a lead starts at proposal_sent
ESTIMATE_OUT_STAGES = ("estimate_sent", "follow_up")


def allowed(kind: str, current: str) -> frozenset[str]:
    return _MACHINES[kind].get(current, frozenset())


def check(kind: str, record_id: str, current: str, target: str) -> None:
    """Raise IllegalTransition unless ``current -> target`` is allowed. Staying in the same open
    state is allowed; a final state refuses everything, itself included (no re-disqualifying)."""
    machine = _MACHINES[kind]
    if kind == "opportunity":
        machine = _job_machine(current, target)
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


def _job_machine(*stages: str) -> dict[str, frozenset[str]]:
    """The job machine over the default stages and any stage of the owner's among ``stages``."""
    final = {"won", "lost"}
    open_stages = set(OPPORTUNITY_TRANSITIONS) - final | {s for s in stages if s and s not in final}
    machine = {s: frozenset((open_stages - {s}) | final) for s in open_stages}
    return {**machine, "won": frozenset(), "lost": frozenset()}


def forward(scale: str, current: str | None, target: str, rank: Callable[[str], float] | None = None) -> str:
    """Where an automatic move from ``current`` towards ``target`` lands: ``target`` when it is
    further along ``scale`` (a key of PROGRESS), else ``current``. A value side by side with the
    current one is not progress either: the book does not swap what it knows for something else.
    ``rank`` places stages PROGRESS does not know (the owner's own job stages, from the playbook)."""
    ranks = PROGRESS[scale]
    if current is None:
        return target
    if rank is not None:
        return target if rank(target) > rank(current) else current
    if current not in ranks:
        return target
    return target if ranks[target] > ranks[current] else current
