"""Requests that only read: the reports, lookups, histories, approvals. Every read goes through
the gate like any other tool call, so both planners answer from the same tools."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from backoffice.agent import views
from backoffice.agent.briefings import render
from backoffice.agent.planners.offline.engine import Engine, Said
from backoffice.agent.planners.offline.help import help_text
from backoffice.agent.planners.offline.understand import NUMBER_WORDS, find_dates, find_month
from backoffice.tools.book.normalize import full_name, money
from backoffice.tools.book.store import Doc
from backoffice.tools.catalog import all_tools
from backoffice.tools.reports.activity import local_date, summary


class ReportFlows(Engine):
    # ------------------------------------------------------------------ talk
    def on_help(self, said: Said) -> None:
        self.reply.say(help_text(self.understanding))

    def on_smalltalk(self, said: Said) -> None:
        if re.match(r"(?:never ?mind|nvm|forget it|no worries)", said.norm):
            self.reply.say("OK.")
        elif re.match(r"(?:thanks|thank you|thx|cheers|great|perfect|awesome|nice)", said.norm):
            self.reply.say("You're welcome.")
        elif re.match(r"(?:hey|hi|hello|yo|good|morning)", said.norm):
            self.reply.say('Hello. What can I do for you? (Type "help" for a list.)')
        else:
            self.reply.say("OK.")

    def on_broadcast(self, said: Said) -> None:
        self.reply.say(
            "I don't send one message to everyone: each message to a customer is shown to you and sent on its own. "
            'I can draft a follow-up for one person at a time ("follow up with Dana").'
        )

    def not_understood(self, said: Said) -> None:
        self.reply.say("I didn't catch that. I look after the customer book: customers, leads, calls, follow-ups, "
                       'jobs and the reports on them. Type "help" to see what I understand.')  # fmt: skip

    # ------------------------------------------------------------------ reports
    def _day(self, said: Said, past_ok: bool = True) -> dt.date | None:
        for when in find_dates(said.norm, self.store.today(), said.order):
            if past_ok or not when.past:
                return when.day
        return None

    def on_pipeline(self, said: Said) -> None:
        as_of = self._day(said)
        outcome = self.call("pipeline_summary", as_of=as_of.isoformat() if as_of else None)
        if self.report(outcome) and outcome.result is not None:
            self.reply.blocks.extend(render.pipeline_reply(outcome.result).blocks)

    def on_digest(self, said: Said) -> None:
        on = self._day(said, past_ok=False)
        outcome = self.call("morning_digest", on=on.isoformat() if on and on != self.store.today() else None)
        if self.report(outcome) and outcome.result is not None:
            self.reply.blocks.extend(render.digest_reply(outcome.result).blocks)

    def on_winloss(self, said: Said) -> None:
        month = find_month(said.norm, self.store.today())
        outcome = self.call("winloss_summary", month=month)
        if self.report(outcome) and outcome.result is not None:
            self.reply.blocks.extend(render.winloss_reply(outcome.result).blocks)

    def on_follow_ups(self, said: Said) -> None:
        today = self.store.today()
        day = self._day(said, past_ok=False)
        if re.search(r"\bnext week\b", said.norm):
            monday = today + dt.timedelta(days=7 - today.weekday())
            day = monday + dt.timedelta(days=4)
        elif re.search(r"\bthis week\b|\bby the weekend\b", said.norm):
            day = today + dt.timedelta(days=6 - today.weekday())  # through Sunday
        elif day is None and re.search(
            r"\b(?:all|every|upcoming|coming up|pending|open|scheduled)\b|\bdo (?:we|i) have\b", said.norm
        ):
            day = today + dt.timedelta(days=365)  # every pending one, not only today's
        outcome = self.call("follow_ups_due", on=day.isoformat() if day and day != today else None)
        if not self.report(outcome) or outcome.result is None:
            return
        rows = outcome.result.get("follow_ups", [])
        when = ("today" if not day or day == today else "in the coming year" if (day - today).days > 60
                else f"by {day:%a %b} {day.day}")  # fmt: skip
        if not rows:
            self.reply.say(f"No follow-ups due {when}. Nothing is overdue.")
            return
        views.follow_ups(self.reply, rows, today=today)
        first = rows[0]
        self.reply.say(f'Done one? "mark {first["interaction_id"]} done" · "cancel {first["interaction_id"]}" · '
                       f'"move {first["interaction_id"]} to Friday".')  # fmt: skip

    def on_stale(self, said: Said) -> None:
        outcome = self.call("stale_leads")
        if not self.report(outcome) or outcome.result is None:
            return
        rows = outcome.result.get("stale_leads", [])
        if not rows:
            self.reply.say("Every open lead has had activity in the last few business days.")
            return
        found = outcome.result
        views.stale_leads(self.reply, rows, found.get("total"), found.get("open_leads", 0), found.get("quiet_after", 3))
        self.reply.say(f'Say "follow up on {rows[0]["lead_id"]}" and I will draft a message.')

    def on_newest(self, said: Said) -> None:
        limit = None
        m = re.search(
            r"\b(\d{1,2}|"
            + "|".join(NUMBER_WORDS)
            + r")\b(?: (?:newest|latest|most recent|new))? (?:customers|clients)",
            said.norm,
        )
        if m:
            limit = int(m.group(1)) if m.group(1).isdigit() else NUMBER_WORDS.get(m.group(1))
        if re.search(r"\b(?:list|all)\b.{0,12}\b(?:customers|clients)\b", said.norm) and limit is None:
            limit = 50
        outcome = self.call("newest_customers", limit=min(limit, 50) if limit else None)
        if not self.report(outcome):
            return
        customers = (outcome.result or {}).get("customers", [])
        if not customers:
            self.reply.say("No customers yet — a contact becomes a customer when one of their jobs is won.")
            return
        self.reply.table("Newest customers", ["name", "id", "customer since"],
                         [[r["name"], r["contact_id"], r["since"]] for r in customers])  # fmt: skip

    def on_pending(self, said: Said) -> None:
        actions = self.turn.gate.pending.open()
        if not actions:
            self.reply.say("Nothing is waiting for your approval.")
            return
        views.pending_actions(self.reply, actions, "Waiting for your approval")
        self.reply.say('Say "approve P-1" or "reject P-1" (or use `backoffice approve ID`).')

    # ------------------------------------------------------------------ people and their history
    def on_last_touch(self, said: Said) -> None:
        self.flow_last_touch({"said": said})

    def flow_last_touch(self, d: Doc) -> None:
        contact = self.pick("last_touch", d, "who", "contact", d.pop("said", None))
        outcome = self.call("last_touchpoint", contact_id=contact["contact_id"])
        if self.report(outcome):
            self.reply.say(outcome.message)

    def on_history(self, said: Said) -> None:
        kind = "contact"
        if re.search(r"\blead\b", said.norm):
            kind = "lead"
        elif re.search(r"\b(?:job|deal|contract|project|gig)\b", said.norm):
            kind = "job"
        elif said.mentions.of("lead") and not said.mentions.of("contact"):
            kind = "lead" if not said.mentions.candidates("job") else "job"
        self.flow_history({"said": said, "kind": kind})

    def flow_history(self, d: Doc) -> None:
        kind = d["kind"]
        record = self.pick("history", d, "what", kind, d.pop("said", None), open_only=False, everyone=False,
                           question=f"Whose history? Name the {'person' if kind == 'contact' else kind}.")  # fmt: skip
        rid = record[{"contact": "contact_id", "lead": "lead_id", "job": "opportunity_id"}[kind]]
        if "timeline" in all_tools():
            outcome = self.call("timeline", record_id=rid)
            if self.report(outcome) and outcome.result is not None:
                self._show_entries(self.store.label(_table(kind), record), rid, outcome.result.get("timeline", []))
            return
        entries: list[dict[str, Any]] = []
        if kind == "lead":
            outcome = self.call("lead_timeline", lead_id=rid)
            if not self.report(outcome) or outcome.result is None:
                return
            entries = outcome.result.get("timeline", [])
        elif kind == "job":
            if record.get("lead_id"):
                outcome = self.call("lead_timeline", lead_id=record["lead_id"])
                if self.report(outcome) and outcome.result is not None:
                    entries = outcome.result.get("timeline", [])
            seen = {e.get("interaction_id") for e in entries}
            entries += [_entry(i) for i in self.store.linked("interactions", "opportunity_id", rid)
                        if i["interaction_id"] not in seen]  # fmt: skip
        else:
            entries = [_entry(i) for i in self.store.linked("interactions", "contact_id", rid)]
        self._show_entries(self.store.label(_table(kind), record), rid, entries)

    def _show_entries(self, label: str, rid: str, entries: list[dict[str, Any]]) -> None:
        entries = sorted(entries, key=lambda e: str(e.get("at", "")))
        if not entries:
            self.reply.say(f"Nothing is logged for {label} ({rid}) yet.")
            return
        rows = []
        for e in entries:
            at = str(e.get("at", ""))
            day = local_date(self.store, at).isoformat() if at else ""
            rows.append([day, str(e.get("kind", "")).replace("_", " "), str(e.get("text", ""))])
        self.reply.table(f"History of {label} ({rid})", ["when", "what", "about"], rows)

    def on_find(self, said: Said) -> None:
        shown = False
        phone, email = said.phone(), said.email()
        if email or phone:
            query = email or (phone[0] if phone else "")
            shown = self._contacts(self.call("find_contacts", query=query))
        mentions = said.mentions
        people = [h for h in mentions.candidates("contact")][:3] if not shown else []
        top = people[0].score if people else 0
        people = [h for h in people if h.score >= top - 15]
        titled = [h for h in mentions.of("lead") + mentions.of("job") if h.via.startswith(("title", "address"))]
        if titled:
            words = sorted({w for h in titled for w in h.words}, key=said.norm.find)
            query = " ".join(words)
            if any(h.kind == "job" for h in titled) or re.search(r"\bjob\b", said.norm):
                self._records(self.call("find_opportunities", query=query), "opportunities")
            if any(h.kind == "lead" for h in titled) and not re.search(r"\bjob\b", said.norm):
                self._records(self.call("find_leads", query=query), "leads")
        for hit in people if not shown else []:
            shown = self._contacts(self.call("find_contacts", query=full_name(hit.doc))) or shown
        if not shown and not titled:
            rest = said.norm[said.match.end() :] if said.match else said.norm
            rest = re.sub(
                r"\b(?:the|a|an|contact|customer|for|me|named|called|number|phone|email|address)\b", " ", rest
            )
            rest = " ".join(rest.split()).strip(" ?.")
            if rest:
                found = self._contacts(self.call("find_contacts", query=rest))
                found = self._records(self.call("find_leads", query=rest), "leads") or found
                if not found:
                    self.reply.say(f"Nothing in the book matches {rest!r}.")
            else:
                self.reply.say("Who or what should I look for? A name, phone, email or street.")

    def _contacts(self, outcome: Any) -> bool:
        if not self.report(outcome) or outcome.result is None:
            return False
        found = outcome.result.get("contacts", [])
        if not found:
            return False
        rows = [[c["name"], c["contact_id"], c.get("phone") or "", c.get("email") or "", c.get("address") or "",
                 (c.get("lifecycle_stage") or "").replace("_", " ")] for c in found[:10]]  # fmt: skip
        self.reply.table("Contacts", ["name", "id", "phone", "email", "address", "stage"], rows)
        if len(found) == 1:
            self.focus["contact"] = found[0]["contact_id"]
        return True

    def _records(self, outcome: Any, key: str) -> bool:
        if not self.report(outcome) or outcome.result is None:
            return False
        found = outcome.result.get(key, [])
        if not found:
            return False
        if key == "leads":
            rows = [[d["title"], d["lead_id"], d.get("contact") or "", d["status"],
                     d["pipeline_stage"].replace("_", " ")]
                    for d in found[:10]]  # fmt: skip
            self.reply.table("Leads", ["title", "id", "who", "status", "stage"], rows)
        else:
            rows = [[d["name"], d["opportunity_id"], d.get("customer") or "", d["stage"].replace("_", " "),
                     money(d["amount"]) if d.get("amount") is not None else ""] for d in found[:10]]  # fmt: skip
            self.reply.table("Jobs", ["job", "id", "customer", "stage", "amount"], rows)
        return True

    def on_open_leads(self, said: Said) -> None:
        outcome = self.call("find_leads", limit=50)  # with no query: the open leads, oldest first
        if not self.report(outcome) or outcome.result is None:
            return
        leads = outcome.result.get("leads", [])
        if not leads:
            self.reply.say("There are no open leads.")
            return
        total = outcome.result.get("total", len(leads))
        rows = [[d["title"], d["lead_id"], d.get("contact") or "", d["status"], d["pipeline_stage"].replace("_", " "),
                 money(d["estimated_value"]) if d.get("estimated_value") is not None else ""]
                for d in leads]  # fmt: skip
        self.reply.table(f"Open leads ({total})", ["lead", "id", "who", "status", "stage", "value"], rows)
        if total > len(leads):
            self.reply.say(f"… and {total - len(leads)} more (`backoffice export leads -` lists every one).")

    def on_open_jobs(self, said: Said) -> None:
        outcome = self.call("find_opportunities", open_only=True, limit=50)
        if not self.report(outcome) or outcome.result is None:
            return
        jobs = outcome.result.get("opportunities", [])
        if not jobs:
            self.reply.say("No job is open: every one is won or lost.")
            return
        total = outcome.result.get("total", len(jobs))
        rows = [[j["name"], j["opportunity_id"], j.get("customer") or "", j["stage"].replace("_", " "),
                 money(j["amount"]) if j.get("amount") is not None else ""] for j in jobs]  # fmt: skip
        self.reply.table(f"Open jobs ({total})", ["job", "id", "who", "stage", "amount"], rows)
        if total > len(jobs):
            self.reply.say(f"… and {total - len(jobs)} more (`backoffice export opportunities -` lists every one).")

    def on_qb_status(self, said: Said) -> None:
        companies = said.mentions.of("company")
        if companies:
            record, label = companies[0].doc, companies[0].doc["name"]
        else:
            self.flow_qb_status({"said": said})
            return
        self._qb_answer(record, label)

    def flow_qb_status(self, d: Doc) -> None:
        contact = self.pick("qb_status", d, "who", "contact", d.pop("said", None), open_only=False)
        self._qb_answer(contact, full_name(contact))

    def _qb_answer(self, record: Doc, label: str) -> None:
        qb = record.get("quickbooks_customer_id")
        if qb:
            self.reply.say(f"Yes: {label} is QuickBooks customer {qb}.")
        else:
            self.reply.say(f'No: {label} is not in QuickBooks yet. Say "put {label} in QuickBooks" to add them '
                           "(I ask you first).")  # fmt: skip

    # ------------------------------------------------------------------ duplicates
    def on_duplicates(self, said: Said) -> None:
        outcome = self.call("find_duplicates")
        if not self.report(outcome):
            return
        found = outcome.result or {}
        clusters = found.get("clusters", [])
        if not clusters:
            self.reply.say(
                "No likely duplicates: no two contacts share a phone or an email, or a name at the same company."
            )
            return
        rows = []
        for n, cluster in enumerate(clusters, start=1):
            for c in cluster["contacts"]:
                keep = "keep?" if c["contact_id"] == cluster["suggested_keep"] else ""
                rows.append(
                    [str(n), c["name"], c["contact_id"], c["phone"] or "", c["email"] or "", str(c["history"]), keep]
                )
        self.reply.table("Likely duplicates", ["group", "name", "id", "phone", "email", "history", ""], rows)
        self.reply.say("Why: " + "; ".join(w for cluster in clusters for w in cluster["why"]))
        first = clusters[0]
        keep_id = first["suggested_keep"]
        other = next(c["contact_id"] for c in first["contacts"] if c["contact_id"] != keep_id)
        more = (
            f" ({found['total'] - len(clusters)} more groups not shown)"
            if found.get("total", 0) > len(clusters)
            else ""
        )
        self.reply.say(f'To combine a group say "merge {other} into {keep_id}": I show what moves and ask first.{more}')


def _table(kind: str) -> str:
    return {"contact": "contacts", "lead": "leads", "job": "opportunities"}[kind]


def _entry(item: Doc) -> dict[str, Any]:
    return {"at": item["timestamp"], "kind": item["type"], "text": summary(item),
            "interaction_id": item["interaction_id"]}  # fmt: skip
