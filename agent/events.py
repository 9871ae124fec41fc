"""Event flows that run the same way whichever planner is configured.

``EVENT_HANDLERS`` holds every event the code sends (an inbound email from the Gmail poller, the
inbox folder or ``backoffice inbound``); a procedure answers one by naming it in
``triggers.events``, and naming one that is not here is a problem reported at start-up.

An inquiry's text (an email body, a web form) is data: it is stored on the lead and shown to the
owner, and nothing in it is ever executed. Only ``record_inquiry`` runs for a new inquiry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backoffice.agent.planners.base import Turn
from backoffice.agent.reply import Reply

INQUIRY_FIELDS = {
    "name",
    "phone",
    "email",
    "address",
    "description",
    "title",
    "source",
    "source_ref",
    "subject",
    "message_id",
    "thread_id",
    "timestamp",
    "estimated_value",
}


def new_inquiry(turn: Turn, payload: dict[str, Any]) -> Reply:
    reply = turn.reply
    reply.planner = "events"
    args = {k: v for k, v in payload.items() if k in INQUIRY_FIELDS and v not in (None, "")}
    outcome = turn.gate.call("record_inquiry", args)
    if outcome.status != "ok" or outcome.result is None:
        return reply.error(outcome.message)
    result = outcome.result
    lead = result["lead"]
    if not result.get("created", True):
        return reply.say(outcome.message)
    reply.say(
        f"{outcome.message} Logged as lead {lead['lead_id']}. Want me to draft a response? "
        f'(say "follow up on {lead["lead_id"]}")'
    )
    return reply


EVENT_HANDLERS: dict[str, Callable[[Turn, dict[str, Any]], Reply]] = {
    "inbound_email": new_inquiry,
}
