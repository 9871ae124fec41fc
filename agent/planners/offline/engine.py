"""The offline planner's conversation engine: asking for missing details one question at a time
(the next line the owner types is the answer), finding the record meant, and reporting what a tool
did. The requests it understands are in ``intents``; what each one does is in ``flows``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

from backoffice.agent.gate.gate import Outcome
from backoffice.agent.planners.base import Turn
from backoffice.agent.planners.offline import resolve
from backoffice.agent.planners.offline.help import HELP
from backoffice.agent.planners.offline.understand import (
    DISQUALIFY_REASONS,
    LOST_REASONS,
    clean_ref,
    find_address,
    find_email,
    find_phone,
    find_reason,
    is_skip,
    yes_no,
)
from backoffice.agent.reply import Reply
from backoffice.tools.book.models import OPEN_LEAD_STATUSES, OPEN_OPPORTUNITY_STAGES
from backoffice.tools.book.normalize import full_name, phone_display
from backoffice.tools.book.store import Doc

SlotKind = Literal["text", "optional", "phone", "email", "yesno", "choice", "reason", "lost_reason"]
ID_FIELD = {"lead": "lead_id", "job": "opportunity_id", "contact": "contact_id"}
TABLE = {"lead": "leads", "job": "opportunities", "contact": "contacts"}
PRONOUNS = {"them", "him", "her", "they", "it", "this one", "that one", "this", "that", "he", "she"}


class Asked(Exception):
    """A flow stopped to ask the owner something; the next message answers it."""


@dataclass
class Waiting:
    flow: str
    slot: str
    kind: SlotKind
    question: str
    data: Doc
    choices: list[tuple[str, str]] = field(default_factory=list)


def _first(doc: Doc | None) -> str:
    if not doc:
        return "them"
    return doc.get("first_name") or full_name(doc) or "them"


class Engine:
    """The conversation mechanics: slots asked one at a time, the record meant, what the owner was told."""

    name = "offline"

    def __init__(self) -> None:
        self.waiting: Waiting | None = None
        self.focus: dict[str, str] = {}  # the contact, lead and job last talked about: "her", "them", "it"
        self.turn: Turn
        self.intents: list[tuple[re.Pattern[str], Callable[..., None]]] = []
        self.reply: Reply

    # ------------------------------------------------------------------ entry
    def respond(self, text: str, turn: Turn) -> Reply:
        self.turn, self.reply = turn, turn.reply
        self.reply.planner = self.name
        line = " ".join(text.strip().split())
        try:
            if self.waiting is not None:
                waiting, self.waiting = self.waiting, None
                if line.lower().strip(".!") in {"cancel", "never mind", "nevermind", "forget it", "stop"}:
                    return self.reply.say("OK, dropped that.")
                if self._answer(waiting, line):
                    return self.reply
            for pattern, handler in self.intents:
                match = pattern.search(line)
                if match:
                    handler(self, match, line)
                    return self.reply
            self.reply.say("I didn't catch that.\n\n" + HELP)
        except Asked:
            pass
        return self.reply

    # ------------------------------------------------------------------ plumbing
    @property
    def store(self) -> Any:
        return self.turn.store

    def call(self, tool: str, /, **args: Any) -> Outcome:
        return self.turn.gate.call(tool, {k: v for k, v in args.items() if v is not None})

    def need(
        self,
        flow: str,
        data: Doc,
        slot: str,
        question: str,
        kind: SlotKind = "text",
        choices: list[tuple[str, str]] | None = None,
    ) -> NoReturn:
        self.waiting = Waiting(flow, slot, kind, question, data, choices or [])
        if choices:
            question += "\n" + "\n".join(f"{i}. {label}" for i, (_, label) in enumerate(choices, start=1))
        self.reply.say(question)
        raise Asked

    def _answer(self, w: Waiting, text: str) -> bool:
        """Fill the slot the last question asked for and carry on. False when the text is not an
        answer (a yes/no question answered with a new request): the caller treats it as a request."""
        region = self.store.settings.default_phone_region
        value: Any = text
        retry = None
        if w.kind == "yesno":
            value = yes_no(text)
            if value is None:
                return False
            w.data["answer_text"] = text
        elif w.kind == "choice":
            value = self._choose(w.choices, text)
            if value is None:
                retry = "Please answer with one of the numbers (or cancel)."
        elif w.kind in ("optional", "phone", "email") and is_skip(text):
            value = ""
        elif w.kind == "phone":
            found = find_phone(text, region)
            value = found[1] if found else None
            retry = None if found else f"{text!r} is not a phone number I can read. What's the number? (or skip)"
        elif w.kind == "email":
            value = find_email(text)
            retry = None if value else f"{text!r} is not an email address. What's the email? (or skip)"
        elif w.kind in ("reason", "lost_reason"):
            value = find_reason(text, DISQUALIFY_REASONS if w.kind == "reason" else LOST_REASONS) or "other"
            w.data["reason_note"] = text
        elif not text:
            retry = w.question
        if retry:
            self.waiting = w
            self.reply.say(retry)
            return True
        w.data[w.slot] = value
        getattr(self, f"flow_{w.flow}")(w.data)
        return True

    @staticmethod
    def _choose(choices: list[tuple[str, str]], text: str) -> str | None:
        t = text.strip().rstrip(".").lower()
        if t.isdigit() and 1 <= int(t) <= len(choices):
            return choices[int(t) - 1][0]
        hits = [key for key, label in choices if t and (t == key.lower() or t in label.lower())]
        return hits[0] if len(hits) == 1 else None

    def contact_details(self, text: str) -> tuple[Doc, str]:
        """The phone (E.164), email and address found in ``text``, and what is left once they are taken out."""
        phone = find_phone(text, self.store.settings.default_phone_region)
        email, address = find_email(text), find_address(text)
        found = {k: v for k, v in (("phone", phone[1] if phone else None), ("email", email), ("address", address)) if v}
        leftover = text
        for typed in (phone[0] if phone else None, email, address):
            if typed:
                leftover = leftover.replace(typed, " ")
        return found, leftover

    def pick(self, flow: str, data: Doc, slot: str, docs: list[Doc], what: str, label: Callable[[Doc], str]) -> Doc:
        """The one record meant; asks when several match; stops with a message when none do."""
        key, table = ID_FIELD[what], TABLE[what]
        ref = clean_ref(str(data.get("ref", ""))).lower()
        if not data.get(slot) and (ref in PRONOUNS or not ref):
            if what == "contact" and self.focus.get("contact"):
                data[slot] = self.focus["contact"]
            elif what != "contact" and self.focus.get(what):
                data[slot] = self.focus[what]
            elif self.focus.get("contact"):
                linked = self.store.linked(table, "contact_id", self.focus["contact"])
                docs = [
                    d
                    for d in linked
                    if d.get("status") in OPEN_LEAD_STATUSES or d.get("stage") in OPEN_OPPORTUNITY_STAGES
                ]
        if data.get(slot):
            doc = self.store.require(table, data[slot])
            self._remember(what, doc)
            return doc
        if not docs:
            self.reply.say(f"I couldn't find a {what} matching {data.get('ref', '')!r}. Try a name, phone, or id.")
            raise Asked
        if len(docs) == 1:
            data[slot] = docs[0][key]
            self._remember(what, docs[0])
            return docs[0]
        choices = [(d[key], label(d)) for d in docs[:8]]
        self.need(flow, data, slot, f"Several {what}s match {data.get('ref', '')!r}. Which one?", "choice", choices)

    def _remember(self, what: str, doc: Doc) -> None:
        self.focus[what] = doc[ID_FIELD[what]]
        if what != "contact" and doc.get("contact_id"):
            self.focus["contact"] = doc["contact_id"]

    def open_leads(self, ref: str) -> list[Doc]:
        """Open leads matching ``ref``; if only closed ones match, say so and stop."""
        found = resolve.leads(self.store, ref)
        if not found and ref.strip():
            closed = resolve.leads(self.store, ref, ("converted", "disqualified"))
            if closed:
                lead = closed[0]
                self.reply.say(
                    f"The lead {lead['title']} ({lead['lead_id']}) is already {lead['status']}, which is final; "
                    "it stays on file as history."
                )
                raise Asked
        return found

    def contact_label(self, d: Doc) -> str:
        phone = phone_display((d.get("phones") or [""])[0], self.store.settings.default_phone_region)
        extra = "".join(f", {x}" for x in (phone, d.get("address")) if x)
        return f"{full_name(d)} ({d['contact_id']}){extra}"

    def lead_label(self, d: Doc) -> str:
        contact = self.store.get("contacts", d["contact_id"]) if d.get("contact_id") else None
        return f"{d['title']} ({d['lead_id']}) — {full_name(contact) if contact else 'no contact'}, {d['status']}"

    def job_label(self, d: Doc) -> str:
        contact = self.store.get("contacts", d["contact_id"]) if d.get("contact_id") else None
        who = full_name(contact) if contact else "no contact"
        return f"{d['name']} ({d['opportunity_id']}) — {who}, {d['stage'].replace('_', ' ')}"

    def report(self, outcome: Outcome) -> bool:
        """Say what happened; True when the tool ran."""
        if outcome.status == "ok":
            return True
        if outcome.status == "error":
            self.reply.error(outcome.message)
        else:
            self.reply.say(outcome.message)
        return False
