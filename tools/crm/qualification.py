"""Qualification as its own record (PET's discipline, in a small business's words): is the need
real, is there a budget, who decides, when, can we get at the work. The questions, and which are
required, are the playbook's; answers are kept per lead and every change is an event.

A qualification is completed explicitly (``complete_qualification``): as qualified only when every
required question has an answer and with a class (gold, silver, bronze), which the lead then
carries and its job inherits; as disqualified only with a reason, through the lead state machine.
``qualify_lead`` and ``disqualify_lead`` (``leads``) record their outcome here too.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from backoffice.tools.book.models import DisqualificationReason, EffortClass
from backoffice.tools.book.states import check
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.crm.leads import (
    DisqualifyLeadInput,
    QualifyLeadInput,
    close_qualification,
    disqualify_lead,
    qualify_lead,
)
from backoffice.tools.crm.qualification_records import checked_answers, ensure_record, missing_answers, record_for
from backoffice.tools.errors import IllegalTransition, MissingInformation
from backoffice.tools.registry import ToolInput, tool


def questions_view(store: Store, record: Doc | None) -> list[dict[str, Any]]:
    answers = (record or {}).get("answers") or {}
    return [
        {"key": q.key, "ask": q.ask, "kind": q.kind, "choices": q.choices, "required": q.required,
         "answer": answers.get(q.key)}
        for q in store.playbook.qualification.questions
    ]  # fmt: skip


def qualification_card(store: Store, lead: Doc, record: Doc | None) -> dict[str, Any]:
    missing = [q.key for q in missing_answers(store, record)]
    return {
        "lead_id": lead["lead_id"],
        "title": lead["title"],
        "lead_status": lead["status"],
        "qualification_id": (record or {}).get("qualification_id"),
        "status": (record or {}).get("status", "not started"),
        "outcome": (record or {}).get("outcome"),
        "class": lead.get("effort_class"),
        "definition_version": (record or {}).get("definition_version"),
        "playbook_version": store.playbook.version,
        "questions": questions_view(store, record),
        "missing": missing,
    }


# ---------------------------------------------------------------------------- reading
class QualificationRefInput(ToolInput):
    lead_id: str = Field(description="the lead (L-3)")


@tool("read")
def qualification_status(store: Store, args: QualificationRefInput) -> dict[str, Any]:
    """A lead's qualification: each question of the playbook with its answer, which required ones are still
    open, the class, and whether it is complete. Use before asking the owner the questions one at a time."""
    lead = store.require("leads", args.lead_id)
    record = record_for(store, lead["lead_id"])
    card = qualification_card(store, lead, record)
    said = "complete" if card["status"] == "complete" else (
        f"open; still to answer: {', '.join(card['missing'])}" if card["missing"] else "open; every required "
        "question is answered, ready to complete")  # fmt: skip
    return {**card, "message": f"Qualification of {lead['title']} ({lead['lead_id']}): {said}."}


# ---------------------------------------------------------------------------- answering
class AnswerQualificationInput(ToolInput):
    lead_id: str = Field(description="the lead (L-3)")
    answers: dict[str, str | float | bool | None] = Field(
        description="answers by question key, e.g. {'budget': 'confirmed', 'timeline': 'this_month', 'need': "
        "'replace the water heater'}; a choice question takes one of its choices; null clears an answer"
    )
    note: str | None = Field(default=None, description="anything else learned, kept on the record")


@tool("write")
def answer_qualification(store: Store, args: AnswerQualificationInput) -> dict[str, Any]:
    """Record answers to a lead's qualification questions (the playbook's: need, budget, decision maker,
    timeline, site access by default). Answers are checked against their questions; a wrong choice is
    refused by name and nothing is saved. Does not complete the qualification: complete_qualification does."""
    with store.transaction():
        lead = store.require("leads", args.lead_id)
        answers = checked_answers(store, args.answers)
        record = ensure_record(store, lead)
        if record["status"] == "complete" and lead["status"] in ("disqualified", "converted"):
            raise IllegalTransition(
                f"Lead {lead['lead_id']} is {lead['status']}; its qualification is complete and kept as history."
            )
        merged = {**(record.get("answers") or {}), **answers}
        changes: Doc = {"answers": {k: v for k, v in merged.items() if v is not None}}
        if args.note:
            changes["notes"] = ((record.get("notes") or "") + "\n" + args.note.strip()).strip()
        record = store.update("qualifications", record["qualification_id"], changes, action="answered")
    card = qualification_card(store, lead, record)
    left = (f" Still to answer: {', '.join(card['missing'])}." if card["missing"]
            else " Every required question is answered.")  # fmt: skip
    return {**card, "message": f"Noted for {lead['title']} ({lead['lead_id']}): "
            + ", ".join(f"{k.replace('_', ' ')} = {v}" for k, v in answers.items()) + "." + left}  # fmt: skip


# ---------------------------------------------------------------------------- completing
class CompleteQualificationInput(ToolInput):
    lead_id: str = Field(description="the lead (L-3)")
    outcome: Literal["qualified", "disqualified"] = Field(description="qualified, or disqualified (needs a reason)")
    effort_class: EffortClass | None = Field(
        default=None, description="gold, silver or bronze; required to qualify (unless the lead already has one)"
    )
    reason: DisqualificationReason | None = Field(
        default=None, description="for disqualified: budget | timing | outside_scope | no_response | other"
    )
    note: str | None = Field(default=None, description="the owner's words about the decision")
    answers: dict[str, str | float | bool | None] = Field(
        default_factory=dict, description="last answers to record before completing, as for answer_qualification"
    )

    @model_validator(mode="after")
    def _reason(self) -> CompleteQualificationInput:
        if self.outcome == "disqualified" and not self.reason:
            raise ValueError("a disqualified outcome needs a reason: budget, timing, outside_scope, no_response, other")
        return self


@tool("write")
def complete_qualification(store: Store, args: CompleteQualificationInput) -> dict[str, Any]:
    """Complete a lead's qualification explicitly. Qualified: every required question must be answered and the
    lead gets a class (gold, silver or bronze); the lead becomes qualified (stage needs analysis, or further
    along if it is). Disqualified: a reason is required and the lead is disqualified through the state machine;
    nothing is deleted. Anything missing is named and nothing changes."""
    with store.transaction():
        lead = store.require("leads", args.lead_id)
        if args.answers:
            answer_qualification.func(store, AnswerQualificationInput(lead_id=args.lead_id, answers=args.answers))
        record = ensure_record(store, lead)
        if record["status"] == "complete":
            raise IllegalTransition(
                f"The qualification of {lead['title']} ({lead['lead_id']}) was already completed "
                f"({record['outcome']}); it is kept as history."
            )
        if args.outcome == "disqualified":
            check("lead", lead["lead_id"], lead["status"], "disqualified")
            result = disqualify_lead.func(
                store, DisqualifyLeadInput(lead_id=lead["lead_id"], reason=args.reason, note=args.note)  # type: ignore[arg-type]
            )
            return {**qualification_card(store, store.require("leads", lead["lead_id"]),
                                         record_for(store, lead["lead_id"])),
                    "message": result["message"] + " Qualification completed: disqualified."}  # fmt: skip
        missing = missing_answers(store, record)
        effort = args.effort_class or lead.get("effort_class")
        needs = [q.key for q in missing] + ([] if effort else ["class"])
        if needs:
            asks = "; ".join(f"{q.key}: {q.ask}" + (f" ({', '.join(q.choices)})" if q.choices else "") for q in missing)
            raise MissingInformation(
                f"The qualification of {lead['title']} ({lead['lead_id']}) cannot be completed yet: it needs "
                + ", ".join(needs) + ". Nothing was changed." + (f" Still to ask — {asks}." if asks else "")
                + (" And is it gold, silver or bronze?" if not effort else ""),
                needs,
            )
        if lead["status"] == "qualified":  # qualified before the answers were in: the record is completed now
            if effort != lead.get("effort_class"):
                lead = store.update("leads", lead["lead_id"], {"effort_class": effort}, action="class_changed")
            close_qualification(store, lead, "qualified")
            label = store.playbook.class_label(effort)
            said = f"{lead['title']} ({lead['lead_id']}) was already qualified; class {label}."
        else:
            check("lead", lead["lead_id"], lead["status"], "qualified")
            said = qualify_lead.func(store, QualifyLeadInput(lead_id=lead["lead_id"], effort_class=effort))["message"]
        if args.note:
            record = store.require("qualifications", record["qualification_id"])
            store.update("qualifications", record["qualification_id"],
                         {"notes": ((record.get("notes") or "") + "\n" + args.note.strip()).strip()})  # fmt: skip
    lead = store.require("leads", args.lead_id)
    return {**qualification_card(store, lead, record_for(store, lead["lead_id"])),
            "message": said + " Qualification completed."}  # fmt: skip
