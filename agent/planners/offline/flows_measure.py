"""Scores, spend, competitors, KPIs, sources and the board, in the owner's words (the requests are
declared in procedures/qualify.requests.yaml and procedures/measure.requests.yaml)."""

from __future__ import annotations

import re

from backoffice.agent.planners.offline.engine import Engine, Said
from backoffice.agent.planners.offline.understand import find_amounts, find_month
from backoffice.tools.book.normalize import money
from backoffice.tools.book.store import Doc
from backoffice.tools.reports.board import board_table, open_jobs

CLASS_WORDS = re.compile(r"\b(gold|silver|bronze)\b")


def said_class(text: str) -> str | None:
    """The class a line gives ("qualify it as gold"), if any."""
    m = CLASS_WORDS.search(text)
    return m.group(1) if m else None


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


class MeasureFlows(Engine):
    # ------------------------------------------------------------------ scores
    def on_lead_score(self, said: Said) -> None:
        self.flow_lead_score({"said": said})

    def flow_lead_score(self, d: Doc) -> None:
        lead = self.pick("lead_score", d, "lead", "lead", d.pop("said", None), open_only=False)
        outcome = self.call("lead_score", lead_id=lead["lead_id"])
        if not self.report(outcome) or outcome.result is None:
            return
        result = outcome.result
        shown = result.get("score")
        self.reply.say(f"**{lead['title']}** ({lead['lead_id']}) scores **{shown if shown is not None else '—'}**/100"
                       + (f", class {result['class']}." if result.get("class") else "."))  # fmt: skip
        rows = [[b["criterion"], str(b["points"]), b["why"]] for b in result.get("breakdown", [])]
        if rows:
            self.reply.table("Why", ["criterion", "points", "because"], rows)

    def on_rank_leads(self, said: Said) -> None:
        outcome = self.call("rank_leads", limit=10)
        if not self.report(outcome) or outcome.result is None:
            return
        rows = outcome.result.get("leads", [])
        if not rows:
            self.reply.say("There are no open leads to score.")
            return
        self.reply.table(f"Open leads by score ({outcome.result['total']})", ["score", "lead", "id", "who", "class",
                         "strongest"], [[str(r["score"]), r["title"], r["lead_id"], r["contact"] or "",
                         r["class"] or "", r["strongest"]] for r in rows])  # fmt: skip

    def on_score_health(self, said: Said) -> None:
        outcome = self.call("score_health")
        if not self.report(outcome) or outcome.result is None:
            return
        data = outcome.result
        rows = [[b["band"], str(b["leads"]), str(b["won"]), _percent(b["win_rate"])] for b in data["bands"]]
        self.reply.table(f"Scores against outcomes ({data['outcomes']} decided leads)",
                         ["score band", "leads", "won", "win rate"], rows)  # fmt: skip
        self.reply.say(outcome.message)

    # ------------------------------------------------------------------ spend and sources
    def on_spend(self, said: Said) -> None:
        amounts = [a.value for a in find_amounts(said.raw) if a.value is not None]
        bare = re.search(r"\b(?:spent|spend|paid|pay|put)\s+(\d[\d,]*(?:\.\d\d)?)\b", said.norm)
        if not amounts and bare:  # "spent 150 on yelp": a bare number after spent is dollars
            amounts = [float(bare.group(1).replace(",", ""))]
        m = re.search(r"\d\S*\s+(?:\w+\s+)?(?:on|for|into)\s+(.+)$", said.raw, re.IGNORECASE)
        source = None
        if m:
            source = re.sub(r"\s*\b(?:this|last|in|for|during)\s+(?:month|week|year|(?:jan|feb|mar|apr|may|jun|jul|"
                            r"aug|sep|oct|nov|dec)\w*(?:\s+20\d\d)?)\b.*$", "", m.group(1), flags=re.IGNORECASE)
            source = re.sub(r"^(?:the|our|my)\s+", "", source.strip(" .,!?"), flags=re.IGNORECASE) or None
        month = find_month(said.norm, self.store.today())
        self.flow_spend({"amount": amounts[0] if amounts else None, "source": source, "month": month})

    def flow_spend(self, d: Doc) -> None:
        if d.get("amount") is None:
            self.need("spend", d, "amount", "money", self.question("spend", "amount") or "How much was spent?")
        if not d.get("source"):
            self.need("spend", d, "source", "text", self.question("spend", "source") or "Spent on what?")
        outcome = self.call("record_source_spend", source=d["source"], amount=d["amount"], month=d.get("month"))
        if self.report(outcome):
            self.reply.say(outcome.message)

    def on_sources(self, said: Said) -> None:
        month = find_month(said.norm, self.store.today())
        outcome = self.call("source_report", month=month)
        if not self.report(outcome) or outcome.result is None:
            return
        data = outcome.result
        if not data["sources"]:
            self.reply.say(f"No leads and no spend recorded for {data['month']}.")
            return
        rows = [[r["source"], str(r["leads"]), _percent(r["conversion"]), str(r["won"]), money(r["won_value"]),
                 money(r["spend"]) if r["spend"] else "", money(r["cost_per_won_job"]) if r["cost_per_won_job"] else "",
                 f"{r['roi']:+.0%}" if r["roi"] is not None else ""] for r in data["sources"]]  # fmt: skip
        self.reply.table(f"Lead sources, {data['month']}", ["source", "leads", "converted", "won", "won value",
                         "spend", "per won job", "ROI"], rows)  # fmt: skip

    # ------------------------------------------------------------------ competitors
    def on_competitors(self, said: Said) -> None:
        outcome = self.call("competitor_report")
        if not self.report(outcome) or outcome.result is None:
            return
        data = outcome.result
        if not data["lost_jobs"]:
            self.reply.say("No job has been lost yet, so there is no one we lose to.")
            return
        rows = [[r["competitor"], str(r["losses"]), _percent(r["share"]), money(r["lost_value"]),
                 ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in r["reasons"].items())]
                for r in data["competitors"]]  # fmt: skip
        self.reply.table(f"Who we lose to ({data['lost_jobs']} lost jobs)", ["competitor", "jobs", "share", "value",
                         "why"], rows)  # fmt: skip
        bidding = data.get("bidding_on_open_jobs") or {}
        if bidding:
            self.reply.say("Bidding against us on open jobs: " + ", ".join(f"{k} ({v})" for k, v in bidding.items()))

    # ------------------------------------------------------------------ KPIs and the board
    def on_kpis(self, said: Said) -> None:
        month = find_month(said.norm, self.store.today())
        outcome = self.call("kpis", month=month)
        if not self.report(outcome) or outcome.result is None:
            return
        k = outcome.result
        volume = ", ".join(f"{s} {n}" for s, n in k["volume_by_source"].items()) or "none"
        conv = ", ".join(f"{c} {_percent(v['rate'])}" for c, v in k["conversion_by_class"].items()) or "—"
        wins = ", ".join(f"{s} {_percent(v['rate'])}" for s, v in k["win_rate_by_source"].items()) or "—"
        rows = [
            ["new leads by source", f"{k['leads_created']}: {volume}"],
            ["days to qualify", str(k["time_to_qualification_days"] or "—")],
            ["disqualified", _percent(k["disqualification_rate"])],
            ["conversion by class", conv],
            ["win rate by source", wins],
            ["days to close", str(k["days_to_close"] or "—")],
            ["weighted pipeline", f"{money(k['weighted_pipeline_value'])} of {money(k['pipeline_value'])} open"],
            ["cycle time (days)", str(k["velocity"]["cycle_days"] or "—")],
        ]
        self.reply.table(f"KPIs, {k['month']}", ["measure", "value"], rows)

    def on_board(self, said: Said) -> None:
        with_leads = bool(re.search(r"\bleads?\b", said.norm))
        outcome = self.call("pipeline_board", with_leads=with_leads)
        if not self.report(outcome) or outcome.result is None:
            return
        data = outcome.result
        heads, rows = board_table(data)
        weighted = money(data["weighted_pipeline_value"])
        self.reply.table(f"Pipeline board — {open_jobs(data['open_jobs'])}, weighted {weighted}",
                         heads, rows or [["" for _ in heads]])  # fmt: skip
        if with_leads:
            heads, rows = board_table(data, "lead_columns", "leads")
            self.reply.table("Open leads by stage", heads, rows or [["" for _ in heads]])
        self.reply.say("A page to open in a browser: `backoffice board --html board.html`.")
