"""The owner's measures on the command line: score, kpis, sources, competitors, board."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from rich.console import Console

from backoffice.tools.book.store import Store

MONTH = r"\d{4}-(0[1-9]|1[0-2])"


def _month(text: str) -> str:
    if not re.fullmatch(MONTH, text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a month like 2026-10")
    return text


def month_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--month", type=_month, help="the month, YYYY-MM (default this month)")


def score_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("lead", nargs="?", help="a lead id (L-3); leave out to list the open leads by score")
    p.add_argument("--limit", type=int, default=20, help="how many leads to list (default 20)")
    p.add_argument("--health", action="store_true", help="compare scores with won and lost outcomes instead")


def board_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--leads", action="store_true", help="show the open leads by stage as well")
    p.add_argument("--html", metavar="FILE", help="write the board as one self-contained web page to FILE")


def _dump(data: Any) -> int:
    print(json.dumps(data, indent=2, default=str))
    return 0


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def _render(console: Console, reply: Any) -> int:
    from backoffice.agent.chat.screen import render

    render(reply, console)
    return 0


def _reply() -> Any:
    from backoffice.agent.reply import Reply

    return Reply(planner="reports")


def score(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.crm.scores import health_data, rank_rows, require_lead, score_of

    if args.health:
        data = health_data(store)
        if args.json:
            return _dump(data)
        reply = _reply()
        reply.table(f"Scores against outcomes ({data['outcomes']} decided leads)", ["score band", "leads", "won",
                    "win rate"], [[b["band"], str(b["leads"]), str(b["won"]), _percent(b["win_rate"])]
                                  for b in data["bands"]])  # fmt: skip
        for line in data["findings"] + data["warnings"]:
            reply.say(line)
        return _render(console, reply)
    if args.lead:
        lead = require_lead(store, args.lead.strip().upper())
        data = score_of(store, lead["lead_id"])
        if args.json:
            return _dump({k: data[k] for k in ("lead_id", "score", "breakdown", "class")})
        reply = _reply()
        reply.say(f"**{data['title']}** ({data['lead_id']}): **{data['score']}**/100"
                  + (f", class {data['class']}" if data.get("class") else "") + ".")  # fmt: skip
        reply.table("Why", ["criterion", "points", "because"],
                    [[b["criterion"], str(b["points"]), b["why"]] for b in data["breakdown"]])  # fmt: skip
        return _render(console, reply)
    rows, total = rank_rows(store, None if args.json else max(args.limit, 1))
    if args.json:
        return _dump({"leads": rows, "total": total})
    reply = _reply()
    if not rows:
        reply.say("There are no open leads to score.")
        return _render(console, reply)
    reply.table(f"Open leads by score ({total})", ["score", "lead", "id", "who", "class", "strongest"],
                [[str(r["score"]), r["title"], r["lead_id"], r["contact"] or "", r["class"] or "", r["strongest"]]
                 for r in rows])  # fmt: skip
    if total > len(rows):
        reply.say(f"… and {total - len(rows)} more (`--limit`, or `--json` for every one).")
    return _render(console, reply)


def kpis(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.book.normalize import money
    from backoffice.tools.reports.measure import kpis_data

    k = kpis_data(store, args.month)
    if args.json:
        return _dump(k)
    reply = _reply()
    volume = ", ".join(f"{s} {n}" for s, n in k["volume_by_source"].items()) or "none"
    rows = [
        ["new leads by source", f"{k['leads_created']}: {volume}"],
        ["days to qualify (average)", str(k["time_to_qualification_days"] or "—")],
        ["disqualification rate", _percent(k["disqualification_rate"])],
        ["conversion by class", ", ".join(f"{c} {_percent(v['rate'])} of {v['decided']}"
                                          for c, v in k["conversion_by_class"].items()) or "—"],  # fmt: skip
        ["win rate by source", ", ".join(f"{s} {_percent(v['rate'])} of {v['closed']}"
                                         for s, v in k["win_rate_by_source"].items()) or "—"],  # fmt: skip
        ["days to close (average)", str(k["days_to_close"] or "—")],
        ["open pipeline at month end", f"{k['open_jobs_at_month_end']} jobs, {money(k['pipeline_value'])}"],
        ["weighted pipeline value", money(k["weighted_pipeline_value"])],
        ["days per stage", ", ".join(f"{s.replace('_', ' ')} {d}" for s, d in k["velocity"]["days_per_stage"].items()
                                     if d is not None) or "—"],  # fmt: skip
        ["cycle time, job to win (days)", str(k["velocity"]["cycle_days"] or "—")],
    ]
    reply.table(f"KPIs, {k['month']}", ["measure", "value"], rows)
    return _render(console, reply)


def sources(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.book.normalize import money
    from backoffice.tools.reports.measure import sources_data

    data = sources_data(store, args.month)
    if args.json:
        return _dump(data)
    reply = _reply()
    if not data["sources"]:
        reply.say(f"No leads and no spend recorded for {data['month']}.")
        return _render(console, reply)
    reply.table(f"Lead sources, {data['month']}", ["source", "leads", "converted", "won", "won value", "spend",
                "per won job", "ROI"], [[r["source"], str(r["leads"]), _percent(r["conversion"]), str(r["won"]),
                money(r["won_value"]), money(r["spend"]) if r["spend"] else "",
                money(r["cost_per_won_job"]) if r["cost_per_won_job"] else "",
                f"{r['roi']:+.0%}" if r["roi"] is not None else ""] for r in data["sources"]])  # fmt: skip
    reply.say(f"Spend recorded: {money(data['total_spend'])}. Unattributed leads: {data['unattributed_leads']}.")
    return _render(console, reply)


def competitors(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.book.normalize import money
    from backoffice.tools.reports.measure import competitors_data

    data = competitors_data(store)
    if args.json:
        return _dump(data)
    reply = _reply()
    if not data["lost_jobs"]:
        reply.say("No job has been lost yet.")
        return _render(console, reply)
    reply.table(f"Who we lose to ({data['lost_jobs']} lost jobs)", ["competitor", "jobs", "share", "value", "why"],
                [[r["competitor"], str(r["losses"]), _percent(r["share"]), money(r["lost_value"]),
                  ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in r["reasons"].items())]
                 for r in data["competitors"]])  # fmt: skip
    if data["bidding_on_open_jobs"]:
        reply.say("Bidding on open jobs: " + ", ".join(f"{k} ({v})" for k, v in data["bidding_on_open_jobs"].items()))
    return _render(console, reply)


def board(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.book.normalize import money
    from backoffice.tools.book.storage import atomic_write_bytes
    from backoffice.tools.reports.board import board_data, board_html, board_table, open_jobs

    data = board_data(store, args.leads)
    if args.html:
        target = Path(args.html).expanduser()
        if target.is_dir() or not target.parent.is_dir():
            console.print(f"Cannot write the board to {target}: give a file in a folder that exists.")
            return 2
        page = board_html(data, store.settings.business_name, store.today().isoformat())
        atomic_write_bytes(target, page.encode("utf-8"))
        if args.json:
            return _dump({"file": str(target), "open_jobs": data["open_jobs"]})
        console.print(f"Wrote the board ({open_jobs(data['open_jobs'])}) to {target}.")
        return 0
    if args.json:
        return _dump(data)
    reply = _reply()
    heads, rows = board_table(data)
    reply.table(f"Pipeline board — {open_jobs(data['open_jobs'])}, weighted {money(data['weighted_pipeline_value'])}",
                heads, rows or [["" for _ in heads]])  # fmt: skip
    if args.leads:
        heads, rows = board_table(data, "lead_columns", "leads")
        reply.table("Open leads by stage", heads, rows or [["" for _ in heads]])
    return _render(console, reply)
