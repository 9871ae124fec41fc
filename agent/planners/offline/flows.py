"""What each request the offline planner understands does: read the book, or walk a flow that
asks for what is missing and calls the tools through the gate."""

from __future__ import annotations

import re

from backoffice.agent import views
from backoffice.agent.briefings import render
from backoffice.agent.planners.offline import resolve
from backoffice.agent.planners.offline.engine import Engine, _first
from backoffice.agent.planners.offline.help import HELP
from backoffice.agent.planners.offline.understand import (
    DISQUALIFY_REASONS,
    LOST_REASONS,
    add_months,
    find_amount,
    find_date,
    find_follow_up,
    find_month,
    find_name,
    find_outcome,
    find_reason,
)
from backoffice.tools.accounting.sync import sync_args
from backoffice.tools.book.models import LeadStatus, choices
from backoffice.tools.book.normalize import full_name, money
from backoffice.tools.book.store import Doc
from backoffice.tools.crm.duplicates import suggest_keep
from backoffice.tools.reports.activity import current_work
from backoffice.tools.reports.digest import digest_data, follow_ups_due_rows, stale_lead_rows
from backoffice.tools.reports.pipeline import pipeline_data
from backoffice.tools.reports.winloss import winloss_data


class Flows(Engine):
    # ------------------------------------------------------------------ read requests
    def help(self, m: re.Match[str], text: str) -> None:
        self.reply.say(HELP)

    def pipeline(self, m: re.Match[str], text: str) -> None:
        self.reply.blocks.extend(render.pipeline_reply(pipeline_data(self.store)).blocks)

    def digest(self, m: re.Match[str], text: str) -> None:
        self.reply.blocks.extend(render.digest_reply(digest_data(self.store)).blocks)

    def winloss(self, m: re.Match[str], text: str) -> None:
        month = find_month(text, self.store.today())
        self.reply.blocks.extend(render.winloss_reply(winloss_data(self.store, month)).blocks)

    def follow_ups(self, m: re.Match[str], text: str) -> None:
        rows = follow_ups_due_rows(self.store)
        if not rows:
            self.reply.say("No follow-ups due today. Nothing is overdue.")
            return
        views.follow_ups(self.reply, rows)

    def stale(self, m: re.Match[str], text: str) -> None:
        rows = stale_lead_rows(self.store)
        if not rows:
            self.reply.say("Every open lead has had activity in the last few business days.")
            return
        views.stale_leads(self.reply, rows)
        if len(rows) == 1:
            self.need("draft_for_lead", {"lead_id": rows[0]["lead_id"]}, "go", "Want me to draft a follow-up?", "yesno")
        self.reply.say(f'Say "follow up on {rows[0]["lead_id"]}" and I will draft a message.')

    def newest(self, m: re.Match[str], text: str) -> None:
        rows = self.call("newest_customers").result or {}
        customers = rows.get("customers", [])
        if not customers:
            self.reply.say("No customers yet — a contact becomes a customer when one of their jobs is won.")
            return
        self.reply.table(
            "Newest customers",
            ["name", "id", "customer since"],
            [[r["name"], r["contact_id"], r["since"]] for r in customers],
        )

    def last_touch(self, m: re.Match[str], text: str) -> None:
        data = {"ref": m.group("who")}
        self.flow_last_touch(data)

    def flow_last_touch(self, d: Doc) -> None:
        contact = self.pick(
            "last_touch", d, "contact_id", resolve.contacts(self.store, d["ref"]), "contact", self.contact_label
        )
        outcome = self.call("last_touchpoint", contact_id=contact["contact_id"])
        if self.report(outcome):
            self.reply.say(outcome.message)

    def find(self, m: re.Match[str], text: str) -> None:
        what = m.group("what").strip(" ?.")
        docs = resolve.contacts(self.store, what)
        lead_docs = resolve.leads(self.store, what, choices(LeadStatus))
        if not docs and not lead_docs:
            self.reply.say(f"Nothing in the book matches {what!r}.")
            return
        if docs:
            rows = [
                [
                    full_name(d),
                    d["contact_id"],
                    (d.get("phones") or [""])[0],
                    (d.get("emails") or [""])[0],
                    d["lifecycle_stage"],
                ]
                for d in docs[:10]
            ]
            self.reply.table("Contacts", ["name", "id", "phone", "email", "stage"], rows)
        if lead_docs:
            rows = [[d["title"], d["lead_id"], d["status"], d["pipeline_stage"]] for d in lead_docs[:10]]
            self.reply.table("Leads", ["title", "id", "status", "stage"], rows)

    def pending(self, m: re.Match[str], text: str) -> None:
        actions = self.turn.gate.pending.open()
        if not actions:
            self.reply.say("Nothing is waiting for your approval.")
            return
        views.pending_actions(self.reply, actions, "Waiting for your approval")
        self.reply.say("Approve with `backoffice approve ID`, or reject with `backoffice reject ID`.")

    # ------------------------------------------------------------------ duplicates and merging
    def duplicates(self, m: re.Match[str], text: str) -> None:
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

    def merge(self, m: re.Match[str], text: str) -> None:
        self.flow_merge({"a": m.group("a"), "b": m.group("b"), "into": m.group("how").lower() == "into"})

    def flow_merge(self, d: Doc) -> None:
        d["ref"] = d["a"]
        first = self.pick("merge", d, "a_id", resolve.contacts(self.store, d["a"]), "contact", self.contact_label)
        d["ref"] = d["b"]
        candidates = [c for c in resolve.contacts(self.store, d["b"]) if c["contact_id"] != first["contact_id"]]
        second = self.pick("merge", d, "b_id", candidates, "contact", self.contact_label)
        if first["contact_id"] == second["contact_id"]:
            self.reply.say(
                f"{full_name(first)} and {d['b']} are the same record ({first['contact_id']}); nothing to merge."
            )
            return
        keep = second if d.get("into") else suggest_keep(self.store, [first, second])
        other = first if keep is second else second
        outcome = self.call("merge_contacts", keep=keep["contact_id"], merge=[other["contact_id"]])
        if self.report(outcome):
            self.reply.say(outcome.message)
            self._remember("contact", keep)

    # ------------------------------------------------------------------ add a customer
    def add_customer(self, m: re.Match[str], text: str) -> None:
        data, leftover = self.contact_details(m.group("rest") or "")
        source = re.search(
            r"\b(?:referred by|referral from|found us (?:on|through|via)|heard (?:about us )?(?:from|on|through)"
            r"|via|from)\s+([^,;]+)",
            leftover,
            re.I,
        )
        if source:
            data["source"] = source.group(0).strip()
            leftover = leftover.replace(source.group(0), " ")
        name = find_name(leftover)
        if name:
            data["name"] = name
        self.flow_add_customer(data)

    def flow_add_customer(self, d: Doc) -> None:
        flow = "add_customer"
        if not d.get("name"):
            self.need(flow, d, "name", "What's the customer's name?")
        first = d["name"].split()[0]
        if d.get("phone") is None:
            self.need(flow, d, "phone", f"What's {first}'s phone number? (or skip)", "phone")
        if d.get("email") is None:
            self.need(flow, d, "email", f"Email address for {first}, if you have one? (or skip)", "email")
        if d.get("address") is None:
            self.need(flow, d, "address", "What's the service address — where the work will be? (or skip)", "optional")
        if d.get("source") is None:
            self.need(flow, d, "source", f"How did {first} hear about you? (or skip)", "optional")
        args = {
            "name": d["name"],
            "phone": d["phone"] or None,
            "email": d["email"] or None,
            "address": d["address"] or None,
            "source": d["source"] or None,
        }
        outcome = self.call("create_contact", **args)
        if not self.report(outcome) or outcome.result is None:
            return
        if not outcome.result["created"]:
            match = outcome.result["duplicates"][0]
            self.reply.say(
                f"{match['name']} ({match['contact_id']}) is already in the book ({match['matched_by']}). "
                "I'll ask before adding a second record."
            )
            anyway = self.call("create_contact_anyway", **args)
            if anyway.status == "ok" and anyway.result:
                self._added(anyway.result["contact"])
            elif anyway.status == "declined":
                self.reply.say(f"Kept the existing contact: {match['name']} ({match['contact_id']}).")
            else:
                self.report(anyway)
            return
        self._added(outcome.result["contact"])

    def _added(self, card: Doc) -> None:
        self.focus = {"contact": card["contact_id"]}
        phone = f", {card['phone']}" if card.get("phone") else ""
        self.reply.say(
            f"Added: {card['name']}{phone}. I've noted them as a new prospect ({card['contact_id']}). "
            "Want to log any notes or open a lead for them?"
        )
        self.need("after_add", {"contact_id": card["contact_id"]}, "go", "", "yesno")

    def flow_after_add(self, d: Doc) -> None:
        if not d["go"]:
            self.reply.say("OK.")
            return
        said = d.get("answer_text", "")
        if re.search(r"\bnote", said, re.I):
            self.need("add_note", d, "note", "What's the note?")
        self.need("open_lead", d, "description", "What's the job? A few words, e.g. 'kitchen remodel, about $8k'.")

    def flow_add_note(self, d: Doc) -> None:
        if self.report(outcome := self.call("update_contact", contact_id=d["contact_id"], append_note=d["note"])):
            self.reply.say(f"Noted on {outcome.result['contact']['name'] if outcome.result else 'the contact'}.")

    # ------------------------------------------------------------------ leads
    def open_lead(self, m: re.Match[str], text: str) -> None:
        parts = re.split(r"\s*[:;—–]\s*|\s*,\s*|\s+-\s+", m.group("rest"), maxsplit=1)
        description = parts[1].strip() if len(parts) > 1 else ""
        self.flow_open_lead({"ref": parts[0], "description": description or None})

    def flow_open_lead(self, d: Doc) -> None:
        contact = self.pick(
            "open_lead", d, "contact_id", resolve.contacts(self.store, d.get("ref", "")), "contact", self.contact_label
        )
        if not d.get("description"):
            self.need("open_lead", d, "description", f"What's the job for {_first(contact)}? A few words.")
        description = d["description"]
        amount = find_amount(description)
        title = re.split(r",|\s+(?:about|around|roughly|approx\.?)\s+\$|\s+\$", description)[0].strip() or description
        outcome = self.call(
            "create_lead",
            title=title[0].upper() + title[1:],
            description=description,
            contact_id=contact["contact_id"],
            source=d.get("source") or "other",
            estimated_value=amount,
        )
        if self.report(outcome) and outcome.result:
            lead = outcome.result["lead"]
            value = f", about {money(lead['estimated_value'])}" if lead.get("estimated_value") else ""
            self.reply.say(f"Opened lead {lead['lead_id']}: {lead['title']} for {lead['contact']}{value}.")

    def inquiry(self, m: re.Match[str], text: str) -> None:
        data, leftover = self.contact_details(m.group("rest"))
        data["source"] = "phone_call"
        lowered = text.lower()
        if re.search(r"\bemail|\bemailed|\bwrote\b", lowered):
            data["source"] = "email"
        elif re.search(r"web ?form|website|online form", lowered):
            data["source"] = "web_form"
        elif re.search(r"referr|recommended", lowered):
            data["source"] = "referral"
        parts = [
            p.strip()
            for p in re.split(r"[,;:]| — | - | about | re | regarding | wants? | needs? ", leftover)
            if p.strip()
        ]
        name = find_name(parts[0]) if parts else None
        description = ", ".join(p for p in parts[1:] if p) if name else ", ".join(parts)
        data.update(name=name, description=description or None)
        self.flow_inquiry(data)

    def flow_inquiry(self, d: Doc) -> None:
        if not (d.get("name") or d.get("phone") or d.get("email")):
            self.need("inquiry", d, "name", "Who is it from? A name, phone or email.")
        if not d.get("description"):
            self.need("inquiry", d, "description", "What do they need?")
        outcome = self.call(
            "record_inquiry",
            name=d.get("name"),
            phone=d.get("phone"),
            email=d.get("email"),
            address=d.get("address"),
            description=d["description"],
            title=d["description"][:1].upper() + d["description"][1:60],
            source=d["source"],
        )
        if self.report(outcome) and outcome.result:
            lead = outcome.result["lead"]
            self.reply.say(f"{outcome.message} Logged as lead {lead['lead_id']}. Want me to draft a response?")
            self.need("draft_for_lead", {"lead_id": lead["lead_id"]}, "go", "", "yesno")

    def qualify(self, m: re.Match[str], text: str) -> None:
        stage = "estimate_sent" if re.search(r"estimate|quote|proposal", text, re.I) else "needs_analysis"
        ref = re.split(r",|\s+(?:estimate|quote|proposal)\b", m.group("ref"))[0]
        self.flow_qualify({"ref": ref, "stage": stage, "amount": find_amount(text)})

    def flow_qualify(self, d: Doc) -> None:
        lead = self.pick("qualify", d, "lead_id", self.open_leads(d["ref"]), "lead", self.lead_label)
        outcome = self.call(
            "qualify_lead", lead_id=lead["lead_id"], pipeline_stage=d["stage"], estimated_value=d.get("amount")
        )
        if self.report(outcome):
            self.reply.say(outcome.message)

    def disqualify(self, m: re.Match[str], text: str) -> None:
        self.flow_disqualify(ref_and_reason(m.group("ref"), "", r"because|due to|reason|—|-", DISQUALIFY_REASONS))

    def flow_disqualify(self, d: Doc) -> None:
        lead = self.pick("disqualify", d, "lead_id", self.open_leads(d["ref"]), "lead", self.lead_label)
        if not d.get("reason"):
            self.need(
                "disqualify",
                d,
                "reason",
                "What's the reason? budget, timing, outside scope, no response, or other",
                "reason",
            )
        note = reason_note(d)
        outcome = self.call("disqualify_lead", lead_id=lead["lead_id"], reason=d["reason"], note=note)
        if self.report(outcome):
            self.reply.say(outcome.message)

    # ------------------------------------------------------------------ conversion and jobs
    def convert(self, m: re.Match[str], text: str) -> None:
        ref = m.group("ref")
        stage = "scheduled" if re.search(r"\bvisit|\bscheduled\b|\bbooked\b", text, re.I) else "estimating"
        self.flow_convert({"ref": ref, "stage": stage})

    def flow_convert(self, d: Doc) -> None:
        lead = self.pick("convert", d, "lead_id", self.open_leads(d["ref"]), "lead", self.lead_label)
        contact = self.store.get("contacts", lead["contact_id"]) if lead.get("contact_id") else None
        if contact is None:
            self.reply.error(f"Lead {lead['lead_id']} has no contact yet. Add the customer first, then convert.")
            return
        first = _first(contact)
        fixes: Doc = {}
        if not contact.get("phones"):
            if d.get("phone") is None:
                self.need(
                    "convert", d, "phone", f"Before {first} becomes a job I need a phone number. What is it?", "phone"
                )
            if d["phone"]:
                fixes["phone"] = d["phone"]
        if not contact.get("address"):
            if not d.get("address"):
                self.need("convert", d, "address", f"What's the service address for {first}?")
            fixes["address"] = d["address"]
        if fixes and not self.report(self.call("update_contact", contact_id=contact["contact_id"], **fixes)):
            return
        if lead["status"] != "qualified" and not self.report(self.call("qualify_lead", lead_id=lead["lead_id"])):
            return
        outcome = self.call("convert_lead", lead_id=lead["lead_id"], stage=d["stage"])
        if self.report(outcome):
            self.reply.say(outcome.message)

    def won(self, m: re.Match[str], text: str) -> None:
        ref = next(g for g in m.groups() if g)
        self.flow_won({"ref": ref, "amount": find_amount(text)})

    def flow_won(self, d: Doc) -> None:
        jobs = resolve.opportunities(self.store, d["ref"])
        if not jobs and resolve.leads(self.store, d["ref"]):
            self.reply.say(
                f'{d["ref"]!r} is still a lead, not a job. Convert it first ("convert {d["ref"]} to a job").'
            )
            return
        job = self.pick("won", d, "opportunity_id", jobs, "job", self.job_label)
        outcome = self.call("mark_opportunity_won", opportunity_id=job["opportunity_id"], amount=d.get("amount"))
        if not self.report(outcome) or outcome.result is None:
            return
        result = outcome.result
        self.reply.say(f"Marked {job['name']} won. The job is ready to schedule.")
        for who in result.get("quickbooks_needed", []):
            self.reply.say(f"{who['name']} is not in QuickBooks yet.")
            synced = self.call("create_quickbooks_customer", **sync_args(who))
            if synced.status in ("ok", "pending"):
                self.reply.say(synced.message)
            elif synced.status == "declined":
                self.reply.say('OK, not in QuickBooks for now. Say "add them to QuickBooks" any time.')
            else:
                self.report(synced)

    def lost(self, m: re.Match[str], text: str) -> None:
        ref, why = m.group("ref") or m.group("ref2"), m.group("why") or ""
        self.flow_lost(ref_and_reason(ref, why, r"because|due to|to|on|over", LOST_REASONS))

    def flow_lost(self, d: Doc) -> None:
        job = self.pick("lost", d, "opportunity_id", resolve.opportunities(self.store, d["ref"]), "job", self.job_label)
        if not d.get("reason"):
            self.need(
                "lost",
                d,
                "reason",
                "Why was it lost? price, competition, timing, no decision, scope, or other",
                "lost_reason",
            )
        note = reason_note(d)
        outcome = self.call(
            "mark_opportunity_lost", opportunity_id=job["opportunity_id"], reason=d["reason"], note=note
        )
        if not self.report(outcome):
            return
        contact = self.store.get("contacts", job["contact_id"]) if job.get("contact_id") else None
        self.reply.say(f"Marked {job['name']} lost ({d['reason'].replace('_', ' ')}). The history stays on file.")
        if contact:
            self.need(
                "reengage",
                {"contact_id": contact["contact_id"], "job": job["name"], "opportunity_id": job["opportunity_id"]},
                "go",
                f"Want me to set a reminder to check back with {_first(contact)} in 3 months? "
                '(yes, no, or say when: "yes, in 6 months")',
                "yesno",
            )

    def flow_reengage(self, d: Doc) -> None:
        if not d["go"]:
            self.reply.say("OK, no reminder.")
            return
        today = self.store.today()
        when = find_date(d.get("answer_text", ""), today)
        due = when.day if when else add_months(today, 3)
        outcome = self.call(
            "log_interaction",
            type="note",
            contact_id=d["contact_id"],
            subject=f"Check back about {d['job']}",
            body=f"Re-engage after the lost job {d['job']} ({d['opportunity_id']}).",
            follow_up_date=due.isoformat(),
        )
        if self.report(outcome):
            self.reply.say(f"Reminder set for {due:%a %b} {due.day}, {due.year}.")

    # ------------------------------------------------------------------ calls and follow-ups
    def log(self, m: re.Match[str], text: str) -> None:
        kind_word = (m.group("kind") or m.group("verb") or "call").lower()
        rest = m.group("rest") or m.group("rest2") or ""
        parts = re.split(r"\s+[—–-]\s+|[,;:]\s*|\.\s+|\s+(?:about|re|regarding)\s+", rest, maxsplit=1)
        ref = parts[0]
        summary = parts[1].strip() if len(parts) > 1 else ""
        kind = "phone_call"
        if "email" in kind_word or "e-mail" in kind_word:
            kind = "email_outbound" if kind_word.startswith("emailed") or " to " in f" {rest} " else "email_inbound"
        elif "text" in kind_word or "sms" in kind_word:
            kind = "sms"
        elif any(w in kind_word for w in ("meet", "met", "visit")):
            kind = "meeting"
        elif "note" in kind_word:
            kind = "note"
        self.flow_log({"ref": ref, "type": kind, "summary": summary or None})

    def flow_log(self, d: Doc) -> None:
        contact = self.pick(
            "log", d, "contact_id", resolve.contacts(self.store, d["ref"]), "contact", self.contact_label
        )
        if not d.get("summary"):
            self.need("log", d, "summary", "How did it go? Any next steps or follow-up needed?")
        summary = d["summary"].strip()
        today = self.store.today()
        follow_up = find_follow_up(summary, today)
        spoke = d["type"] in ("phone_call", "meeting")
        outcome_kind = find_outcome(summary, spoke)
        lead, job = current_work(self.store, contact["contact_id"])
        label = (
            d["type"]
            .replace("_", " ")
            .replace("phone call", "call")
            .replace("email inbound", "email")
            .replace("email outbound", "email")
        )
        outcome = self.call(
            "log_interaction",
            type=d["type"],
            contact_id=contact["contact_id"],
            lead_id=lead["lead_id"] if lead else None,
            opportunity_id=job["opportunity_id"] if job else None,
            subject=summary.split(".")[0][:80],
            body=summary,
            outcome=outcome_kind,
            follow_up_date=follow_up.isoformat() if follow_up else None,
        )
        if not self.report(outcome):
            return
        on = (
            f" on {job['name']} ({job['opportunity_id']})"
            if job
            else f" on the lead {lead['title']} ({lead['lead_id']})"
            if lead
            else ""
        )
        message = f"Logged the {label} with {full_name(contact)}{on}."
        if follow_up:
            message += f" Follow-up set for {follow_up:%a %b} {follow_up.day}."
        elif spoke:
            message += " No follow-up date set."
        self.reply.say(message)

    def follow_up_on(self, m: re.Match[str], text: str) -> None:
        ref = next(g for g in m.groups() if g).strip(" ?.")
        self.flow_follow_up({"ref": ref})

    def flow_draft_for_lead(self, d: Doc) -> None:
        if not d["go"]:
            self.reply.say("OK.")
            return
        self.flow_follow_up({"ref": d["lead_id"], "lead_id": d["lead_id"]})

    def flow_follow_up(self, d: Doc) -> None:
        target: Doc = {}
        if not d.get("lead_id") and not d.get("opportunity_id"):
            jobs = resolve.opportunities(self.store, d["ref"])
            leads = resolve.leads(self.store, d["ref"])
            if jobs and not leads:
                job = self.pick("follow_up", d, "opportunity_id", jobs, "job", self.job_label)
                target = {"opportunity_id": job["opportunity_id"]}
            else:
                lead = self.pick("follow_up", d, "lead_id", leads, "lead", self.lead_label)
                target = {"lead_id": lead["lead_id"]}
        else:
            target = {k: d[k] for k in ("lead_id", "opportunity_id") if d.get(k)}
        drafted = self.call("draft_follow_up", **target)
        if not self.report(drafted) or drafted.result is None:
            return
        draft = drafted.result
        self.reply.say(drafted.message)
        if not draft["to"]:
            self.reply.say(f"Here is what you could say on the phone:\n\n{draft['body']}")
            return
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
            self.reply.say(sent.message)
        elif sent.status == "declined":
            self.reply.say("OK, not sent. The draft is not saved anywhere; ask again any time.")
        else:
            self.report(sent)


def ref_and_reason(ref: str, tail: str, splitter: str, reasons: list[tuple[str, str]]) -> Doc:
    """'the Oak St lead, budget' -> ref and reason; the reason may follow a comma or a word such as 'because'."""
    if not tail:
        ref, _, tail = ref.partition(",")
    if not tail:
        split = re.split(rf"\s+(?:{splitter})\s+", ref, maxsplit=1)
        ref, tail = split[0], split[1] if len(split) > 1 else ""
    data: Doc = {"ref": ref}
    if tail.strip():
        data["reason"] = find_reason(tail, reasons) or "other"
        data["reason_note"] = tail.strip()
    return data


def reason_note(d: Doc) -> str | None:
    """What the owner said about the reason, unless it only repeats the reason itself."""
    note = d.get("reason_note")
    return note if note and note.lower().replace(" ", "_") != d["reason"] else None
