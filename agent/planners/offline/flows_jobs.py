"""Jobs: winning (the owner's yes first; QuickBooks is asked once, by the tool's own next step),
losing with a reason and a competitor, and the reminder to check back afterwards.

A win or a loss names a job the way the owner remembers it, closed or not: a job already won or
lost is found and said to be final, never treated as missing; a lead named where a job was meant
is said to be a lead (and "lost" on a lead means disqualifying it, with a reason)."""

from __future__ import annotations

import datetime as dt
import re

from backoffice.agent.planners.offline import resolve
from backoffice.agent.planners.offline.engine import Engine, Said
from backoffice.agent.planners.offline.understand import (
    LOST_REASONS,
    add_months,
    disqualify_reason,
    find_amounts,
    find_competitor,
    find_date,
    lost_reason,
    named_reason,
)
from backoffice.tools.book.store import Doc


class JobFlows(Engine):
    def _job_or_say(self, d: Doc, said: Said | None, flow: str) -> Doc | None:
        """The job meant, open or closed. A closed one is reported (and None returned)."""
        if said is not None and not d.get("job"):
            hits = said.mentions.candidates("job")
            top = resolve.best(hits)
            open_top = resolve.best([h for h in hits if resolve.is_open("job", h.doc)])
            if open_top:
                top = open_top
            if len(top) == 1 and not resolve.is_open("job", top[0].doc):
                job = top[0].doc
                when = job.get("close_date") or "earlier"
                detail = ""
                if job["stage"] == "lost":
                    bits = [b for b in ((job.get("lost_reason") or "").replace("_", " "), job.get("competitor")) if b]
                    detail = f" ({', '.join(bits)})" if bits else ""
                self.reply.say(f"{job['name']} ({job['opportunity_id']}) was already marked {job['stage']}{detail} on "
                               f"{when}. Won and lost are final; the record stays as it is.")  # fmt: skip
                return None
            if not top:
                leads = resolve.best(said.mentions.candidates("lead", open_only=True))
                if len(leads) == 1:
                    d["lead_instead"] = leads[0].id
                    return None
        return self.pick(flow, d, "job", "job", said)

    # ------------------------------------------------------------------ won
    def on_won(self, said: Said) -> None:
        amounts = find_amounts(said.raw)
        amount = None
        if amounts:
            if amounts[0].value is None:
                self.reply.say(f"{amounts[0].problem}; I left the amount as it was.")
            else:
                amount = amounts[0].value
        self.flow_won({"said": said, "amount": amount})

    def flow_won(self, d: Doc) -> None:
        job = self._job_or_say(d, d.pop("said", None), "won")
        if job is None:
            if d.get("lead_instead"):
                lead = self.store.require("leads", d["lead_instead"])
                self.reply.say(f"{lead['title']} ({lead['lead_id']}) is still a lead, not a job. Convert it first "
                               f'("convert {lead["lead_id"]} to a job"), then mark the job won.')  # fmt: skip
            return
        if self.unsure(d, "job"):
            self.confirm("won", d, f"Do you mean {job['name']} ({job['opportunity_id']})?")
            if d["confirmed"] is False:
                self.reply.say("OK, nothing changed. Which job was it?")
                return
        outcome = self.call("mark_opportunity_won", opportunity_id=job["opportunity_id"], amount=d.get("amount"))
        if outcome.status == "declined":
            self.reply.say(f"OK, {job['name']} stays {job['stage'].replace('_', ' ')}.")
            return
        if outcome.status in ("pending", "already"):
            self.reply.say(outcome.message)
            return
        if self.report(outcome):
            self.remember("job", job)
            self.reply.say(outcome.message)

    # ------------------------------------------------------------------ lost
    def on_lost(self, said: Said) -> None:
        competitor = find_competitor(said.raw)
        clause = _why(said.raw)
        reason = (lost_reason(self.normalise(clause), competitor) or "other") if clause else (
            "competition" if competitor else None
        )  # fmt: skip
        remind = re.search(r"\bremind me\b|\bcheck back\b|\bfollow up\b", said.norm)
        when = find_date(said.norm[remind.start() :], self.store.today(), said.order) if remind else None
        self.flow_lost({"said": said, "reason": reason, "note": clause or None, "competitor": competitor,
                        "remind": when.day.isoformat() if when else None})  # fmt: skip

    def flow_lost(self, d: Doc) -> None:
        said = d.pop("said", None)
        if d.get("lead_instead") or d.get("lead"):
            self._lost_lead(d)
            return
        job = self._job_or_say(d, said, "lost")
        if job is None:
            if d.get("lead_instead"):
                self._lost_lead(d)
            return
        if not d.get("reason"):
            self.need("lost", d, "reason", "lost_reason")
        reason = str(d["reason"])
        if reason not in {r for r, _ in LOST_REASONS}:
            said_text = reason
            d["competitor"] = d.get("competitor") or find_competitor(said_text)
            d["note"] = said_text
            reason = lost_reason(said_text, d["competitor"]) or "other"
        note = d.get("note")
        if note and re.fullmatch(
            r"\s*(?:reason:?\s*)?" + reason.replace("_", " ") + r"[.!]?\s*", note.replace("_", " "), re.I
        ):
            note = None
        outcome = self.call("mark_opportunity_lost", opportunity_id=job["opportunity_id"], reason=reason, note=note,
                            competitor=d.get("competitor"))  # fmt: skip
        if not self.report(outcome):
            return
        self.remember("job", job)
        rival = f", to {d['competitor']}" if d.get("competitor") else ""
        self.reply.say(f"Marked {job['name']} lost ({reason.replace('_', ' ')}{rival}). The history stays on file.")
        contact = self.store.get("contacts", job["contact_id"]) if job.get("contact_id") else None
        if not contact:
            return
        data = {"contact_id": contact["contact_id"], "job": job["name"], "opportunity_id": job["opportunity_id"]}
        if d.get("remind"):
            data.update(go=True, when=d["remind"])
            self.flow_reengage(data)
            return
        self.need("reengage", data, "go", "yesno", self.question("lost", "reengage", first=self.first_name(contact)))

    def _lost_lead(self, d: Doc) -> None:
        """ "We lost the kitchen job" when the kitchen is still a lead: disqualify it, with a reason."""
        lead = self.store.require("leads", d.get("lead") or d["lead_instead"])
        d["lead"] = lead["lead_id"]
        if not d.get("told"):
            self.reply.say(f"{lead['title']} ({lead['lead_id']}) is still a lead, not a job, so it is disqualified "
                           "rather than lost.")  # fmt: skip
            d["told"] = True
        text = str(d.get("note") or "")
        if not d.get("dq_reason"):
            reason = disqualify_reason(text) if text else None
            if reason is None and d.get("reason") in ("price",):
                reason = "budget"
            if reason is None and (d.get("competitor") or d.get("reason") == "competition" or
                                   re.search(r"\bwent with|another (?:plumber|contractor|company)", text)):  # fmt: skip
                reason = "other"
            if reason is None:
                self.need("lost", d, "dq_reason", "reason", self.question("disqualify", "reason"))
            d["dq_reason"] = reason
        reason = str(d["dq_reason"])
        if reason not in ("budget", "timing", "outside_scope", "no_response", "other"):
            d["note"] = reason
            reason = disqualify_reason(reason) or "other"
        outcome = self.call("disqualify_lead", lead_id=lead["lead_id"], reason=reason, note=d.get("note") or None)
        if self.report(outcome):
            self.reply.say(outcome.message)

    def flow_reengage(self, d: Doc) -> None:
        if not d["go"]:
            self.reply.say("OK, no reminder.")
            return
        today = self.store.today()
        due: dt.date
        if d.get("when"):
            due = dt.date.fromisoformat(str(d["when"]))
        else:
            when = find_date(self.normalise(str(d.get("go_text", ""))), today, self.date_order())
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


def _why(raw: str) -> str:
    """The part of a loss that says why: after the job and the word lost, or a "reason:"."""
    m = re.search(r"\breason:?\s*(?P<why>.+)$", raw, re.I)
    if m:
        return m.group("why").strip(" .")
    parts = re.split(r"\s*(?:,|;|\.\s|\s-\s|\s—\s|:|\bbecause\b|\bcuz\b|\bbc\b|\bdue to\b)\s*", raw, flags=re.I)
    parts = [p.strip(" .!") for p in parts if p and p.strip(" .!")]
    command = re.compile(r"\b(?:mark\w*|lost it|we lost|as lost|(?:is|was) lost|lost)\b", re.I)
    clauses = [p for p in parts if not command.fullmatch(p)]
    if len(parts) > 1:
        kept = [p for p in clauses if not re.fullmatch(r"(?:\w+\s+){0,5}(?:job|deal|gig|contract)s?\s+"
                                                         r"(?:is\s+)?lost(?:\s+it)?",
                                                         p, re.I)]  # fmt: skip
        kept = [
            re.sub(
                r"^(?:mark (?:the |it )?(?:\w+ ){0,4}(?:as )?lost|lost (?:the )?(?:\w+ ){0,3}(?:job|deal|gig)|"
                r"close (?:the )?(?:\w+ ){0,3}(?:job|deal) out as lost)\s*",
                "",
                p,
                flags=re.I,
            )
            for p in kept
        ]
        return "; ".join(p for p in kept if p.strip())
    m = re.search(r"\blost\b.*?\b(?:on|to|over|for)\s+(?P<why>.+)$", raw, re.I)
    if m:
        return m.group("why").strip(" .")
    if named_reason(raw, LOST_REASONS):
        return raw
    return ""
