"""A lead's qualification record: one per lead, its answers to the playbook's questions, completed
explicitly with an outcome. The tools that qualify and disqualify a lead (``leads``) and the
qualification tools (``qualification``) both keep it here."""

from __future__ import annotations

from typing import Any

from backoffice.tools.book.playbook import Question
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.errors import BadInput


def record_for(store: Store, lead_id: str) -> Doc | None:
    found = store.linked("qualifications", "lead_id", lead_id)
    return found[0] if found else None


def ensure_record(store: Store, lead: Doc) -> Doc:
    """The lead's qualification record, opened (against the playbook's current questions) if it has none."""
    existing = record_for(store, lead["lead_id"])
    if existing is not None:
        return existing
    return store.insert(
        "qualifications",
        {
            "lead_id": lead["lead_id"],
            "definition_version": store.playbook.version,
            "answers": {},
            "status": "open",
            "effort_class": lead.get("effort_class"),
        },
        action="opened",
    )


def missing_answers(store: Store, record: Doc | None) -> list[Question]:
    """The required questions (of the playbook as it is now) the record has no answer to yet."""
    answers = (record or {}).get("answers") or {}
    return [q for q in store.playbook.qualification.questions if q.required and answers.get(q.key) in (None, "")]


def checked_answers(store: Store, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` as the record keeps it, each answer checked against its question: an unknown question, a
    choice not on the list, or an amount that is not one, is refused by name and nothing is saved."""
    definition = store.playbook.qualification
    out: dict[str, Any] = {}
    problems = []
    for key, value in given.items():
        question = definition.question(key)
        if question is None:
            keys = ", ".join(q.key for q in definition.questions)
            problems.append(f"there is no question {key!r} (the questions are {keys})")
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            out[key] = None
            continue
        if question.kind == "choice":
            word = str(value).strip().lower().replace(" ", "_").replace("-", "_")
            if word not in question.choices:
                problems.append(f"{key} is {value!r}; the answers are {', '.join(question.choices)}")
                continue
            out[key] = word
        elif question.kind == "yes_no":
            word = str(value).strip().lower()
            if isinstance(value, bool) or word in ("yes", "no", "true", "false", "y", "n"):
                out[key] = value if isinstance(value, bool) else word in ("yes", "true", "y")
            else:
                problems.append(f"{key} is {value!r}; answer yes or no")
        elif question.kind == "amount":
            try:
                amount = float(str(value).replace("$", "").replace(",", ""))
            except ValueError:
                problems.append(f"{key} is {value!r}; give an amount in dollars")
                continue
            if amount < 0:
                problems.append(f"{key} cannot be negative")
                continue
            out[key] = amount
        else:
            out[key] = " ".join(str(value).split())
    if problems:
        raise BadInput("Qualification answers", problems)
    return out
