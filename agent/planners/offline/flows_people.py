"""People: adding a customer (never a silent duplicate), the everyday edits of contacts, leads,
jobs and companies, archiving instead of deleting, merging, and QuickBooks."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from backoffice.agent.planners.offline.engine import Engine, Said
from backoffice.agent.planners.offline.understand import (
    HONORIFICS,
    Name,
    find_address,
    find_email,
    find_phone,
    find_source,
    make_name,
    name_words,
    title_word,
)
from backoffice.agent.planners.offline.words import is_skip, yes_no
from backoffice.tools.book.normalize import full_name, money
from backoffice.tools.book.store import Doc
from backoffice.tools.crm.duplicates import suggest_keep

ADD_PREFIX = re.compile(
    r"^\s*(?:(?:hey|hi|hello|ok|okay|so|right)[,!.]?\s+)?"
    r"(?:please\s+|pls\s+|can\s+(?:you|u)\s+|could\s+(?:you|u)\s+|i\s+need\s+to\s+|let'?s\s+)*"
    r"(?:(?:add|create|enter|save|put\s+in|record|make)\s+(?:(?:a|an|the|me|for\s+me|my)\s+)*(?:new\s+)?"
    r"(?:customer|client|contact|cust|person)s?(?:\s+(?:for\s+me|record))?\s*(?:named|called|for|:|,|-|—|\?)?"
    r"|(?:(?:we\s+|i\s+)?(?:got|have)\s+)?(?:a\s+|another\s+)?new\s+(?:customer|client|contact|cust|one)\b\s*"
    r"(?:named|called)?[:,\-—]?"
    r"|(?:add|create|save|put\s+in|put)\b)\s*",
    re.I,
)
# "put jenny o'neil in the book": the words saying where she goes are not part of her name
IN_THE_BOOK = re.compile(r"\s+(?:in|into|on)\s+(?:the|my|our)\s+(?:book|list|system|crm)\b\??", re.I)
RELATION = re.compile(
    r"^(?P<who>[\w .'\-]+?)'?s?\s+(?P<rel>husband|wife|son|daughter|brother|sister|neighbou?r|partner|mom|mother|"
    r"dad|father|friend|boss|tenant|landlord|coworker|co-worker|cousin|uncle|aunt|nephew|niece|business partner)\s+"
    r"(?:is\s+|named\s+)?",
    re.I,
)
CHANNEL = [("sms", r"prefers?\s+(?:to\s+be\s+)?(?:texts?|texting|sms|texted)"),
           ("email", r"prefers?\s+(?:to\s+be\s+)?(?:emails?|emailed)"),
           ("phone", r"prefers?\s+(?:to\s+be\s+)?(?:calls?|phone|called|a\s+call)")]  # fmt: skip
ACRONYMS = {"hoa", "llc", "inc", "usa", "hvac", "ymca", "pta", "abc", "ac"}


def company_name(text: str) -> str:
    words = text.strip(" ,.;:").split()
    return " ".join(w.upper() if w.lower() in ACRONYMS else (title_word(w) if w.islower() else w) for w in words)


class PeopleFlows(Engine):
    # ------------------------------------------------------------------ adding a customer
    def on_add_customer(self, said: Said) -> None:
        self.flow_add_customer(self.parse_person(said.raw))

    def parse_person(self, raw: str) -> Doc:
        """Name, company, phone, email, address, source and preferred channel from one line."""
        region = self.store.settings.default_phone_region
        data: Doc = {}
        rest = IN_THE_BOOK.sub(" , ", ADD_PREFIX.sub("", raw, count=1), count=1)
        if phone := find_phone(rest, region):
            data["phone"] = phone[1]
            rest = rest.replace(phone[0], " , ")
        elif re.search(
            r"\b(?:don'?t|do not) have (?:their|his|her|a) (?:number|phone)|\bno (?:phone|number)\b", rest, re.I
        ):
            data["phone"] = ""
        if email := find_email(rest):
            data["email"] = email
            rest = re.sub(re.escape(email), " , ", rest, flags=re.I)
        if address := find_address(rest):
            data["address"] = address
            rest = re.sub(re.escape(address), " , ", rest, flags=re.I)
        if source := find_source(rest):
            data["source"] = source[1]
            rest = rest.replace(source[0], " , ")
        for channel, pattern in CHANNEL:
            if re.search(pattern, raw, re.I):
                data["preferred_channel"] = channel
        # a company with a contact person: "greenway hoa, contact is paul stavros"
        firm = re.search(r"^(?P<firm>[^,:]+?)\s*[,:\-]\s*(?:(?:the\s+)?(?:contact|contact\s+person|"
                         r"office\s+(?:mgr|manager)|"
                         r"manager|owner|person)\s+(?:is\s+)?)(?P<rest>.+)$", rest.strip(), re.I)  # fmt: skip
        if firm:
            data["company"] = company_name(firm.group("firm"))
            rest = firm.group("rest")
        relation = RELATION.match(rest.strip())
        if relation:
            data["note"] = f"{title_words(relation.group('who'))}'s {relation.group('rel').lower()}"
            rest = rest.strip()[relation.end() :]
        name = self._leading_name(rest)
        if name is not None:
            data["name"] = name
        return data

    @staticmethod
    def _leading_name(text: str) -> Name | None:
        text = re.sub(r"^[\s,:;\-—]+", "", text)
        # "I don't have their number yet: Olivia Grant" — the name follows the remark
        for chunk in [text, *[c for c in re.split(r"[:;]", text)[1:]]]:
            chunk = re.sub(r"^[\s,:;\-—]+|^(?:(?:his|her|their)\s+name\s+is|names?|name\s*is|named|called)\s+", "",
                           chunk.strip(), flags=re.I)  # fmt: skip
            words = name_words(chunk)
            if words:
                found = make_name(words)
                if found and not (len(words) == 1 and words[0].lower().rstrip(".") in HONORIFICS):
                    return found
        return None

    def flow_add_customer(self, d: Doc) -> None:
        flow = "add_customer"
        name: Name | None = d.get("name") if isinstance(d.get("name"), Name) else None
        if name is None and d.get("name"):
            name = make_name(str(d["name"]).split()) if not isinstance(d["name"], Name) else d["name"]
            if name is None:
                d.pop("name")
            else:
                d["name"] = name
        if name is None:
            self.need(flow, d, "name")
        first = name.first or name.shown
        if d.get("phone") is None and not d.get("email"):
            self.need(flow, d, "phone", "phone", optional=True, first=first)
        company_id = None
        if d.get("company") and not d.get("company_id"):
            made = self.call("create_company", name=d["company"])
            if not self.report(made) or made.result is None:
                return
            d["company_id"] = made.result["company"]["company_id"]
        company_id = d.get("company_id")
        args: dict[str, Any] = {
            "name": name.full if name.first else None,
            "first_name": None if name.first else "",
            "last_name": None if name.first else name.last,
            "phone": d.get("phone") or None,
            "email": d.get("email") or None,
            "address": d.get("address") or None,
            "source": d.get("source") or None,
            "preferred_channel": d.get("preferred_channel"),
            "company_id": company_id,
            "notes": d.get("note") or (name.shown if name.honorific else None),
        }
        outcome = self.call("create_contact", **args)
        if not self.report(outcome) or outcome.result is None:
            return
        if not outcome.result["created"]:
            match = outcome.result["duplicates"][0]
            self.memory["duplicate"] = {"args": args, "match": match}
            self.focus["contact"] = match["contact_id"]
            self.reply.say(
                f"{match['name']} ({match['contact_id']}) is already in the book ({match['matched_by']}), so I added "
                f'nobody. If {name.shown} is someone else, say "add them anyway" and I will ask you to confirm.'
            )
            return
        self._added(outcome.result["contact"], d)

    def _added(self, card: Doc, d: Doc) -> None:
        self.focus = {"contact": card["contact_id"]}
        phone = f", {card['phone']}" if card.get("phone") else ""
        missing = [label for key, label in (("email", "email"), ("address", "service address"),
                                            ("source", "how they heard about you")) if not d.get(key)]  # fmt: skip
        first = card["name"].split()[0] if card.get("name") else "them"
        self.reply.say(
            f"Added: {card['name']}{phone}. I've noted them as a new prospect ({card['contact_id']}). "
            "Want to log any notes or open a lead for them?"
        )
        if missing:
            self.reply.say(f"(Not on file yet: {', '.join(missing)}. Tell me if you have them.)")
        self.need("after_add", {"contact_id": card["contact_id"], "first": first}, "answer", "details", question="",
                  optional=True, about=f" about {first}")  # fmt: skip

    def flow_after_add(self, d: Doc) -> None:
        answer = d.get("answer")
        text = str(d.get("answer_text") or "")
        if not answer and not text:
            self.reply.say("OK.")
            return
        details = self.parse_person(text) if text else {}
        changes = {
            k: details[k] for k in ("phone", "email", "address", "source", "preferred_channel") if details.get(k)
        }
        if changes:
            outcome = self.call("update_contact", contact_id=d["contact_id"], **changes)
            if self.report(outcome):
                self.reply.say(f"Updated {d['first']}: " + ", ".join(k.replace("_", " ") for k in changes) + ".")
            return
        verdict = yes_no(text) if text else answer
        if verdict is False or is_skip(text):
            self.reply.say("OK.")
            return
        if re.search(r"\bnote\b", text, re.I) and ":" in text:
            note = text.split(":", 1)[1].strip()
            if note:
                self.flow_add_note({"contact_id": d["contact_id"], "note": note})
                return
        if verdict is True:
            if re.search(r"\bnote", text, re.I):
                self.need("add_note", d, "note", "text", "What's the note?")
            self.need("open_lead", {"who": d["contact_id"]}, "description", first=d["first"])
        self.reply.say('Say "yes" to open a lead, "note: …" to add a note, or give me an email or address.')
        self.need("after_add", d, "answer", "details", question="", optional=True)

    def flow_add_note(self, d: Doc) -> None:
        outcome = self.call("update_contact", contact_id=d["contact_id"], append_note=d["note"])
        if self.report(outcome):
            self.reply.say(f"Noted on {outcome.result['contact']['name'] if outcome.result else 'the contact'}.")

    def on_add_anyway(self, said: Said) -> None:
        pending = self.memory.get("duplicate")
        if not pending:
            self.reply.say("There is nobody waiting to be added. Tell me who to add.")
            return
        args = pending["args"]
        anyway = self.call("create_contact_anyway", **args)
        if anyway.status == "ok" and anyway.result:
            self.memory.pop("duplicate", None)
            self._added(anyway.result["contact"], {k: v for k, v in args.items() if v})
        elif anyway.status == "declined":
            match = pending["match"]
            self.reply.say(f"Kept the existing contact: {match['name']} ({match['contact_id']}).")
        else:
            self.report(anyway)

    # ------------------------------------------------------------------ merging
    def on_merge(self, said: Said) -> None:
        m = re.search(r"(?:merge|combine)\s+(?P<a>.+?)\s+(?P<how>into|with|and|&)\s+(?P<b>.+?)[.?!]*$", said.raw, re.I)
        if m:
            self.flow_merge({"a": m.group("a"), "b": m.group("b"), "into": m.group("how").lower() == "into"})
            return
        people = said.mentions.candidates("contact")
        if people:
            named = people[0].doc
            twins = self._twins(named)
            if len(twins) == 1:
                keep = suggest_keep(self.store, [named, twins[0]])
                other = twins[0] if keep is named else named
                self._merge(keep, other)
                return
        self.reply.say('Which two? Say "merge C-1 into C-7" (the second is kept), or ask "any duplicates?" first.')

    def _twins(self, contact: Doc) -> list[Doc]:
        """Other active contacts that look like the same person: the same phone or email, or a very
        similar name ("Marc Chen" beside "Marcus Chen")."""
        found: dict[str, Doc] = {}
        for phone in contact.get("phones") or []:
            found.update({c["contact_id"]: c for c in self.store.contacts_by_phone(phone)})
        for email in contact.get("emails") or []:
            found.update({c["contact_id"]: c for c in self.store.contacts_by_email(email)})
        for score, c in self.store.contacts_like(full_name(contact)):
            if score >= 88:
                found[c["contact_id"]] = c
        return [c for cid, c in found.items() if cid != contact["contact_id"] and not c.get("archived")]

    def flow_merge(self, d: Doc) -> None:
        first_said, second_said = Said(self, d["a"]), Said(self, d["b"])
        first = self.pick("merge", d, "a_id", "contact", first_said, question=f"Which {d['a']}?")
        second_said_hits = [h for h in second_said.mentions.candidates("contact")
                            if h.id != first["contact_id"]]  # fmt: skip
        if not d.get("b_id") and len(second_said_hits) == 1:
            d["b_id"] = second_said_hits[0].id
        second = self.pick("merge", d, "b_id", "contact", second_said, question=f"Which {d['b']}?")
        if first["contact_id"] == second["contact_id"]:
            self.reply.say(
                f"{full_name(first)} and {d['b']} are the same record ({first['contact_id']}); nothing to merge."
            )
            return
        keep = second if d.get("into") else suggest_keep(self.store, [first, second])
        self._merge(keep, first if keep is second else second)

    def _merge(self, keep: Doc, other: Doc) -> None:
        outcome = self.call("merge_contacts", keep=keep["contact_id"], merge=[other["contact_id"]])
        if self.report(outcome):
            self.reply.say(outcome.message)
            self.remember("contact", keep)

    # ------------------------------------------------------------------ edits
    def on_delete(self, said: Said) -> None:
        self.flow_delete({"said": said})

    def flow_delete(self, d: Doc) -> None:
        contact = self.pick("delete", d, "who", "contact", d.pop("said", None),
                            question="Who do you mean? Nothing is deleted, but I can archive a contact.")  # fmt: skip
        if "confirmed" not in d:
            self.reply.say("Nothing is ever deleted: the history stays. I can archive them instead, which hides them "
                           "from lists and searches.")  # fmt: skip
        self.confirm("delete", d, f"Archive {full_name(contact)} ({contact['contact_id']})?")
        if d["confirmed"] is False:
            self.reply.say("OK, nothing changed.")
            return
        outcome = self.call("update_contact", contact_id=contact["contact_id"], archived=True)
        if self.report(outcome):
            self.reply.say(f"Archived {full_name(contact)}. The record and its history stay on file.")

    def on_edit(self, said: Said) -> None:
        from backoffice.agent.planners.offline.edits import read_edit

        edit = read_edit(self, said)
        if edit is None:
            self.reply.say("What should I change? E.g. \"change Tom's phone to 555-880-9999\", \"bump the kitchen "
                           "remodel to 5k\", \"move the boiler job to proposal sent\".")  # fmt: skip
            return
        self.flow_edit(edit)

    def flow_edit(self, d: Doc) -> None:
        from backoffice.agent.planners.offline.edits import args_for

        said = d.pop("said", None)
        if d.get("kind") == "record":
            d["kind"] = self._lead_or_job(d, said)
        kind = d["kind"]
        record = self.pick("edit", d, "record_id", kind, said, open_only=kind in ("lead", "job"))
        table = {"contact": "contacts", "lead": "leads", "job": "opportunities", "company": "companies"}[kind]
        key = {"contact": "contact_id", "lead": "lead_id", "job": "opportunity_id", "company": "company_id"}[kind]
        label = f"{self.store.label(table, record)} ({record[key]})"
        if d.get("problem") and d.get("value") is None:
            problem, ask = str(d["problem"]), d.get("ask")
            if ask or "?" not in problem:  # a problem to say, then the question; or a problem that is the question
                self.reply.say(problem)
            question = ask or (problem if "?" in problem else "What should it be?")
            self.need("edit", d, "value", d.get("value_kind", "text"), question)
        value = d.get("value")
        if isinstance(value, dt.date):
            value = value.isoformat()
        args = dict(d.get("args") or {})
        if "pending_field" in d:
            if value is not None:
                d["pending_value"] = value
            args.update(args_for(d, kind))
            if d["pending_field"] == "stage" and not args:
                self.reply.error(
                    f"{label} is a {kind}; its stages are "
                    + (
                        "estimating, scheduled and proposal sent."
                        if kind == "job"
                        else "inquiry, needs analysis, estimate sent, follow up and site visit scheduled."
                    )
                )
                return
        elif d.get("field") and value is not None:
            args[d["field"]] = value
        if not args:
            self.need(
                "edit", d, "value", d.get("value_kind", "text"), d.get("ask") or f"What should I change on {label}?"
            )
        if self.unsure(d, "record_id"):
            shown = ", ".join(f"{k.replace('_', ' ')} → {_shown(v)}" for k, v in args.items())
            self.confirm("edit", d, f"Change {label}: {shown}?")
            if d["confirmed"] is False:
                self.reply.say("OK, nothing changed.")
                return
        tool, key = {"contact": ("update_contact", "contact_id"), "lead": ("update_lead", "lead_id"),
                     "job": ("update_opportunity", "opportunity_id"),
                     "company": ("update_company", "company_id")}[kind]  # fmt: skip
        outcome = self.call(tool, **{key: record[key]}, **args)
        if not self.report(outcome):
            return
        shown = ", ".join(f"{k.replace('_', ' ').replace('add tags', 'tag')} {_shown(v)}" for k, v in args.items())
        self.reply.say(f"Updated {label}: {shown}.")
        if d.get("visit_day") and kind in ("lead", "job"):
            logged = self.call("log_interaction", type="note", **{key: record[key]}, subject="Site visit booked",
                               body="Site visit booked.", follow_up_date=d["visit_day"])  # fmt: skip
            if self.report(logged):
                self.reply.say(f"The visit is on your follow-up list for {_day(d['visit_day'])}.")

    def _lead_or_job(self, d: Doc, said: Said | None) -> str:
        """A value, date or stage belongs to a lead or a job: whichever the owner's words point at."""
        if said is None:
            return "lead"
        stages = d.get("stages") or {}
        if d.get("pending_field") == "stage" and bool(stages.get("job")) != bool(stages.get("lead")):
            return "job" if stages.get("job") else "lead"
        if re.search(r"\b(?:job|deal|contract|project|gig)\b", said.norm) and not re.search(r"\breal job\b", said.norm):
            return "job"
        if re.search(r"\blead\b", said.norm):
            return "lead"
        leads = said.mentions.candidates("lead", open_only=True)
        jobs = said.mentions.candidates("job", open_only=True)
        if jobs and (not leads or jobs[0].score > leads[0].score):
            return "job"
        return "lead"

    # ------------------------------------------------------------------ QuickBooks
    def on_quickbooks(self, said: Said) -> None:
        companies = said.mentions.of("company")
        if companies:
            self._to_quickbooks({"company_id": companies[0].id}, companies[0].doc["name"])
            return
        self.flow_quickbooks({"said": said})

    def flow_quickbooks(self, d: Doc) -> None:
        contact = self.pick("quickbooks", d, "who", "contact", d.pop("said", None), open_only=False)
        self._to_quickbooks({"contact_id": contact["contact_id"]}, full_name(contact))

    def _to_quickbooks(self, args: Doc, name: str) -> None:
        # QuickBooks not connected is said at once by the gate (the tool is not ready), and the sync waits
        outcome = self.call("create_quickbooks_customer", **args)
        if outcome.status in ("ok", "pending", "already"):
            self.reply.say(outcome.message)
        elif outcome.status == "declined":
            self.reply.say(f"OK, {name} stays out of QuickBooks for now.")
        else:
            self.report(outcome)


def title_words(text: str) -> str:
    return " ".join(title_word(w) if w.islower() else w for w in text.split())


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | int):
        return money(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value).replace("_", " ")


def _day(iso: str) -> str:
    import datetime as dt

    day = dt.date.fromisoformat(iso)
    return f"{day:%a %b} {day.day}"
