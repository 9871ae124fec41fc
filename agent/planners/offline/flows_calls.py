"""Calls and follow-ups: logging a touchpoint on the lead or job it was about (asking when unsure),
closing the callback it answers, reminders, finishing, cancelling and moving follow-ups, drafting
and sending follow-up messages, and requests declared with plain tool calls."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, NoReturn

from backoffice.agent.planners.offline import resolve
from backoffice.agent.planners.offline.engine import Engine, Said
from backoffice.agent.planners.offline.understand import find_amounts, find_dates, find_follow_up, find_outcome
from backoffice.tools.book.models import OPEN_LEAD_STATUSES, is_open_job
from backoffice.tools.book.normalize import full_name
from backoffice.tools.book.store import Doc
from backoffice.tools.catalog import all_tools
from backoffice.tools.reports.activity import summary

KINDS = [  # the words that say what kind of touchpoint it was, in the order they are tried
    ("note", r"^(?:please )?(?:log|add|make|jot down|write down|record)? ?(?:a |an )?note\b|^note\b|"
             r"\bnote (?:on|for|to)\b"),
    ("sms", r"\b(?:texted|text|texts|sms|messaged|whatsapp(?:ed)?)\b"),
    ("email", r"\b(?:emailed|email|emails|e-mailed|wrote)\b"),
    ("meeting", r"\b(?:met|meeting|meet|visited|visit|went out|stopped by|dropped by|swung by|walkthrough|walk through|"
                r"no show|no showed|site visit|was at|out at|on site|onsite)\b"),
    ("phone_call", r"\b(?:called|call|calls|rang|ring|phoned|phone|spoke|spoken|talked|talk|voicemail|"
                   r"left (?:a )?message|"
                   r"left word|no answer)\b"),
]  # fmt: skip
# What a line can hold and still say nothing about how it went: "log a call with Dana", "I called Dana".
SUMMARY_FILLER = set(
    """i we just log logged a an the call called calls phone phoned rang ring spoke spoken talked talk met meet with to
    for on about please my me had have email emailed text texted visit visited note message with at today earlier
    quick chat meeting""".split()  # noqa: SIM905 - a word list is easier to read as text
)
LOGGED_AS = {"phone_call": "call", "sms": "text", "meeting": "visit", "email_inbound": "email",
             "email_outbound": "email",
             "note": "note"}  # fmt: skip
SEND_WORDS = re.compile(
    r"\band send\b|\bthen send\b|\bsend it\b|^(?:please )?(?:send|email|shoot)\b|"
    r"\bfollow up (?:on|with|about|for|to)\b|"
    r"\bchase\b"
)
DRAFT_ONLY = re.compile(r"\b(?:draft|write|nudge|what should i (?:say|tell|write|send)|check in)\b")


class CallFlows(Engine):
    # ------------------------------------------------------------------ logging a touchpoint
    def on_log(self, said: Said) -> None:
        t = said.norm
        kind = _touch_kind(t)
        if kind == "email":
            kind = _email_direction(t, said)
        when = next((w.day for w in find_dates(t, self.store.today(), said.order) if w.past), None)
        self.flow_log({"said": said, "type": kind, "summary": _summary(said), "on": when.isoformat() if when else None})

    def flow_log(self, d: Doc) -> None:
        said: Said | None = d.pop("said", None)
        contact = self.pick("log", d, "who", "contact", said, open_only=False)
        if not d.get("summary"):
            self.need("log", d, "summary", "text")
        text = str(d["summary"]).strip()
        norm = self.normalise(text)
        today = self.store.today()
        follow_up = find_follow_up(norm, today, self.date_order())
        outcome_kind = find_outcome(norm, d["type"] in ("phone_call", "meeting"))
        work = self._work_for(d, contact, said, norm)
        if self.unsure(d, "who") and not d.get("confirmed"):
            parts = [outcome_kind.replace("_", " ")] if outcome_kind not in ("none", "spoke") else []
            if follow_up:
                parts.append(f"follow up {follow_up:%a %b} {follow_up.day}")
            extra = f" — {', '.join(parts)}" if parts else ""
            self.confirm("log", d, f"Log a {LOGGED_AS[d['type']]} with {full_name(contact)}{extra}?")
        if d.get("confirmed") is False:
            self.reply.say("OK, nothing logged. Tell me again who it was with.")
            return
        stamp = f"{d['on']}T12:00:00" if d.get("on") else None
        outcome = self.call(
            "log_interaction",
            type=d["type"],
            contact_id=contact["contact_id"],
            lead_id=work.get("lead_id"),
            opportunity_id=work.get("opportunity_id"),
            subject=re.split(r"(?<=[.!?])\s|\n", text)[0][:80],
            body=text,
            outcome=outcome_kind,
            follow_up_date=follow_up.isoformat() if follow_up else None,
            timestamp=stamp,
            about_contact_only=True if work.get("none") else None,
        )
        if not self.report(outcome) or outcome.result is None:
            return
        on = ""
        if work.get("opportunity_id"):
            job = self.store.require("opportunities", work["opportunity_id"])
            self.remember("job", job)
            on = f" on {job['name']} ({job['opportunity_id']})"
        elif work.get("lead_id"):
            lead = self.store.require("leads", work["lead_id"])
            self.remember("lead", lead)
            on = f" on the lead {lead['title']} ({lead['lead_id']})"
        self.remember("contact", contact)
        message = f"Logged the {LOGGED_AS[d['type']]} with {full_name(contact)}{on}."
        if follow_up:
            message += f" Follow-up set for {follow_up:%a %b} {follow_up.day}."
        elif d["type"] in ("phone_call", "meeting"):
            message += " No follow-up date set."
        self.reply.say(message)
        closed = outcome.result.get("closed_follow_up")
        if closed:  # the tool closes the promised callback this touch answers
            self.reply.say(f"Closed the follow-up it answers: {closed['interaction_id']} "
                           f"({summary(closed)}, due {closed['follow_up_date']}).")  # fmt: skip
        self._next_step(outcome_kind, work, contact)

    def _work_for(self, d: Doc, contact: Doc, said: Said | None, norm: str) -> Doc:
        """The open lead or job a touchpoint was about: the only one, or the one the words point at;
        with several and nothing to tell them apart, the owner chooses."""
        if "work" in d:
            choice = d["work"]
            if not choice or choice == "none":
                return {"none": True}
            return {"opportunity_id": choice} if str(choice).startswith("O-") else {"lead_id": choice}
        jobs = [o for o in self.store.linked("opportunities", "contact_id", contact["contact_id"])
                if is_open_job(o)]  # fmt: skip
        leads = [x for x in self.store.linked("leads", "contact_id", contact["contact_id"])
                 if x["status"] in OPEN_LEAD_STATUSES]  # fmt: skip
        work = [("opportunity_id", o["opportunity_id"], o) for o in jobs] + [
            ("lead_id", x["lead_id"], x) for x in leads
        ]
        if not work:
            return {}
        if len(work) == 1:
            return {work[0][0]: work[0][1]}
        mentions = resolve.find_mentions(self.store, norm)
        named = {h.id: h.score for h in mentions.of("lead") + mentions.of("job") if "title" in h.via or h.via == "id"}
        scored = sorted(((named.get(rid, 0), field, rid) for field, rid, _ in work), reverse=True)
        if scored[0][0] > 0 and (len(scored) == 1 or scored[0][0] >= scored[1][0] + 15):
            return {scored[0][1]: scored[0][2]}
        choices = [(rid, self.job_label(doc) if field == "opportunity_id" else self.lead_label(doc))
                   for field, rid, doc in work]  # fmt: skip
        choices.append(("none", f"none of them — just {full_name(contact)}"))
        self.need("log", d, "work", "choice", f"Which of {self.first_name(contact)}'s jobs was it about?", choices)

    def _next_step(self, outcome_kind: str, work: Doc, contact: Doc) -> None:
        if outcome_kind == "accepted_proposal" and work.get("lead_id"):
            self.reply.say('They said yes: say "convert it" to make it a job.')
        elif outcome_kind == "accepted_proposal" and work.get("opportunity_id"):
            self.reply.say('They said yes: say "mark it won" when it is signed (I ask you first).')

    # ------------------------------------------------------------------ reminders
    def on_remind(self, said: Said) -> None:
        when = next((w.day for w in find_dates(said.norm, self.store.today(), said.order) if not w.past), None)
        m = re.search(r"\bremind me (?:to |about )?(?P<what>.+)$", said.raw, re.I)
        self.flow_remind({"said": said, "when": when, "what": (m.group("what") if m else said.raw).strip(" .")})

    def flow_remind(self, d: Doc) -> None:
        contact = self.pick("remind", d, "who", "contact", d.pop("said", None), open_only=False)
        if not d.get("when"):
            pending = [f for f in self.store.pending_follow_ups() if f.get("contact_id") == contact["contact_id"]]
            if pending:
                item = pending[0]
                self.reply.say(f"{self.first_name(contact)} already has a follow-up pending: {item['interaction_id']} "
                               f"({summary(item)}, due {item['follow_up_date']}).")  # fmt: skip
            self.need("remind", d, "when", "date")
        when = d["when"] if isinstance(d["when"], dt.date) else dt.date.fromisoformat(str(d["when"]))
        work = self._work_for(d, contact, None, "")
        links = {k: v for k, v in work.items() if k in ("lead_id", "opportunity_id")}
        outcome = self.call("log_interaction", type="note", contact_id=contact["contact_id"], **links,
                            about_contact_only=True if work.get("none") else None,
                            subject=f"Reminder: {d['what']}"[:80], body=str(d["what"]),
                            follow_up_date=when.isoformat())  # fmt: skip
        if self.report(outcome):
            self.remember("contact", contact)
            self.reply.say(f"Reminder set for {when:%a %b} {when.day}: {d['what']}.")

    # ------------------------------------------------------------------ finishing, cancelling, moving follow-ups
    def on_complete_follow_up(self, said: Said) -> None:
        self.flow_close({"said": said, "how": "complete"})

    def on_cancel_follow_up(self, said: Said) -> None:
        self.flow_close({"said": said, "how": "cancel"})

    def on_reschedule_follow_up(self, said: Said) -> None:
        when = next((w.day for w in find_dates(said.norm, self.store.today(), said.order) if not w.past), None)
        self.flow_close({"said": said, "how": "move", "when": when})

    def flow_close(self, d: Doc) -> None:
        said: Said | None = d.pop("said", None)
        flow = {"complete": "complete_follow_up", "cancel": "cancel_follow_up", "move": "reschedule_follow_up"}[
            d["how"]
        ]
        items = self._follow_ups_meant(d, said, flow)
        if d["how"] == "move":
            if not d.get("when"):
                self.need("close", d, "when", "date", self.question(flow, "when"))
            when = d["when"] if isinstance(d["when"], dt.date) else dt.date.fromisoformat(str(d["when"]))
            for item in items:
                self._move(item, when)
            return
        note = d.get("note")
        for item in items:
            tool = "complete_follow_up" if d["how"] == "complete" else "cancel_follow_up"
            outcome = self.call(tool, interaction_id=item["interaction_id"], note=note)
            if self.report(outcome):
                who = self._who(item)
                verb = "done" if d["how"] == "complete" else "canceled"
                self.reply.say(f"Marked {item['interaction_id']} {verb}: {who} — {summary(item)}.")

    def _follow_ups_meant(self, d: Doc, said: Said | None, flow: str) -> list[Doc]:
        if d.get("pick"):
            d["ids"] = [d.pop("pick")]
        if d.get("ids"):
            return [self.store.require("interactions", i) for i in d["ids"]]
        pending = self.store.pending_follow_ups()
        if not pending:
            self.reply.say("There are no pending follow-ups.")
            raise_asked()
        chosen: list[Doc] = []
        if said is not None:
            ids = [m.upper() for m in re.findall(r"\bi-\d+\b", said.norm)]
            if ids:
                for rid in ids:
                    item = self.store.get("interactions", rid)
                    if item is None or item["follow_up_status"] != "pending":
                        status = item["follow_up_status"] if item else "not in the book"
                        self.reply.say(f"{rid} is {status}; only a pending follow-up can be closed or moved.")
                        raise_asked()
                    chosen.append(item)
            else:
                chosen = self._by_reference(said, pending)
                if d["how"] == "complete":
                    d["note"] = _closing_note(said.raw)
        if not chosen:
            if (
                said is not None
                and re.search(r"\b(?:both|all)\b", said.norm)
                and (len(pending) == 2 or re.search(r"\ball\b", said.norm))
            ):
                chosen = pending
            else:
                choices = [(f["interaction_id"], f"{self._who(f)} — {summary(f)} (due {f['follow_up_date']})")
                           for f in pending[:8]]  # fmt: skip
                self.need("close", d, "pick", "choice", self.question(flow, "follow_up"), choices)
        d["ids"] = [f["interaction_id"] for f in chosen]
        return chosen

    def _by_reference(self, said: Said, pending: list[Doc]) -> list[Doc]:
        """Pending follow-ups of the person, lead or job the owner names; several of one person are
        told apart by the words used ("the voicemail callback")."""
        people = {h.id for h in resolve.best(said.mentions.candidates("contact"))}
        records = {h.id for h in resolve.best(said.mentions.candidates("lead") + said.mentions.candidates("job"))}
        mine = [
            f for f in pending if f.get("contact_id") in people or {f.get("lead_id"), f.get("opportunity_id")} & records
        ]
        if len(mine) <= 1:
            return mine
        words = set(said.norm.split())
        scored = [(len(words & set(self.normalise(f"{f.get('subject', '')} {f.get('body', '')} {f['outcome']}")
                                   .split())), f)
                  for f in mine]  # fmt: skip
        scored.sort(key=lambda x: -x[0])
        if scored[0][0] > scored[1][0]:
            return [scored[0][1]]
        return []

    def _move(self, item: Doc, when: dt.date) -> None:
        who = self._who(item)
        if "reschedule_follow_up" in all_tools():
            outcome = self.call(
                "reschedule_follow_up", interaction_id=item["interaction_id"], follow_up_date=when.isoformat()
            )
            if self.report(outcome):
                self.reply.say(f"Moved {item['interaction_id']} ({who}) to {when:%a %b} {when.day}.")
            return
        cancelled = self.call("cancel_follow_up", interaction_id=item["interaction_id"],
                              note=f"moved to {when.isoformat()}")  # fmt: skip
        if not self.report(cancelled):
            return
        links = {k: item.get(k) for k in ("contact_id", "lead_id", "opportunity_id") if item.get(k)}
        logged = self.call("log_interaction", type="note", **links, subject=(item.get("subject") or summary(item))[:80],
                           body=f"Follow-up moved from {item['follow_up_date']} ({item['interaction_id']}).",
                           follow_up_date=when.isoformat())  # fmt: skip
        if self.report(logged) and logged.result:
            new = logged.result["interaction"]["interaction_id"]
            self.reply.say(f"Moved the follow-up with {who} to {when:%a %b} {when.day} ({item['interaction_id']} "
                           f"canceled, {new} pending).")  # fmt: skip

    def _who(self, item: Doc) -> str:
        contact = self.store.get("contacts", item["contact_id"]) if item.get("contact_id") else None
        return full_name(contact) if contact else "no contact"

    # ------------------------------------------------------------------ drafting and sending
    def on_draft(self, said: Said) -> None:
        send = bool(SEND_WORDS.search(said.norm)) and not (
            DRAFT_ONLY.search(said.norm) and not re.search(r"\b(?:and|then) send\b|\bsend it\b", said.norm)
        )
        self.flow_draft({"said": said, "send": send})

    def flow_draft(self, d: Doc) -> None:
        said: Said | None = d.pop("said", None)
        target = {k: d[k] for k in ("lead_id", "opportunity_id", "contact_id") if d.get(k)}
        if d.get("choice"):
            choice = str(d["choice"])
            target = {"opportunity_id" if choice.startswith("O-") else "lead_id": choice}
        if not target:
            target = self._draft_target(d, said)
        drafted = self.call("draft_follow_up", **target)
        if not self.report(drafted) or drafted.result is None:
            return
        draft = drafted.result
        self.memory["draft"] = draft
        for key, field in (("lead", "lead_id"), ("job", "opportunity_id"), ("contact", "contact_id")):
            if draft.get(field):
                doc = self.store.get(
                    {"lead": "leads", "job": "opportunities", "contact": "contacts"}[key], draft[field]
                )
                if doc:
                    self.remember(key, doc)
        self.reply.say(drafted.message)
        if not draft["to"]:
            self.reply.say(f"Here is what you could say on the phone:\n\n{draft['body']}")
            return
        if not d.get("send"):
            self.reply.say(f"Draft for {draft['to_name']} <{draft['to']}> — {draft['subject']}:\n\n{draft['body']}")
            self.reply.say('Say "send it" to email it (you see it once more before it goes), or ask for another.')
            return
        self._send(draft)

    def _draft_target(self, d: Doc, said: Said | None) -> Doc:
        if said is None:
            self.need("draft", d, "target", "text")
        words = said.norm
        leads = [] if re.search(r"\bjob\b", words) else said.mentions.candidates("lead", open_only=True)
        jobs = [] if re.search(r"\blead\b", words) else [
            h for h in said.mentions.candidates("job")
            if resolve.is_open("job", h.doc) or "title" in h.via or "address" in h.via or h.via == "id"
        ]  # fmt: skip
        top = resolve.best(sorted(leads + jobs, key=lambda h: -h.score))
        if len(top) == 1:
            hit = top[0]
            return {"lead_id": hit.id} if hit.kind == "lead" else {"opportunity_id": hit.id}
        if top:
            choices = [(h.id, self.lead_label(h.doc) if h.kind == "lead" else self.job_label(h.doc)) for h in top[:8]]
            self.need("draft", d, "choice", "choice", "A few fit. Which one is the follow-up about?", choices)
        people = resolve.best(said.mentions.candidates("contact"))
        if len(people) == 1:
            return {"contact_id": people[0].id}
        d["said"] = said
        self.pick("draft", d, "contact_id", "contact", said, open_only=False)
        return {"contact_id": d["contact_id"]}

    def on_send_draft(self, said: Said) -> None:
        draft = self.memory.get("draft")
        if not draft or not draft.get("to"):
            self.reply.say('There is no draft waiting to be sent. Say "follow up with Dana" and I will write one.')
            return
        self._send(draft)

    def _send(self, draft: Doc) -> None:
        sent = self.call(
            "send_message",
            contact_id=draft["contact_id"],
            subject=draft["subject"],
            body=draft["body"],
            lead_id=draft["lead_id"],
            opportunity_id=draft["opportunity_id"],
            purpose="follow_up",
            in_reply_to=draft.get("in_reply_to"),
            thread_id=draft.get("thread_id"),
        )
        if sent.status == "ok":
            self.memory.pop("draft", None)
            self.reply.say(sent.message)
        elif sent.status == "declined":
            self.reply.say('OK, not sent. Say "send it" if you change your mind, or ask me for another draft.')
        else:
            self.report(sent)

    # ------------------------------------------------------------------ requests declared with tool calls
    def on_calls(self, said: Said) -> None:
        self.flow_calls({"said": said, "request": said.request.name if said.request else ""})

    def flow_calls(self, d: Doc) -> None:
        request = self.request(d["request"])
        said: Said | None = d.pop("said", None)
        values: dict[str, Any] = dict(d.get("values") or {})
        for slot in request.slots.values():
            if slot.name in values:
                continue
            if slot.name in d:
                values[slot.name] = _slot_value(d[slot.name])
                continue
            found = self._fill(slot.kind, said) if said is not None else None
            if found is not None:
                values[slot.name] = found
            elif slot.optional:
                values[slot.name] = ""
            else:
                d["values"] = values
                if slot.kind in ("contact", "lead", "job"):
                    self.pick(d["request"], d, slot.name, slot.kind, said, open_only=slot.kind != "contact")
                    values[slot.name] = d[slot.name]
                    continue
                self.need("calls", d, slot.name, slot.kind, request.question(slot.name))
        d["values"] = values
        names = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()}
        for call in request.calls:
            args = {k: _format(v, names) for k, v in (call.get("args") or {}).items()}
            outcome = self.call(call["tool"], **{k: v for k, v in args.items() if v not in ("", None)})
            if not self.report(outcome):
                return
        self.reply.say(_format(request.done, names) if request.done else "Done.")

    def _fill(self, kind: str, said: Said) -> Any:
        if kind in ("contact", "lead", "job"):
            top = resolve.best(said.mentions.candidates(kind, open_only=kind != "contact"))
            return top[0].id if len(top) == 1 else None
        if kind == "date":
            when = next((w.day for w in find_dates(said.norm, self.store.today(), said.order) if not w.past), None)
            return when
        if kind == "money":
            amounts = find_amounts(said.raw)
            return amounts[0].value if amounts and amounts[0].value is not None else None
        if kind == "phone":
            found = said.phone()
            return found[1] if found else None
        if kind == "email":
            return said.email()
        if kind == "text":
            rest = said.raw[said.match.end() :] if said.match else said.raw
            return rest.strip(" ,.:;-") or None
        return None


def raise_asked() -> NoReturn:
    from backoffice.agent.planners.offline.engine import Asked

    raise Asked


def _slot_value(value: Any) -> Any:
    return value


def _format(template: Any, names: dict[str, Any]) -> Any:
    if isinstance(template, str):
        try:
            return template.format(**names)
        except (KeyError, IndexError, ValueError):
            return template
    return template


def _touch_kind(t: str) -> str:
    explicit = re.search(r"\blog (?:a |an |the |my )?(phone call|call|email|text message|text|sms|meeting|"
                         r"site visit|visit|"
                         r"note|voicemail)\b", t)  # fmt: skip
    if explicit:
        word = explicit.group(1)
        return {"phone call": "phone_call", "call": "phone_call", "voicemail": "phone_call", "text": "sms",
                "text message": "sms", "sms": "sms", "meeting": "meeting", "visit": "meeting", "site visit": "meeting",
                "note": "note", "email": "email"}[word]  # fmt: skip
    first: tuple[int, str] | None = None
    for kind, pattern in KINDS:
        m = re.search(pattern, t)
        if m and (first is None or m.start() < first[0]):
            first = (m.start(), kind)
    return first[1] if first else "phone_call"


def _email_direction(t: str, said: Said) -> str:
    """An email the owner sent, or one the customer sent: "emailed joe" / "email to priya" vs
    "priya emailed back" / "email from priya"."""
    if re.search(
        r"\bemail(?:ed)? (?:back|again|us|me|in)\b|\bemail from\b|\bgot an email\b|\bwrote (?:back|in|us)\b", t
    ):
        return "email_inbound"
    if re.search(r"\b(?:i|we) (?:emailed|sent)\b|\bemail to\b|^(?:please )?(?:log )?(?:an )?emailed\b|^emailed\b", t):
        return "email_outbound"
    m = re.search(r"\bemailed\b", t)
    people = said.mentions.of("contact")
    if m and people:
        first_name = min((t.find(w) for h in people for w in h.words if t.find(w) >= 0), default=-1)
        if 0 <= first_name < m.start():
            return "email_inbound"
    return "email_outbound"


def _summary(said: Said) -> str:
    """What happened, as the owner put it; empty when the line only names the person ("log a call
    with Dana", "I called Dana"), so the flow asks how it went."""
    raw = said.raw
    m = re.match(r"^\s*(?:please\s+)?(?:log|record|jot down|note)\s+(?:a|an|the|my)?\s*(?:phone call|call|email|e-mail|"
                 r"text message|text|sms|meeting|site visit|visit|note|voicemail)?\s*(?:with|from|to|for|on|about)?\s*",
                 raw, re.I)  # fmt: skip
    rest = raw[m.end() :] if m else raw
    named = {w for h in said.mentions.candidates("contact")[:1] for w in h.words}
    leftover = [
        w for w in re.findall(r"[a-z0-9]+", said.engine.normalise(rest)) if w not in named and w not in SUMMARY_FILLER
    ]
    if not leftover:
        return ""
    if m and m.group(0).strip():
        # "log a call with maría, she wants …": what happened, without the command and the name
        parts = re.split(r"\s+[—–-]\s+|:\s*|,\s*", rest, maxsplit=1)
        if len(parts) > 1 and len(parts[0].split()) <= 4 and parts[1].strip():
            return parts[1].strip()
    return raw.strip()


def _closing_note(raw: str) -> str | None:
    """What the owner added when closing a follow-up: "linda follow-up complete - shes booked for 12/2"."""
    parts = re.split(r"\s+[—–-]\s+|;\s*|,\s*(?=(?:she|he|they|booked|not needed|no need)\b)", raw, maxsplit=1)
    return parts[1].strip(" .") if len(parts) > 1 and parts[1].strip() else None
