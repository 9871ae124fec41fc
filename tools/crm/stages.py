"""Stages the owner configures: which stage a name means, the gate a job or lead must pass to enter
a stage, and how long each has been where it is.

The stages themselves are in the playbook (``playbook.Stages``): the job stages in order with a
probability, an optional gate and a stale threshold, and the same for the five lead stages. A gate
lists what must be known before entering (an amount before proposal_sent, by default); a refused
move changes nothing and says exactly what is missing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from backoffice.tools.book import clock
from backoffice.tools.book.models import CLOSED_OPPORTUNITY_STAGES
from backoffice.tools.book.playbook import JOB_REQUIREMENTS, LEAD_REQUIREMENTS, StageDef
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.errors import BadInput, MissingInformation


def job_stage(store: Store, text: str, closed_ok: bool = False) -> str:
    """The job stage ``text`` names (its name or label: "proposal sent", "Visit booked"), or BadInput
    listing the stages there are."""
    stages = store.playbook.stages
    found = stages.named_job_stage(text)
    if found is not None:
        return found.name
    word = text.strip().lower().replace(" ", "_")
    if closed_ok and word in CLOSED_OPPORTUNITY_STAGES:
        return word
    names = ", ".join(f"{s.name} ({s.label})" if s.label.lower() != s.name.replace("_", " ") else s.name
                      for s in stages.jobs)  # fmt: skip
    raise BadInput(f"Stage {text!r}", [f"there is no such job stage; the stages are {names}, then won or lost"])


# ---------------------------------------------------------------------------- gates
def gate_missing(store: Store, kind: str, record: Doc, stage: str) -> list[str]:
    """What ``record`` (a job, or a lead when ``kind`` is "lead") lacks to enter ``stage``, in words."""
    stages = store.playbook.stages
    definition: StageDef | None = stages.job(stage) if kind == "job" else stages.lead(stage)
    if definition is None or not definition.requires:
        return []
    words = JOB_REQUIREMENTS if kind == "job" else LEAD_REQUIREMENTS
    return [words[need] for need in definition.requires if not _has(store, kind, record, need)]


def check_gate(store: Store, kind: str, record: Doc, stage: str) -> None:
    """MissingInformation, naming what is missing, unless ``record`` may enter ``stage``."""
    missing = gate_missing(store, kind, record, stage)
    if not missing:
        return
    stages = store.playbook.stages
    label = stages.job_label(stage) if kind == "job" else stages.lead_label(stage)
    if kind == "job":
        what = f"Job {record['opportunity_id']} ({record['name']})"
    else:
        what = f"Lead {record['lead_id']} ({record['title']})"
    raise MissingInformation(
        f"{what} cannot move to {label} yet: it needs {_and(missing)}. Nothing was changed; give what is "
        "missing (it can come with the move) and try again.",
        missing,
    )


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _has(store: Store, kind: str, record: Doc, need: str) -> bool:
    if need in ("amount", "estimated_value"):
        return record.get(need) not in (None, 0, 0.0)
    if need in ("expected_close_date", "proposal_sent_date", "effort_class"):
        return bool(record.get(need))
    if need == "competitors":
        return bool(record.get("competitors") or record.get("competitor"))
    if need == "contact":
        return bool(record.get("contact_id"))
    contact = store.get("contacts", record["contact_id"]) if record.get("contact_id") else None
    if need == "contact_phone":
        return bool((contact or {}).get("phones") or record.get("phone"))
    if need == "contact_email":
        return bool((contact or {}).get("emails") or record.get("email"))
    if need == "service_address":
        return bool((contact or {}).get("address"))
    lead_id = record.get("lead_id") if kind == "job" else record["lead_id"]
    if need == "qualification_complete":
        found = store.linked("qualifications", "lead_id", lead_id) if lead_id else []
        return any(q["status"] == "complete" for q in found)
    if need == "site_visit":
        links = [("lead_id", lead_id)] if lead_id else []
        if kind == "job":
            links.append(("opportunity_id", record["opportunity_id"]))
        return any(i["type"] == "meeting" and i.get("outcome") not in ("no_show",)
                   for link, rid in links for i in store.linked("interactions", link, rid))  # fmt: skip
    return True


# ---------------------------------------------------------------------------- time in stage
def stage_history(store: Store, record_ids: list[str]) -> dict[str, list[tuple[dt.datetime, str]]]:
    """For each job or lead: (when, stage) each time it entered a stage, oldest first, from the event
    log (a job's ``stage``, a lead's ``pipeline_stage``)."""
    out: dict[str, list[tuple[dt.datetime, str]]] = {rid: [] for rid in record_ids}
    for event in store.events_of(record_ids):
        field = "stage" if event["record_id"].startswith("O-") else "pipeline_stage"
        after = event.get("after") or {}
        if field in after and event["record_id"] in out:
            history = out[event["record_id"]]
            if not history or history[-1][1] != after[field]:
                history.append((clock.parse_stamp(event["at"]), str(after[field])))
    return out


def days_in_stage(store: Store, records: list[Doc], today: dt.date) -> dict[str, int]:
    """How many days each job or lead has been at its current stage (since its creation when the
    log holds no move)."""
    ids = [r.get("opportunity_id") or r["lead_id"] for r in records]
    history = stage_history(store, ids)
    out: dict[str, int] = {}
    for record, rid in zip(records, ids, strict=True):
        stage = record.get("stage") if "opportunity_id" in record else record.get("pipeline_stage")
        since = next((at for at, s in reversed(history.get(rid, [])) if s == stage), None)
        moment = since or clock.parse_stamp(record["created_at"])
        out[rid] = max((today - moment.astimezone(store.tz).date()).days, 0)
    return out


def stale_after(store: Store, kind: str, stage: str) -> int | None:
    stages = store.playbook.stages
    definition = stages.job(stage) if kind == "job" else stages.lead(stage)
    return definition.stale_after_days if definition else None


def stage_rows(store: Store) -> list[dict[str, Any]]:
    """The job stages as the owner set them, then won and lost: for the board and the reports."""
    stages = store.playbook.stages
    rows = [{"stage": s.name, "label": s.label, "probability": s.probability, "stale_after_days": s.stale_after_days,
             "requires": list(s.requires)} for s in stages.jobs]  # fmt: skip
    rows += [{"stage": name, "label": name.capitalize(), "probability": 1.0 if name == "won" else 0.0,
              "stale_after_days": None, "requires": []} for name in CLOSED_OPPORTUNITY_STAGES]  # fmt: skip
    return rows
