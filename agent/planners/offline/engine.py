"""The offline planner's conversation engine: reading a line, asking for what is missing one
question at a time, taking the next line as the answer only when it is one, confirming a guess
before writing it, and reporting what a tool did.

The rules an answer has to pass before it is stored, whatever the question:

- "cancel", "never mind" drop the question;
- an empty line skips a question that may be skipped, and asks again otherwise;
- a line that is itself a request ("what's our pipeline?", "add a new customer, …") is answered as
  a request, and the question is dropped (said so);
- a yes or a no is never stored as a name, an address, a phone or a source;
- a phone, email, date or amount must read as one; a reason or a choice must be one of the options.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NoReturn

from backoffice.agent.gate.gate import Outcome
from backoffice.agent.planners.base import Turn
from backoffice.agent.planners.offline import resolve
from backoffice.agent.planners.offline.requests import Request, Understanding
from backoffice.agent.planners.offline.understand import (
    disqualify_reason,
    find_address,
    find_amounts,
    find_date,
    find_email,
    find_phone,
    lost_reason,
    only_details,
)
from backoffice.agent.planners.offline.words import Normaliser, is_skip, plain, yes_no
from backoffice.agent.reply import Reply
from backoffice.tools.book.normalize import full_name, phone_display
from backoffice.tools.book.store import Doc, Store

CONFIRM_BELOW = 70  # how sure a reference must be for a write to go ahead without a one-line confirmation
CANCEL = {"cancel", "never mind", "nevermind", "forget it", "stop", "nvm", "scratch that", "forget that"}
PRONOUNS = re.compile(r"\b(?:them|him|her|they|it|this one|that one|he|she|this|that|the same|em)\b")
ID_FIELD = resolve.ID_FIELD
TABLE = resolve.TABLE
# slots whose answer is typed in words, so a line may be a new request instead (choices, yes/no and
# the open "anything else" question have their own rules)
ANSWERED_IN_WORDS = {"text", "address", "contact", "lead", "job", "reason", "lost_reason", "phone", "email", "date",
                     "money"}  # fmt: skip


class Asked(Exception):
    """A flow stopped to ask the owner something; the next message answers it."""


@dataclass
class Waiting:
    flow: str
    slot: str
    kind: str
    question: str
    data: Doc
    choices: list[tuple[str, str]] = field(default_factory=list)
    optional: bool = False
    about: str = ""  # what the question was about, for "I dropped the question about …"


class Said:
    """One line from the owner: as typed, normalised, which request it is, and what it mentions."""

    def __init__(self, engine: Engine, text: str):
        self.engine = engine
        self.raw = " ".join(text.split())
        self.norm = engine.normalise(self.raw)
        self.request, self.match, self.weight = engine.understanding.classify(self.norm)

    @cached_property
    def mentions(self) -> resolve.Mentions:
        skip: set[str] = set()
        if self.match is not None:
            # the words the cue itself is written with ("mark" in "mark it won"), not a name it spanned
            source = self.match.re.pattern
            skip = {
                w for w in re.findall(r"[a-z]+", self.match.group(0)) if re.search(rf"(?<![a-z]){w}(?![a-z])", source)
            }
        return resolve.find_mentions(self.engine.store, self.norm, skip)

    @property
    def region(self) -> str:
        return str(self.engine.store.settings.default_phone_region)

    @property
    def order(self) -> str:
        return self.engine.date_order()

    def phone(self) -> tuple[str, str] | None:
        return find_phone(self.raw, self.region)

    def email(self) -> str | None:
        return find_email(self.raw)

    def date(self) -> Any:
        return find_date(self.norm, self.engine.store.today(), self.order)


class Engine:
    """The conversation mechanics shared by every flow."""

    name = "offline"

    def __init__(self, understanding: Understanding) -> None:
        self.understanding = understanding
        self.normalise = Normaliser(understanding.vocabulary())
        self.waiting: Waiting | None = None
        self.focus: dict[str, str] = {}  # the contact, lead, job and follow-up last talked about
        self.memory: dict[str, Any] = {}  # the last draft shown, the last duplicate found
        self.turn: Turn
        self.reply: Reply

    # ------------------------------------------------------------------ entry
    def respond(self, text: str, turn: Turn) -> Reply:
        self.turn, self.reply = turn, turn.reply
        self.reply.planner = self.name
        line = " ".join(text.split())
        try:
            if self.waiting is not None:
                waiting, self.waiting = self.waiting, None
                if plain(line).strip(" .!") in CANCEL:
                    return self.reply.say("OK, dropped that.")
                if self._answer(waiting, line):
                    return self.reply
                self.reply.notice(f"(I set aside my question{waiting.about} and took that as a new request.)")
            if line:
                self.handle(Said(self, line))
        except Asked:
            pass
        return self.reply

    def handle(self, said: Said) -> None:
        request = said.request
        if request is None:
            self.not_understood(said)
            return
        handler: Callable[[Said], None] | None = getattr(self, f"on_{request.flow}", None)
        if handler is None:
            self.not_understood(said)
            return
        handler(said)

    def not_understood(self, said: Said) -> None:
        self.reply.say("I didn't catch that. " + self.short_help())

    def short_help(self) -> str:
        return 'Type "help" to see what I understand.'

    # ------------------------------------------------------------------ plumbing
    @property
    def store(self) -> Store:
        return self.turn.store

    def date_order(self) -> str:
        """How the business writes 12/3: its date_order setting, else what its region does."""
        settings = self.store.settings
        first = getattr(settings, "month_first", None)
        if isinstance(first, bool):
            return "month_first" if first else "day_first"
        return str(settings.default_phone_region)

    def call(self, tool: str, /, **args: Any) -> Outcome:
        return self.turn.gate.call(tool, {k: v for k, v in args.items() if v is not None})

    def request(self, name: str) -> Request:
        found = self.understanding.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def question(self, request: str, slot: str, **names: Any) -> str:
        found = self.understanding.get(request)
        return found.question(slot, **names) if found else slot

    def need(
        self,
        flow: str,
        data: Doc,
        slot: str,
        kind: str = "text",
        question: str | None = None,
        choices: list[tuple[str, str]] | None = None,
        optional: bool = False,
        about: str = "",
        **names: Any,
    ) -> NoReturn:
        """Ask for ``slot`` and stop; the next line answers it and ``flow_<flow>(data)`` runs again."""
        text = question if question is not None else self.question(flow, slot, **names)
        self.waiting = Waiting(flow, slot, kind, text, data, choices or [], optional, about)
        shown = text
        if choices:
            shown += "\n" + "\n".join(f"{i}. {label}" for i, (_, label) in enumerate(choices, start=1))
        self.reply.say(shown)
        raise Asked

    def confirm(self, flow: str, data: Doc, summary: str) -> None:
        """A guess is put to the owner in one line before anything is written."""
        if "confirmed" in data:  # answered: yes goes on, no is handled by the flow
            return
        self.need(flow, data, "confirmed", "yesno", f"{summary} [yes/no]", about=" to confirm")

    def resume(self, flow: str, data: Doc) -> None:
        getattr(self, f"flow_{flow}")(data)

    # ------------------------------------------------------------------ answers
    def looks_like_request(self, text: str, strict: bool = True, bar: int = 25) -> bool:
        """``text`` reads as a request of its own rather than an answer."""
        said = Said(self, text)
        if said.request is None or said.request.name in ("smalltalk", "send_draft"):
            return False
        if said.match is None:
            return False
        if not strict:
            return said.weight >= bar
        polite = re.match(r"(?:(?:hey|hi|ok|okay|so|and|also|oh|please|pls|can you|could you|can u|would you|"
                          r"i need you to|i want to|lets|let us)[,!]?\s+)*", said.norm)  # fmt: skip
        anchored = said.match.start() <= (polite.end() if polite else 0) + 2
        if strict:
            return said.weight >= 25 and (anchored or text.rstrip().endswith("?"))
        return said.weight >= 25

    def _new_request(self, w: Waiting, text: str) -> bool:
        """A line typed while a question waits is a request of its own when it starts like one, or
        reads strongly as a different request ("mark I-15 done" while a reason is asked for): it must
        never be stored as the answer (a phone number on the wrong person, a command as a reason)."""
        if w.kind in ("phone", "email") and only_details(text, self.store.settings.default_phone_region):
            return False  # "her cell is 555 771 0042": the answer, whatever else it looks like
        if self.looks_like_request(text):
            return True
        if w.kind == "reason" and disqualify_reason(self.normalise(text)):  # "they went quiet, no response"
            return False
        if w.kind == "lost_reason" and lost_reason(self.normalise(text), None):
            return False
        said = Said(self, text)
        if said.request is None or said.match is None or said.request.name in ("smalltalk", "send_draft", w.flow):
            return False
        return said.weight >= 30 or (said.match.start() == 0 and said.weight >= 20)

    def _answer(self, w: Waiting, text: str) -> bool:
        """Fill the slot the last question asked for and carry on. False when the line is not an
        answer but a request of its own: the caller handles it as one."""
        value: Any = text
        retry: str | None = None
        kind = w.kind
        answer = yes_no(text) if text else None
        region = self.store.settings.default_phone_region
        if kind == "yesno":
            if answer is None:
                return False
            return self._filled(w, answer, text)
        if not text.strip():
            if w.optional:
                return self._filled(w, "")
            return self._again(w, f"{w.question} (or cancel)")
        if kind == "choice":
            choice = self._choose(w.choices, text)
            if choice is None:
                if self.looks_like_request(text, strict=False, bar=15):  # not one of the options: a new request
                    return False
                return self._again(w, "Please answer with one of the numbers (or cancel).")
            return self._filled(w, choice)
        if kind == "details":
            if answer is None and not only_details(text, region) and (
                self.looks_like_request(text, strict=False) or self._new_request(w, text)
            ):
                return False
            return self._filled(w, answer if answer is not None else text, text)
        if kind in ANSWERED_IN_WORDS and self._new_request(w, text):
            return False
        if is_skip(text) or answer is False:
            if w.optional:
                return self._filled(w, "")
            return self._again(w, f"I need that to go on. {w.question} (or cancel)")
        if answer is True and len(text.split()) <= 2:
            return self._again(w, w.question)
        if kind == "phone":
            found = find_phone(text, region)
            if found is None and self.looks_like_request(text, strict=False):
                return False
            value = found[1] if found else None
            retry = None if found else f"{text!r} is not a phone number I can read. What's the number? (or skip)"
        elif kind == "email":
            value = find_email(text)
            retry = None if value else f"{text!r} is not an email address. What's the email? (or skip)"
        elif kind == "date":
            when = find_date(self.normalise(text), self.store.today(), self.date_order())
            value = when.day if when else None
            retry = None if when else f"{text!r} is not a day I can read. Which day? (e.g. Friday, 12/3, in 2 weeks)"
            if when and when.day < self.store.today():  # every day asked for is a next step
                value, retry = None, f"{when.day:%a %b %-d} has already passed. Which day? (e.g. Friday, 12/3)"
        elif kind == "money":
            amounts = find_amounts(text) or find_amounts(f"about {text.strip()}")
            if amounts and amounts[0].value is not None:
                value = amounts[0].value
            else:
                retry = (amounts[0].problem + ". " if amounts else "") + "What's the amount? (e.g. $8,500 or 15k)"
        elif kind == "address":
            value = find_address(text, town=True) or text.strip()
        if retry:
            return self._again(w, retry)
        return self._filled(w, value, text)

    def _filled(self, w: Waiting, value: Any, text: str | None = None) -> bool:
        """The slot answered (with the line as typed, when it matters): the flow carries on."""
        w.data[w.slot] = value
        if text is not None:
            w.data[f"{w.slot}_text"] = text
        self.resume(w.flow, w.data)
        return True

    def _again(self, w: Waiting, question: str) -> bool:
        """Not an answer the slot can take: say why and keep waiting for it."""
        self.waiting = w
        self.reply.say(question)
        return True

    @staticmethod
    def _choose(choices: list[tuple[str, str]], text: str) -> str | None:
        t = plain(text).strip(" .!")
        m = re.fullmatch(r"(?:#|no\.?|number|option)?\s*(\d+)(?:st|nd|rd|th)?", t)
        if m and 1 <= int(m.group(1)) <= len(choices):
            return choices[int(m.group(1)) - 1][0]
        ordinals = {"first": 1, "second": 2, "third": 3, "fourth": 4, "the first": 1, "the second": 2}
        if t in ordinals and ordinals[t] <= len(choices):
            return choices[ordinals[t] - 1][0]
        if len(choices) == 1 and yes_no(text):
            return choices[0][0]
        hits = [key for key, label in choices if t and (t == key.lower() or t in label.lower())]
        return hits[0] if len(hits) == 1 else None

    # ------------------------------------------------------------------ finding the record meant
    def pick(
        self,
        flow: str,
        data: Doc,
        slot: str,
        kind: str,
        said: Said | None,
        open_only: bool = True,
        question: str | None = None,
        everyone: bool = True,
    ) -> Doc:
        """The one record of ``kind`` meant: by id, by what the line says, by "it"/"her" (the record
        last talked about). Several: the owner chooses. None: the owner is asked, with the open
        records listed when there are few."""
        table, key = TABLE[kind], ID_FIELD[kind]
        if data.get(slot):
            doc = self.store.require(table, data[slot])
            self.remember(kind, doc)
            return doc
        hits: list[resolve.Hit] = []
        if said is not None:
            hits = said.mentions.candidates(kind, open_only=open_only)
            if not hits and PRONOUNS.search(said.norm) and self.focus.get(kind):
                focused = self.store.get(table, self.focus[kind])
                if focused and (not open_only or resolve.is_open(kind, focused)):
                    hits = [resolve.Hit(kind, focused, 80, "it")]
            if not hits and kind != "contact" and PRONOUNS.search(said.norm) and self.focus.get("contact"):
                linked = self.store.linked(table, "contact_id", self.focus["contact"])
                hits = [resolve.Hit(kind, d, 70, "their") for d in linked if not open_only or resolve.is_open(kind, d)]
        top = resolve.best(hits)
        if len(top) == 1:
            data[slot] = top[0].id
            data.setdefault("_sure", {})[slot] = top[0].score
            self.remember(kind, top[0].doc)
            return top[0].doc
        label = self.label_for(kind)
        text = question or self.question(flow, slot) or f"Which {kind}?"
        if top:
            choices = [(h.id, label(h.doc)) for h in top[:8]]
            what = "people" if kind == "contact" else f"{kind}s"
            self.need(flow, data, slot, "choice", f"A few {what} fit. {text}", choices)
        if everyone:
            table_docs = self.open_records(kind) if open_only else []
            if 1 <= len(table_docs) <= 8:
                self.need(flow, data, slot, "choice", text, [(d[key], label(d)) for d in table_docs])
        self.need(flow, data, slot, kind, text)

    def sure(self, data: Doc, slot: str) -> float:
        return float((data.get("_sure") or {}).get(slot, 100))

    def unsure(self, data: Doc, slot: str) -> bool:
        """The record in ``slot`` was found on thin evidence (a person named only by their job, "the pool
        guy"; a word two records share): a write to it is confirmed in one line first."""
        return self.sure(data, slot) < CONFIRM_BELOW

    def open_records(self, kind: str) -> list[Doc]:
        if kind == "lead":
            return self.store.scan("leads", status=("new", "working", "qualified"))[:9]
        if kind == "job":
            return self.store.open_jobs(limit=9)
        return []

    def remember(self, kind: str, doc: Doc) -> None:
        self.focus[kind] = doc[ID_FIELD[kind]]
        if kind != "contact" and doc.get("contact_id"):
            self.focus["contact"] = doc["contact_id"]

    def label_for(self, kind: str) -> Callable[[Doc], str]:
        return {"contact": self.contact_label, "lead": self.lead_label, "job": self.job_label}.get(
            kind, lambda d: str(d.get("name") or d.get("title"))
        )

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

    def first_name(self, contact: Doc | None) -> str:
        if not contact:
            return "them"
        return str(contact.get("first_name") or full_name(contact) or "them")

    def flow_draft(self, d: Doc) -> None:  # CallFlows drafts; the lead flows offer a draft after an inquiry
        raise NotImplementedError

    def report(self, outcome: Outcome) -> bool:
        """Say what went wrong; True when the tool ran."""
        if outcome.status == "ok":
            return True
        if outcome.status == "error":
            self.reply.error(outcome.message)
        else:
            self.reply.say(outcome.message)
        return False
