"""Leads: a new inquiry (never a second record for someone already in the book), opening a lead
for a known customer, qualifying, disqualifying with a reason, converting to a job."""

from __future__ import annotations

import re
from typing import Any

from backoffice.agent.planners.offline.engine import Engine, Said
from backoffice.agent.planners.offline.flows_measure import said_class
from backoffice.agent.planners.offline.understand import (
    DISQUALIFY_REASONS,
    Name,
    disqualify_reason,
    find_address,
    find_amounts,
    find_dates,
    find_email,
    find_phone,
    make_name,
    name_words,
    named_reason,
)
from backoffice.tools.book.normalize import fold, full_name, money
from backoffice.tools.book.store import Doc

SOURCES = [
    ("web_form", r"web ?(?:site )?form|website|online form|contact form|filled (?:out|in)"),
    ("referral", r"referr|recommended|word of mouth"),
    ("ad", r"\b(?:ad|ads|advert\w*|facebook|google ads?|yelp|nextdoor|angi|thumbtack|instagram|craigslist|flyers?)\b"),
    ("email", r"\bemail(?:ed)?\b|\be-mail|\bwrote\b|\bby mail\b"),
    ("phone_call", r"\bcall(?:ed)?\b|\bphoned?\b|\brang\b|voice ?mail|\bvm\b"),
]
NEED = re.compile(
    r"\b(?:wants?|needs?|asking (?:for|about)|asked (?:for|about)|looking for|interested in|about|abt|re|regarding|"
    r"for|has|with)\b\s+(?P<need>.+)$",
    re.I,
)
NAME_MARKERS = re.compile(
    r"\b(?:(?:his|her|their)\s+name\s+is|name\s+is|names|name's|named|called|owner\s+is|contact\s+is|"
    r"contact\s+person\s+is|office\s+(?:mgr|manager)|manager|(?:his|her|their)\s+(?:neighbou?r|brother|sister|son|"
    r"daughter|husband|wife|friend|mom|dad|mother|father|boss|tenant|landlord|cousin))\s*[:,]?\s+",
    re.I,
)
NOT_FROM = re.compile(r"^(?:a|an|the|some|this|facebook|google|yelp|nextdoor|angi|thumbtack|the website|our website|"
                      r"website|the web|instagram|an ad|the ad|craigslist|email|e-mail)\b", re.I)  # fmt: skip
PREFIX = re.compile(
    r"^\s*(?:(?:please\s+)?(?:record|log|add|take|note)\s+(?:a\s+|an\s+)?)?(?:(?:we\s+)?(?:have|got)\s+(?:a\s+|an\s+)?)?"
    r"(?:new\s+|another\s+|possible\s+)?(?:phone\s+|email\s+|web\s*form\s+|website\s+|job\s+|ad\s+)?"
    r"(?:inquiry|enquiry|lead)\b\s*(?:(?:by|via|from)\s+(?:email|phone|web\s*form|the\s+website)\b)?\s*[:,\-—]?\s*",
    re.I,
)


# what follows "wants"/"needs" when it names no work: "wants someone asap", "needs help", "wants it done"
FILLER_NEED = re.compile(
    r"(?:someone|somebody|anyone|a plumber|a guy|a person|help|it|this|that|us|you)\b"
    r"(?!\s+to\s+(?:fix|look|install|replace))",
    re.I,
)


def lead_title(need: str) -> str:
    """A short label from what they need: 'needs a backflow test, budget about 300 bucks' -> 'Backflow test'."""
    text = re.sub(r"\s+", " ", need).strip(" ,.;:-—")
    for amount in find_amounts(text):
        text = text.replace(amount.typed, " ")
    text = re.sub(
        r"\b(?:budget|about|around|roughly|maybe|approx\.?|for|of|~|asap|urgent)\s*(?=[,.;]|$)", " ", text, flags=re.I
    )
    text = re.split(r"[,.;!]|\s+-\s+|\s+—\s+", text)[0]
    text = re.sub(
        r"^(?:(?:he|she|they)\s+)?(?:wants?|needs?|asking for|asked for|looking for|interested in|has|with|"
        r"about|abt|re|regarding|a quote for|quote for|an estimate for)\s+",
        "",
        text.strip(),
        flags=re.I,
    )
    text = re.sub(
        r"^(?:a|an|the|some)\s+(?:quote\s+(?:for|on)\s+(?:a\s+|an\s+|the\s+)?)?", "", text.strip(), flags=re.I
    )
    text = " ".join(text.split())[:60].strip()
    return text[:1].upper() + text[1:] if text else ""


class LeadFlows(Engine):
    # ------------------------------------------------------------------ a new inquiry
    def on_inquiry(self, said: Said) -> None:
        self.flow_inquiry(self.parse_inquiry(said))

    def parse_inquiry(self, said: Said) -> Doc:
        raw, region = said.raw, said.region
        data: Doc = {"source": next((s for s, p in SOURCES if re.search(p, raw, re.I)), "phone_call")}
        rest = PREFIX.sub("", re.sub(r"^\s*(?:hey|hi|ok|okay|so|right)[,!.]?\s+", "", raw, flags=re.I), count=1)
        rest = re.sub(r"^\s*(?:we\s+)?(?:got|had|took)\s+(?:a|an)\s+"
                      r"(?:call|email|text|voicemail|message|phone call)\s+from\s+"
                      r"(?:a\s+|an\s+|some\s+)?(?:new\s+)?(?:guy|lady|woman|man|person|customer|someone|somebody)?\s*[,:\-—]?\s*",
                      "", rest, count=1, flags=re.I)  # fmt: skip
        if phone := find_phone(rest, region):
            data["phone"] = phone[1]
            before = rest[: rest.find(phone[0])]
            if before.strip():
                data["before_phone"] = re.split(r"[,;:\-—]|\bis\b", before)[-1].strip()
            rest = rest.replace(phone[0], " , ")
        if email := find_email(rest):
            data["email"] = email
            rest = re.sub(re.escape(email), " , ", rest, flags=re.I)
        if address := find_address(rest):
            data["address"] = address
        amounts = find_amounts(rest)
        if amounts:
            if amounts[0].value is None:
                data["amount_problem"] = amounts[0].problem
            else:
                data["estimated_value"] = amounts[0].value
        name, span = self._inquiry_name(rest, str(data.pop("before_phone", "")))
        if name:
            data["name"] = name
            rest = rest[: span[0]] + " , " + rest[span[1] :]
        rest = NAME_MARKERS.sub(" , ", rest)
        rest = re.sub(r"\bfrom\s*(?=,|$)|"
                      r"\b(?:a\s+)?(?:guy|lady|woman|man|someone|somebody)\s+(?=called|emailed|texted|rang)",
                      " ", rest, flags=re.I)  # fmt: skip
        rest = re.sub(r"\s*,(?:\s*,)+", ",", rest)
        rest = re.sub(r"\b(?:via|by|through|on|from)\s+(?:the\s+|our\s+|a\s+)?"
                      r"(?:web\s*(?:site\s+)?form|website|email|e-mail|"
                      r"phone|text|facebook|google|yelp|nextdoor)\b", " , ", rest, flags=re.I)  # fmt: skip
        description = re.sub(r"^[\s,.;:\-—]*(?:(?:called|emailed|texted|rang|phoned|wrote|from|via|,)\s*)*", "", rest)
        description = re.sub(r"[\s,.;:\-—]+$", "", description)
        need = NEED.search(description)
        if need and FILLER_NEED.match(need.group("need")):  # "…backing up, wants someone asap": the job is before it
            need = None
        if description and len(re.findall(r"[A-Za-z]{3,}", description)) >= 2:
            data["description"] = description
            plain_need = re.sub(r"^(?:says?|said|saying|reports?|reported)\s+(?:(?:that|there is|there's)\s+)?", "",
                                description, flags=re.I)  # fmt: skip
            data["title"] = lead_title(need.group("need") if need else plain_need) or None
        data["said"] = said
        return data

    @staticmethod
    def _inquiry_name(text: str, before_phone: str = "") -> tuple[Name | None, tuple[int, int]]:
        """The person an inquiry is from, and where the name is in ``text``."""
        candidates: list[tuple[int, int]] = []
        words = name_words(before_phone) if before_phone else None
        if words and len(words) == len(before_phone.split()) and text.find(before_phone) >= 0:
            candidates.append((text.find(before_phone), 2))
        relation = re.match(r"^\s*(?P<who>[\w .'\-]+?)'s\s+(?:brother|sister|son|daughter|husband|wife|"
                            r"neighbou?r|friend|"
                            r"mom|dad|mother|father|boss|tenant|landlord|cousin|partner)\s+", text, re.I)  # fmt: skip
        if relation:
            candidates.append((relation.end(), 0))
        for m in NAME_MARKERS.finditer(text):
            candidates.append((m.end(), 1))
        for m in re.finditer(r"\bfrom\s+", text, re.I):
            if not NOT_FROM.match(text[m.end() :]):
                candidates.append((m.end(), 2))
        for m in re.finditer(r"[:\-—]\s+|^\s*", text):
            candidates.append((m.end(), 3))
        for start, _ in sorted(candidates, key=lambda c: (c[1], c[0])):
            chunk = text[start:]
            words = name_words(chunk)
            if not words:
                continue
            name = make_name(words)
            if name is None:
                continue
            end = start + chunk.find(words[-1]) + len(words[-1])
            return name, (start, end)
        return None, (0, 0)

    def flow_inquiry(self, d: Doc) -> None:
        said: Said | None = d.pop("said", None)
        if d.get("amount_problem"):
            self.reply.say(d.pop("amount_problem") + "; I left the value out.")
        if not (d.get("name") or d.get("phone") or d.get("email") or d.get("contact_id")):
            self.need("inquiry", d, "who", "text")
        if d.get("who") and not (d.get("name") or d.get("phone") or d.get("email")):
            answer = str(d.pop("who"))
            phone = find_phone(answer, self.store.settings.default_phone_region)
            words = name_words(answer)
            d.update(
                phone=phone[1] if phone else None, email=find_email(answer), name=make_name(words) if words else None
            )
            if not (d.get("name") or d.get("phone") or d.get("email")):
                self.need("inquiry", d, "who", "text")
        if "known" not in d:
            d["known"] = self._known_person(d, said)
        known = self.store.get("contacts", d["known"]) if d.get("known") else None
        if known and d.get("same_person") is None and self._new_details(known, d):
            self.need("inquiry", d, "same_person", "yesno",
                      f"Is this the {full_name(known)} already in the book ({known['contact_id']})? "
                      "[yes/no]")  # fmt: skip
        if known and d.get("same_person") is False:
            known = None
        if not d.get("description"):
            self.need("inquiry", d, "description", "text")
        title = d.get("title") or lead_title(str(d["description"])) or str(d["description"])[:60]
        if known:
            self._inquiry_from(known, d, title)
            return
        name: Name | None = d.get("name")
        outcome = self.call(
            "record_inquiry",
            name=name.full if name else None,
            phone=d.get("phone"),
            email=d.get("email"),
            address=d.get("address"),
            description=d["description"],
            title=title,
            source=d["source"],
            estimated_value=d.get("estimated_value"),
        )
        self._recorded(outcome)

    def _known_person(self, d: Doc, said: Said | None) -> str | None:
        """An existing contact the inquiry names (by phone or email the tool links it anyway)."""
        name: Name | None = d.get("name")
        if name is None or said is None:
            return None
        hits = [h for h in said.mentions.candidates("contact") if h.score >= 85]
        typed = fold(name.full)
        for hit in hits:
            book = fold(full_name(hit.doc))
            if typed == book or (not name.last and typed == fold(hit.doc.get("first_name"))):
                return hit.id
        return None

    def _new_details(self, known: Doc, d: Doc) -> bool:
        from backoffice.tools.book.normalize import email_key

        phones = set(known.get("phones") or [])
        emails = {email_key(e) for e in known.get("emails") or []}
        return bool(
            (d.get("phone") and d["phone"] not in phones) or (d.get("email") and email_key(d["email"]) not in emails)
        )

    def _inquiry_from(self, contact: Doc, d: Doc, title: str) -> None:
        """Someone already in the book asks for more work: a lead on their record, never a second contact."""
        phone, email = d.get("phone"), d.get("email")
        if not (phone or email):
            # the tool links an inquiry to the person by phone or email: give it theirs
            email = (contact.get("emails") or [None])[0]
            phone = None if email else (contact.get("phones") or [None])[0]
        if phone or email:
            outcome = self.call("record_inquiry", name=full_name(contact), phone=phone, email=email,
                                address=d.get("address"), description=d["description"], title=title,
                                source=d["source"], estimated_value=d.get("estimated_value"))  # fmt: skip
            self._recorded(outcome)
            return
        outcome = self.call("create_lead", contact_id=contact["contact_id"], title=title, description=d["description"],
                            source=d["source"], estimated_value=d.get("estimated_value"))  # fmt: skip
        if self.report(outcome) and outcome.result:
            lead = outcome.result["lead"]
            self.remember("lead", self.store.require("leads", lead["lead_id"]))
            self.reply.say(f"Opened lead {lead['lead_id']}: {lead['title']} for {lead['contact']}.")

    def _recorded(self, outcome: Any) -> None:
        if not self.report(outcome) or outcome.result is None:
            return
        lead = outcome.result["lead"]
        self.remember("lead", self.store.require("leads", lead["lead_id"]))
        self.reply.say(f"{outcome.message} Logged as lead {lead['lead_id']}. Want me to draft a response?")
        self.need("draft_for_lead", {"lead_id": lead["lead_id"]}, "go", "yesno", question="")

    def flow_draft_for_lead(self, d: Doc) -> None:
        if not d["go"]:
            self.reply.say("OK.")
            return
        self.flow_draft({"lead_id": d["lead_id"], "send": True})

    # ------------------------------------------------------------------ a lead for someone in the book
    def on_open_lead(self, said: Said) -> None:
        m = re.search(r"\blead\s+(?:for|with)\s+(?P<rest>.+)$", said.raw, re.I)
        rest = m.group("rest") if m else ""
        parts = re.split(r"\s*[:;—–]\s*|\s*,\s*|\s+-\s+", rest, maxsplit=1)
        description = parts[1].strip() if len(parts) > 1 else ""
        self.flow_open_lead({"said": Said(self, parts[0]) if parts[0] else said, "description": description or None})

    def flow_open_lead(self, d: Doc) -> None:
        contact = self.pick("open_lead", d, "who", "contact", d.pop("said", None), open_only=False)
        if not d.get("description"):
            self.need("open_lead", d, "description", "text", first=self.first_name(contact))
        description = str(d["description"])
        amounts = find_amounts(description)
        amount = amounts[0].value if amounts else None
        if amounts and amount is None and "value" not in d:
            # an impossible amount is refused and asked again; nothing is written until it is right
            self.need("open_lead", d, "value", "money", f"{amounts[0].problem}: the estimated_value must be an "
                      "amount of money. What's the lead worth? (or skip)", optional=True)  # fmt: skip
        if "value" in d:
            amount = d["value"] or None
        title = lead_title(description) or description[:60]
        outcome = self.call("create_lead", title=title, description=description, contact_id=contact["contact_id"],
                            source=d.get("source") or "other", estimated_value=amount)  # fmt: skip
        if self.report(outcome) and outcome.result:
            lead = outcome.result["lead"]
            self.remember("lead", self.store.require("leads", lead["lead_id"]))
            value = f", about {money(lead['estimated_value'])}" if lead.get("estimated_value") else ""
            self.reply.say(f"Opened lead {lead['lead_id']}: {lead['title']} for {lead['contact']}{value}.")

    # ------------------------------------------------------------------ qualify, disqualify
    def on_qualify(self, said: Said) -> None:
        stage = None
        if re.search(r"\b(?:sent|gave|emailed|texted)\b.{0,30}\b(?:price|quote|estimate|proposal|number)|"
                     r"\bestimate sent\b|"
                     r"\bquote sent\b|\bproposal (?:is )?out\b", said.norm):  # fmt: skip
            stage = "estimate_sent"
        elif re.search(r"\bneeds analysis\b", said.norm):
            stage = "needs_analysis"
        amounts = [a for a in find_amounts(said.raw)]
        self.flow_qualify({"said": said, "stage": stage, "amounts": amounts, "class": said_class(said.norm)})

    def flow_qualify(self, d: Doc) -> None:
        said = d.pop("said", None)
        lead = self.pick("qualify", d, "lead", "lead", said)
        effort = d.get("class")
        if lead["status"] == "qualified":
            if effort and effort != lead.get("effort_class"):  # "make the Oak St lead gold": the class changes
                outcome = self.call("update_lead", lead_id=lead["lead_id"], effort_class=effort)
                if self.report(outcome):
                    self.reply.say(f"{lead['title']} ({lead['lead_id']}) was already qualified; its class is now "
                                   f"{effort}.")  # fmt: skip
                return
            self.reply.say(f"{lead['title']} ({lead['lead_id']}) is already qualified. Say \"convert it\" when it "
                           "becomes a job.")  # fmt: skip
            return
        amounts = d.pop("amounts", [])
        value = None
        if amounts:
            if amounts[0].value is None:
                self.reply.say(f"{amounts[0].problem}; I left the value as it was.")
            else:
                value = amounts[0].value
        # the tool keeps a lead that is further along where it is, and says so
        stage = d.get("stage") or "needs_analysis"
        outcome = self.call("qualify_lead", lead_id=lead["lead_id"], pipeline_stage=stage, estimated_value=value,
                            effort_class=effort)
        if self.report(outcome):
            self.reply.say(outcome.message)

    def on_disqualify(self, said: Said) -> None:
        clause = _reason_clause(said)
        reason = (disqualify_reason(self.normalise(clause)) or "other") if clause else None
        self.flow_disqualify({"said": said, "reason": reason, "note": clause or None})

    def flow_disqualify(self, d: Doc) -> None:
        said = d.pop("said", None)
        lead = self._open_lead_or_say(d, said, "disqualify")
        if lead is None:
            return
        if not d.get("reason"):
            self.need("disqualify", d, "reason", "reason")
        reason = str(d["reason"])
        if reason not in ("budget", "timing", "outside_scope", "no_response", "other"):
            d["note"] = reason
            reason = disqualify_reason(reason) or "other"
        note = d.get("note")
        if note and fold(note).replace(" ", "_") == reason:
            note = None
        outcome = self.call("disqualify_lead", lead_id=lead["lead_id"], reason=reason, note=note)
        if self.report(outcome):
            self.reply.say(outcome.message)

    def _open_lead_or_say(self, d: Doc, said: Said | None, flow: str) -> Doc | None:
        """The open lead meant; when only a closed one matches, say so and change nothing."""
        if said is not None and not d.get("lead"):
            open_hits = said.mentions.candidates("lead", open_only=True)
            if not open_hits:
                closed = said.mentions.candidates("lead")
                if closed and closed[0].score >= 40:
                    lead = closed[0].doc
                    self.reply.say(f"The lead {lead['title']} ({lead['lead_id']}) is already {lead['status']}, "
                                   "which is final; it stays on file as history.")  # fmt: skip
                    return None
        return self.pick(flow, d, "lead", "lead", said)

    # ------------------------------------------------------------------ convert
    def on_convert(self, said: Said) -> None:
        raw = said.raw
        stage = "scheduled" if re.search(r"\b(?:visit|walkthrough|walk through)\b.{0,25}\b(?:booked|scheduled|set)\b|"
                                         r"\b(?:booked|scheduled)\b.{0,20}\bvisit\b|\bvisit booked\b",
                                         said.norm) else None  # fmt: skip
        name = re.search(r"\b(?:call|name)\s+it\s+(?P<name>.+?)\s*$", raw, re.I)
        close = None
        if re.search(r"\bclose\b|\bclosing\b", said.norm):
            close = next((w.day.isoformat() for w in find_dates(said.norm, self.store.today(), said.order)
                          if not w.past), None)  # fmt: skip
        amounts = find_amounts(raw)
        self.flow_convert({"said": said, "stage": stage, "name": name.group("name").strip(" .") if name else None,
                           "close": close, "amounts": amounts})  # fmt: skip

    def flow_convert(self, d: Doc) -> None:
        said = d.pop("said", None)
        if said is not None and not d.get("lead") and not said.mentions.candidates("lead", open_only=True):
            jobs = said.mentions.candidates("job")
            if jobs and jobs[0].score >= 40:
                job = jobs[0].doc
                self.reply.say(f"{job['name']} is already a job ({job['opportunity_id']}, "
                               f"{job['stage'].replace('_', ' ')}).")  # fmt: skip
                return
        lead = self._open_lead_or_say(d, said, "convert")
        if lead is None:
            return
        contact = self.store.get("contacts", lead["contact_id"]) if lead.get("contact_id") else None
        if contact is None:
            self.reply.error(f"Lead {lead['lead_id']} has no contact yet. Add the customer first, then convert.")
            return
        first = self.first_name(contact)
        fixes: Doc = dict(d.get("fixes") or {})
        if d.get("details_text"):
            text = str(d.pop("details_text"))
            d.pop("details", None)
            phone = find_phone(text, self.store.settings.default_phone_region)
            if phone:
                fixes["phone"] = phone[1]
            address = find_address(text, town=True)
            if address is None and not phone and not contact.get("address") and re.search(r"\d", text):
                address = text.strip(" .")
            if address and not contact.get("address"):
                fixes["address"] = re.sub(r"^(?:the )?(?:service )?address is\s+", "", address, flags=re.I)
            d["fixes"] = fixes
        missing = []
        if not contact.get("phones") and not fixes.get("phone"):
            missing.append("a phone number")
        if not contact.get("address") and not fixes.get("address"):
            missing.append("the service address")
        if missing:
            self.need("convert", d, "details", "details", first=first, missing=" and ".join(missing))
        if fixes and not d.get("fixed"):
            if not self.report(self.call("update_contact", contact_id=contact["contact_id"], **fixes)):
                return
            d["fixed"] = True
        if self.unsure(d, "lead"):
            self.confirm(
                "convert", d, f"Convert {lead['title']} ({lead['lead_id']}) for {full_name(contact)} into a job?"
            )
            if d["confirmed"] is False:
                self.reply.say("OK, nothing changed.")
                return
        if lead["status"] != "qualified" and not d.get("qualified"):
            stage = "estimate_sent" if lead["pipeline_stage"] in ("estimate_sent", "follow_up") else "needs_analysis"
            if not self.report(self.call("qualify_lead", lead_id=lead["lead_id"], pipeline_stage=stage)):
                return
            d["qualified"] = True
        amounts = d.get("amounts") or []
        amount = amounts[0].value if amounts else None
        if amounts and amount is None:
            self.reply.say(f"{amounts[0].problem}; the job keeps the lead's value.")
        outcome = self.call("convert_lead", lead_id=lead["lead_id"], stage=d.get("stage"), name=d.get("name"),
                            amount=amount, expected_close_date=d.get("close"))  # fmt: skip
        if self.report(outcome) and outcome.result:
            self.remember("job", outcome.result["opportunity"])
            self.reply.say(outcome.message)


def _reason_clause(said: Said) -> str:
    """What the owner said about why, with the command and the record's name taken out:
    "kill the leaky faucet lead, she went w her brother in law" -> "she went w her brother in law"."""
    raw = said.raw
    parts = re.split(
        r"\s*(?:,|;|\.\s|\s-\s|\s—\s|:|\bbecause\b|\bcuz\b|\bbc\b|\bdue to\b|\breason:?\b)\s*", raw, flags=re.I
    )
    parts = [p.strip(" .!") for p in parts if p and p.strip(" .!")]
    command = re.compile(r"\b(?:disqualify|dq|kill|scratch|drop|dump|close (?:out|off)|mark|lead|ditch|nix|bin|"
                         r"trash)\b",
                         re.I)  # fmt: skip
    clauses = [p for p in parts if not command.search(p) or len(parts) == 1]
    if len(parts) == 1:
        m = re.search(r"\b(?:because|cuz|bc|due to|since|as)\b\s+(.+)$", raw, re.I)
        if m:
            return m.group(1).strip(" .")
        # "disqualify L-7 no response": what is left once the command and the record are taken out
        named = {w for kind in ("lead", "contact") for h in said.mentions.candidates(kind)[:1] for w in h.words}
        words = [w for w in said.norm.split() if w not in named and not command.search(w)
                 and not re.fullmatch(r"l-\d+|the|a|an|her|his|their|for|lead|leads", w)]  # fmt: skip
        tail = " ".join(words)
        return tail if tail and named_reason(tail, DISQUALIFY_REASONS) else ""
    return "; ".join(clauses)
