"""Lead scores for the owner: one lead's score with its reasons, the open leads ranked, what new
weights would do to the ranking before they are saved, and a health check that compares scores
with what became of the leads (004's scoring bias edge case)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from backoffice.tools.book.normalize import full_name
from backoffice.tools.book.playbook import CRITERIA, Playbook, changed, save_playbook
from backoffice.tools.book.scoring import Score, score_lead
from backoffice.tools.book.store import SCORED, Doc, Store
from backoffice.tools.errors import BadInput, NotFound
from backoffice.tools.registry import ToolInput, tool

BANDS = ((70, 100, "high (70-100)"), (40, 69, "middle (40-69)"), (0, 39, "low (0-39)"))


def open_lead_ids(store: Store) -> list[str]:
    return [row["id"] for row in store.fields("leads", ["status"], status=SCORED)]


def scores_now(store: Store, playbook: Playbook | None = None, ids: list[str] | None = None) -> dict[str, Score]:
    """Each open lead's score as of today (recency moves with the calendar), by ``playbook``'s rules."""
    playbook = playbook or store.playbook
    facts = store.lead_facts(open_lead_ids(store) if ids is None else ids)
    today = store.today()
    return {lead_id: score_lead(f, playbook, today) for lead_id, f in facts.items()}


def ranked(scores: dict[str, Score]) -> list[str]:
    return sorted(scores, key=lambda i: (-scores[i].score, int(i[2:])))


# ---------------------------------------------------------------------------- one lead
class LeadScoreInput(ToolInput):
    lead_id: str = Field(description="the lead (L-3)")


def score_of(store: Store, lead_id: str) -> dict[str, Any]:
    lead = store.require("leads", lead_id)
    if lead["status"] not in SCORED:
        facts_score = {"lead_id": lead["lead_id"], "score": lead.get("score"), "class": lead.get("effort_class"),
                       "breakdown": [{"criterion": k, "points": v, "why": "as scored when the lead was decided"}
                                     for k, v in (lead.get("score_points") or {}).items()]}  # fmt: skip
        return {**facts_score, "title": lead["title"], "status": lead["status"],
                "message": f"{lead['title']} ({lead['lead_id']}) is {lead['status']}; its last score was "
                f"{lead.get('score') if lead.get('score') is not None else 'never worked out'}."}  # fmt: skip
    score = scores_now(store, ids=[lead["lead_id"]])[lead["lead_id"]]
    reasons = "; ".join(f"{b['criterion']} {b['points']}: {b['why']}" for b in score.breakdown)
    return {**score.as_dict(), "title": lead["title"], "status": lead["status"],
            "message": f"{lead['title']} ({lead['lead_id']}) scores {score.score}/100 — {reasons}."}  # fmt: skip


@tool("read")
def lead_score(store: Store, args: LeadScoreInput) -> dict[str, Any]:
    """A lead's score (0-100) and why: the points each criterion gave (source, value, completeness,
    responsiveness, recency, class, qualification) with the facts behind them. "Why is this 72?"."""
    return score_of(store, args.lead_id)


# ---------------------------------------------------------------------------- ranking
class RankLeadsInput(ToolInput):
    limit: int = Field(default=10, ge=1, le=500, description="how many of the best-scoring open leads to list")


def rank_rows(store: Store, limit: int | None) -> tuple[list[dict[str, Any]], int]:
    scores = scores_now(store)
    order = ranked(scores)
    shown = order if limit is None else order[:limit]
    leads = store.many("leads", shown)
    contacts = store.many("contacts", [d["contact_id"] for d in leads.values() if d.get("contact_id")])
    rows = []
    for lead_id in shown:
        lead, s = leads[lead_id], scores[lead_id]
        contact = contacts.get(lead.get("contact_id") or "")
        top = sorted(s.breakdown, key=lambda b: -b["points"])[:2]
        rows.append({
            "lead_id": lead_id, "title": lead["title"], "contact": full_name(contact) if contact else None,
            "score": s.score, "class": lead.get("effort_class"), "status": lead["status"],
            "strongest": ", ".join(f"{b['criterion']} {b['points']}" for b in top),
        })  # fmt: skip
    return rows, len(order)


@tool("read")
def rank_leads(store: Store, args: RankLeadsInput) -> dict[str, Any]:
    """The open leads ranked by their score today, best first, each with its two strongest criteria: who
    to call first."""
    rows, total = rank_rows(store, args.limit)
    return {"leads": rows, "total": total}


# ---------------------------------------------------------------------------- changing the weights
class WeightsInput(ToolInput):
    weights: dict[str, float] = Field(
        description="new weights by criterion (" + ", ".join(CRITERIA) + "), e.g. {'source': 25, 'recency': 10}; "
        "criteria left out keep theirs; all are scaled to add up to 100"
    )
    top: int = Field(default=10, ge=1, le=100, description="how many of the ranking to compare")


def _new_playbook(store: Store, weights: dict[str, float]) -> Playbook:
    bad = [f"{k} weight {v:g} must be between 0 and 100" for k, v in weights.items() if not 0 <= v <= 100]
    if bad:
        raise BadInput("Score weights", bad)
    try:
        scoring = store.playbook.scoring.with_weights(weights)
    except ValueError as exc:
        raise BadInput("Score weights", [str(exc).splitlines()[-1] if "\n" in str(exc) else str(exc)]) from None
    try:
        return changed(store.playbook, "scoring", scoring)
    except ValueError as exc:
        raise BadInput("Score weights", [str(exc)]) from None


def weight_preview(store: Store, weights: dict[str, float], top: int = 10) -> dict[str, Any]:
    proposed = _new_playbook(store, weights)
    before, after = scores_now(store), scores_now(store, proposed)
    was, now = ranked(before), ranked(after)
    place_before = {lead_id: i + 1 for i, lead_id in enumerate(was)}
    leads = store.many("leads", now[:top])
    rows = [
        {"lead_id": lead_id, "title": leads[lead_id]["title"], "rank": i + 1, "was_rank": place_before[lead_id],
         "score": after[lead_id].score, "was_score": before[lead_id].score}
        for i, lead_id in enumerate(now[:top])
    ]  # fmt: skip
    moved = sum(1 for i, lead_id in enumerate(now) if place_before[lead_id] != i + 1)
    old_w, new_w = store.playbook.scoring.weights(), proposed.scoring.weights()
    return {
        "weights_before": _scaled(old_w),
        "weights_after": _scaled(new_w),
        "ranking": rows,
        "leads_moved": moved,
        "open_leads": len(now),
        "warnings": proposed.warnings(),
    }


def _scaled(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values()) or 1
    return {k: round(v * 100 / total, 1) for k, v in weights.items() if v}


@tool("read")
def preview_score_weights(store: Store, args: WeightsInput) -> dict[str, Any]:
    """How the ranking of open leads would move with new score weights, before anything is saved: the new
    top leads with their old and new place and score, and how many leads change place. Nothing changes."""
    preview = weight_preview(store, args.weights, args.top)
    return {**preview, "message": f"With these weights {preview['leads_moved']} of {preview['open_leads']} open leads "
            "change place. Nothing was saved."}  # fmt: skip


def _preview_set(store: Store, args: dict[str, Any]) -> tuple[str, str]:
    preview = weight_preview(store, args["weights"], 5)
    lines = [f"Weights out of 100 now: {_weights_text(preview['weights_before'])}",
             f"After: {_weights_text(preview['weights_after'])}",
             f"{preview['leads_moved']} of {preview['open_leads']} open leads change place; "
             "the top five would be:"]  # fmt: skip
    lines += [f"  {r['rank']}. {r['title']} ({r['lead_id']}) {r['score']} (was {r['was_rank']}. at {r['was_score']})"
              for r in preview["ranking"]]  # fmt: skip
    lines += preview["warnings"]
    return "Change the lead score weights", "\n".join(lines)


def _weights_text(weights: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in weights.items())


@tool("write", preview=_preview_set)
def set_score_weights(store: Store, args: WeightsInput) -> dict[str, Any]:
    """Save new score weights in the playbook (a new version) and score every open lead again with them. The
    owner sees the ranking change first (the gate shows it). Criteria left out keep their weights."""
    proposed = _new_playbook(store, args.weights)
    saved = save_playbook(store.directory, proposed)
    moved = rescore_open(store)
    return {
        "playbook_version": saved.version,
        "weights": _scaled(saved.scoring.weights()),
        "rescored": moved,
        "warnings": saved.warnings(),
        "message": f"Saved the new weights (playbook version {saved.version}); {moved} open lead(s) have a new score."
        + "".join(f" {w}" for w in saved.warnings()),
    }


def rescore_open(store: Store) -> int:
    """Score every open lead again (after the playbook changed); how many scores moved."""
    with store.transaction():
        fresh = scores_now(store)
        stored = store.many("leads", list(fresh))
        moved = 0
        for lead_id, score in fresh.items():
            if stored[lead_id].get("score") != score.score:
                store.update("leads", lead_id, score.stored(), action="rescored")
                moved += 1
    return moved


# ---------------------------------------------------------------------------- health check
class ScoreHealthInput(ToolInput):
    pass


def health_data(store: Store) -> dict[str, Any]:
    """Scores against outcomes. A lead's score is kept as it stood when it was decided, so a converted lead's
    job (won or lost) or a disqualification tells whether the score saw it coming."""
    playbook = store.playbook
    decided: list[tuple[Doc, bool]] = []
    jobs = {o["lead_id"]: o for o in store.scan("opportunities", stage=("won", "lost")) if o.get("lead_id")}
    for lead in store.scan("leads", status=("converted", "disqualified")):
        if lead.get("score") is None:
            continue
        if lead["status"] == "disqualified":
            decided.append((lead, False))
        elif lead["lead_id"] in jobs:
            decided.append((lead, jobs[lead["lead_id"]]["stage"] == "won"))
    bands = []
    for lo, hi, label in BANDS:
        inside = [won for lead, won in decided if lo <= lead["score"] <= hi]
        bands.append({"band": label, "leads": len(inside), "won": sum(inside),
                      "win_rate": round(sum(inside) / len(inside), 3) if inside else None})  # fmt: skip
    corr = _correlation([float(lead["score"]) for lead, _ in decided], [1.0 if won else 0.0 for _, won in decided])
    criteria = _criteria_signal(playbook, decided)
    findings, needs = _findings(playbook, decided, bands, corr, criteria)
    open_scores = [s.score for s in scores_now(store).values()]
    return {
        "outcomes": len(decided),
        "won": sum(1 for _, won in decided if won),
        "min_outcomes": playbook.scoring.min_outcomes,
        "bands": bands,
        "correlation": None if corr is None else round(corr, 3),
        "criteria": criteria,
        "distribution": {label: sum(1 for s in open_scores if lo <= s <= hi) for lo, hi, label in BANDS},
        "recalibrate": needs,
        "findings": findings,
        "warnings": playbook.warnings(),
    }


def _correlation(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 3:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sx = math.sqrt(sum((x - mx) ** 2 for x in xs))
    sy = math.sqrt(sum((y - my) ** 2 for y in ys))
    if not sx or not sy:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / (sx * sy)


def _criteria_signal(playbook: Playbook, decided: list[tuple[Doc, bool]]) -> list[dict[str, Any]]:
    """For each criterion: the share of its points won and lost leads earned on average, and a suggested
    weight (more for a criterion that tells them apart, less for one that does not or points the wrong way)."""
    weights = _scaled(playbook.scoring.weights())
    out = []
    for name, weight in weights.items():
        won = [(lead.get("score_points") or {}).get(name, 0) / weight for lead, w in decided if w]
        lost = [(lead.get("score_points") or {}).get(name, 0) / weight for lead, w in decided if not w]
        if not won or not lost:
            continue
        gap = sum(won) / len(won) - sum(lost) / len(lost)
        suggested = max(0.0, weight * (1 + 2 * gap)) if abs(gap) >= 0.1 else weight
        out.append({"criterion": name, "weight": weight, "won_share": round(sum(won) / len(won), 2),
                    "lost_share": round(sum(lost) / len(lost), 2), "gap": round(gap, 2),
                    "suggested_weight": round(suggested)})  # fmt: skip
    return out


def _findings(
    playbook: Playbook,
    decided: list[tuple[Doc, bool]],
    bands: list[dict[str, Any]],
    corr: float | None,
    criteria: list[dict[str, Any]],
) -> tuple[list[str], bool]:
    need = playbook.scoring.min_outcomes
    if len(decided) < need:
        return [f"Only {len(decided)} scored lead(s) have an outcome yet; the check needs {need} to say anything "
                "about the weights."], False  # fmt: skip
    high, _, low = bands
    found: list[str] = []
    if high["leads"] >= 5 and low["leads"] >= 5 and high["win_rate"] <= low["win_rate"]:
        found.append(f"High-scored leads win no more often than low-scored ones ({high['win_rate']:.0%} against "
                     f"{low['win_rate']:.0%}): the score is not telling you who will buy.")  # fmt: skip
    if high["leads"] >= 5 and high["win_rate"] < 0.25:
        found.append(f"High-scored leads mostly lose ({high['won']} won of {high['leads']}).")
    if low["leads"] >= 5 and low["win_rate"] > 0.5:
        found.append(f"Low-scored leads mostly win ({low['won']} won of {low['leads']}).")
    if corr is not None and corr < 0.1:
        found.append(f"Scores and outcomes hardly move together (correlation {corr:.2f}).")
    backwards = [c["criterion"] for c in criteria if c["gap"] <= -0.1]
    if backwards:
        found.append(f"{', '.join(backwards)} gave more points to leads that were lost than to those won.")
    if found:
        changes = [f"{c['criterion']} {c['weight']:g} → {c['suggested_weight']}" for c in criteria
                   if c["suggested_weight"] != round(c["weight"])]  # fmt: skip
        if changes:
            found.append("Suggested weights (preview them before saving): " + ", ".join(changes) + ".")
        return found, True
    return [f"Scores match outcomes: high-scored leads win {high['win_rate'] or 0:.0%}, low-scored "
            f"{low['win_rate'] or 0:.0%} (correlation {corr or 0:.2f}). No recalibration needed."], False  # fmt: skip


@tool("read")
def score_health(store: Store, args: ScoreHealthInput) -> dict[str, Any]:
    """The scoring health check: win rates of leads by the score they had when decided (high, middle, low),
    how well scores and outcomes move together, each criterion's points for won and lost leads with a
    suggested weight, the spread of today's open scores, and whether the weights need recalibrating."""
    data = health_data(store)
    return {**data, "message": " ".join(data["findings"])}


def require_lead(store: Store, text: str) -> Doc:
    try:
        return store.require("leads", text)
    except NotFound:
        raise NotFound(f"There is no lead {text}; leads have ids like L-3 (`backoffice score` lists them).") from None
