"""The requests the offline planner recognises: a pattern for each, and the flow that handles it."""

from __future__ import annotations

import re
from collections.abc import Callable

from backoffice.agent.planners.offline.flows import Flows

_I = re.IGNORECASE
INTENTS: list[tuple[re.Pattern[str], Callable[[Flows, re.Match[str], str], None]]] = [
    (re.compile(r"^\s*(?:help|\?|what can you do|commands|menu)\b", _I), Flows.help),
    (
        re.compile(r"^(?:please\s+)?(?:merge|combine)\s+(?P<a>.+?)\s+(?P<how>into|with|and|&)\s+(?P<b>.+?)[.?!]*$", _I),
        Flows.merge,
    ),
    (re.compile(r"\bduplicates?\b|\bdupes?\b|\b(?:entered|in the book) twice\b", _I), Flows.duplicates),
    (
        re.compile(r"\b(?:pending|waiting for (?:my )?approval|approvals?|anything to approve)\b", _I),
        Flows.pending,
    ),
    (
        re.compile(
            r"(?:how long (?:has it been )?since|when did|when was the last time) (?:we|i) (?:last )?"
            r"(?:talk(?:ed)?|spoke|spoken|heard from|hear from|contacted|contact|called|saw)\s+"
            r"(?:to\s+|with\s+)?(?P<who>.+?)\??$"
            r"|last (?:contact|touchpoint|interaction|call) with (?P<who2>.+?)\??$",
            _I,
        ),
        lambda p, m, t: p.flow_last_touch({"ref": m.group("who") or m.group("who2")}),
    ),
    (
        re.compile(r"^(?:(?:a|we have a|got a)\s+)?(?:new\s+)?(?:inquiry|enquiry|lead)\s+from\s+(?P<rest>.+)$", _I),
        Flows.inquiry,
    ),
    (
        re.compile(r"\b(?:open|create|start|add)\s+(?:a\s+)?(?:new\s+)?lead\s+(?:for|with)\s+(?P<rest>.+)$", _I),
        Flows.open_lead,
    ),
    (
        re.compile(
            r"(?:\b(?:add|create|enter|save)\b(?:\s+(?:a|an|the))?(?:\s+new)?|^new)\s+(?:customer|client|contact)\b[:,]?(?P<rest>.*)$",
            _I,
        ),
        Flows.add_customer,
    ),
    (re.compile(r"\b(?:newest|latest|most recent|recent)\s+customers?\b|\bnew customers\b", _I), Flows.newest),
    (
        re.compile(
            r"^(?:please\s+)?log\s+(?:a|an|the|my)?\s*"
            r"(?P<kind>phone call|call|email|e-mail|text|sms|meeting|site visit|visit|note)"
            r"\s+(?:with|from|to|for|on)\s+(?P<rest>.+)$"
            r"|^(?:i\s+|we\s+)?(?:just\s+)?"
            r"(?P<verb>called|rang|phoned|spoke (?:to|with)|talked (?:to|with)|met with|met|emailed|texted|visited)"
            r"\s+(?P<rest2>.+)$",
            _I,
        ),
        Flows.log,
    ),
    (
        re.compile(
            r"\b(?:follow[\s-]?up|check in|chase)\s+(?:on|with)\s+(?P<ref>.+)$"
            r"|\bdraft\s+(?:a\s+)?(?:follow[\s-]?up|message|email|reply)\s+(?:to|for)\s+(?P<ref2>.+)$",
            _I,
        ),
        Flows.follow_up_on,
    ),
    (
        re.compile(r"\bmark\s+(.+?)\s+(?:as\s+)?won\b|\bwe\s+won\s+(.+)$|^(.+?)\s+(?:is|was)\s+won\b", _I),
        Flows.won,
    ),
    (
        re.compile(r"\bmark\s+(?P<ref>.+?)\s+(?:as\s+)?lost\b[,:;\s-]*(?P<why>.*)$|\bwe\s+lost\s+(?P<ref2>.+)$", _I),
        Flows.lost,
    ),
    (re.compile(r"\b(?:disqualify|dq)\s+(?P<ref>.+)$", _I), Flows.disqualify),
    (re.compile(r"\bqualify\s+(?P<ref>.+)$", _I), Flows.qualify),
    (
        re.compile(r"\bconvert\s+(?P<ref>.+?)(?:\s+(?:in)?to\s+(?:a\s+)?(?:job|opportunity|deal|project)\b.*)?$", _I),
        Flows.convert,
    ),
    (
        re.compile(r"\bfollow[\s-]?ups?\b|\bwhat'?s due\b|\bdue today\b|\bto[\s-]?do\b|\bcall ?backs?\b", _I),
        Flows.follow_ups,
    ),
    (re.compile(r"\bstale\b|\bquiet\b|\bgone cold\b|\bneglected\b|\bno activity\b", _I), Flows.stale),
    (
        re.compile(r"\bwin[\s/-]*(?:and\s+)?loss\b|\bhow did we do\b|\bmonthly (?:summary|report)\b", _I),
        Flows.winloss,
    ),
    (re.compile(r"\bpipeline\b|\bhow (?:are|is) (?:we|business|things) doing\b", _I), Flows.pipeline),
    (re.compile(r"\b(?:morning\s+)?digest\b|\bmorning (?:summary|report|briefing)\b", _I), Flows.digest),
    (
        re.compile(r"^(?:find|look up|lookup|search(?: for)?|who is|show me|show)\s+(?P<what>.+)$", _I),
        Flows.find,
    ),
]
