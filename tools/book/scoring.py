"""Lead scores, 0 to 100, always with their breakdown.

A score is the sum of the playbook's criteria (``playbook.Scoring``). Each criterion earns a share
(0 to 1) of its weight; the weights are scaled so they add up to 100, and the points are rounded so
that the breakdown adds up exactly to the score. Everything a score reads is in ``LeadFacts``, so a
lead is scored the same way whether one is asked about or a hundred thousand are ranked, and the
rule for each criterion says in its ``why`` what it saw.

Pure functions: the store gathers the facts (``Store.lead_facts``), keeps each open lead's score
current on every change that touches it, and the reports rank with ``score_lead``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from backoffice.tools.book.normalize import fold, money
from backoffice.tools.book.playbook import CRITERIA, Playbook

MISSED = frozenset({"left_voicemail", "no_show"})
ENGAGED = frozenset({"spoke", "accepted_proposal", "rejected_proposal", "rescheduled"})


@dataclass(frozen=True)
class LeadFacts:
    """What a lead's score is computed from."""

    lead_id: str
    source: str
    source_detail: str | None = None
    named_source: str | None = None  # the playbook's name for source_detail, when it is one
    estimated_value: float | None = None
    effort_class: str | None = None
    created: dt.date | None = None
    last_touch: dt.date | None = None  # the latest touch by a person since the lead was opened
    has_name: bool = False
    has_phone: bool = False
    has_email: bool = False
    has_address: bool = False
    address: str = ""
    responded: int = 0  # they wrote, answered, met us, said yes or no
    missed: int = 0  # voicemails left, visits they did not show up to
    answers: dict[str, Any] = field(default_factory=dict)  # the qualification's answers


@dataclass(frozen=True)
class Score:
    lead_id: str
    score: int
    breakdown: list[dict[str, Any]]
    effort_class: str | None

    def stored(self) -> dict[str, Any]:
        """What a lead keeps of its score: the total and the points by criterion."""
        return {"score": self.score, "score_points": {b["criterion"]: b["points"] for b in self.breakdown}}

    def as_dict(self) -> dict[str, Any]:
        return {"lead_id": self.lead_id, "score": self.score, "breakdown": self.breakdown, "class": self.effort_class}


def count_touches(rows: list[tuple[str, str, int]]) -> tuple[int, int]:
    """(responded, missed) from (type, outcome, count) rows of a lead's interactions."""
    responded = missed = 0
    for kind, outcome, n in rows:
        if outcome in MISSED:
            missed += n
        elif kind == "email_inbound" or outcome in ENGAGED or kind == "meeting":
            responded += n
    return responded, missed


def score_lead(facts: LeadFacts, playbook: Playbook, today: dt.date) -> Score:
    scoring = playbook.scoring
    total_weight = scoring.total_weight()
    raw: list[tuple[str, float, float, str]] = []  # criterion, points (scaled, unrounded), its most, why
    for name in CRITERIA:
        weight = scoring.criterion(name).weight
        if weight <= 0:
            continue
        share, why = _RULES[name](facts, playbook, today)
        most = weight * 100 / total_weight
        raw.append((name, most * max(0.0, min(1.0, share)), most, why))
    points = _rounded([p for _, p, _, _ in raw])
    breakdown = [
        {"criterion": name, "points": pts, "why": f"{why} ({pts} of {round(most)})"}
        for (name, _, most, why), pts in zip(raw, points, strict=True)
    ]
    return Score(facts.lead_id, sum(points), breakdown, facts.effort_class)


def _rounded(values: list[float]) -> list[int]:
    """Whole points adding up to the rounded total (largest remainders get the spare points)."""
    target = round(sum(values))
    floors = [math.floor(v) for v in values]
    spare = target - sum(floors)
    order = sorted(range(len(values)), key=lambda i: values[i] - floors[i], reverse=True)
    for i in order[: max(spare, 0)]:
        floors[i] += 1
    return floors


# ---------------------------------------------------------------------------- the rules
def _source(f: LeadFacts, p: Playbook, today: dt.date) -> tuple[float, str]:
    rule = p.scoring.source
    if f.named_source and f.named_source in rule.named:
        return rule.named[f.named_source], f"came from {f.named_source}"
    share = rule.channels.get(f.source, rule.channels.get("other", 0.0))
    how = f.source.replace("_", " ")
    detail = f" ({f.named_source or f.source_detail})" if (f.named_source or f.source_detail) else ""
    return share, f"came in by {how}{detail}"


def _value(f: LeadFacts, p: Playbook, today: dt.date) -> tuple[float, str]:
    if not f.estimated_value:
        return 0.0, "no estimated value yet"
    for threshold, share in p.scoring.value.bands:
        if f.estimated_value >= threshold:
            return share, f"estimated at {money(f.estimated_value)}"
    return 0.0, f"estimated at {money(f.estimated_value)}"


def _completeness(f: LeadFacts, p: Playbook, today: dt.date) -> tuple[float, str]:
    have = {"name": f.has_name, "phone": f.has_phone, "email": f.has_email, "address": f.has_address}
    known = [k for k, v in have.items() if v]
    missing = [k for k, v in have.items() if not v]
    if not missing:
        return 1.0, "name, phone, email and address on file"
    said = f"{', '.join(known)} on file; " if known else ""
    return len(known) / 4, f"{said}no {' or '.join(missing)}"


def _responsiveness(f: LeadFacts, p: Playbook, today: dt.date) -> tuple[float, str]:
    tries = f.responded + f.missed
    if not tries:
        return 0.5, "nothing either way yet"
    share = (f.responded + 0.5) / (tries + 1)
    return share, f"answered {f.responded} of {tries} times" + (f", {f.missed} missed" if f.missed else "")


def _recency(f: LeadFacts, p: Playbook, today: dt.date) -> tuple[float, str]:
    last = f.last_touch or f.created
    if last is None:
        return 0.0, "no activity on record"
    days = max((today - last).days, 0)
    when = "today" if days == 0 else "yesterday" if days == 1 else f"{days} days ago"
    what = "last touch" if f.last_touch else "opened, no touch since,"
    for limit, share in p.scoring.recency.bands:
        if days <= limit:
            return share, f"{what} {when}"
    return 0.0, f"{what} {when}"


def _class(f: LeadFacts, p: Playbook, today: dt.date) -> tuple[float, str]:
    if not f.effort_class:
        return 0.0, "no class yet"
    return p.scoring.effort_class.shares.get(f.effort_class, 0.0), f"classed {p.class_label(f.effort_class)}"


def _qualification(f: LeadFacts, p: Playbook, today: dt.date) -> tuple[float, str]:
    questions = p.qualification.questions
    answered = [q.key for q in questions if f.answers.get(q.key) not in (None, "")]
    if not answered:
        return 0.0, "no qualification answers yet"
    return len(answered) / len(questions), f"{len(answered)} of {len(questions)} qualification questions answered"


def _area(f: LeadFacts, p: Playbook, today: dt.date) -> tuple[float, str]:
    places = [fold(x) for x in p.scoring.area.places if fold(x)]
    if not f.address:
        return 0.0, "no service address"
    where = fold(f.address)
    hit = next((x for x in places if x in where), None)
    return (1.0, f"in the service area ({hit})") if hit else (0.0, "outside the listed service area")


_RULES = {
    "source": _source,
    "value": _value,
    "completeness": _completeness,
    "responsiveness": _responsiveness,
    "recency": _recency,
    "class": _class,
    "qualification": _qualification,
    "area": _area,
}
