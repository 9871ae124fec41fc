"""A generated year of a small plumbing business, then the owner's measures timed on it.

    python bench/year_bench.py [--per-day 4] [--seed 7] [--keep DIR]

Every record goes through the tools with the clock pinned to when it happens (as the sample
business does), so the event log is a real year: inquiries from named and unnamed sources, about
60% qualified with a class and the rest disqualified or left open, jobs that move through the
stages and are won or lost (to one of four rivals, for a reason), and ad spend every month.
Then it times KPIs for each month, the source and competitor reports, the board, the ranking of
open leads by score, the scoring health check and the pipeline report, and prints what they say.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backoffice.tools.book import clock  # noqa: E402
from backoffice.tools.book.store import Store  # noqa: E402
from backoffice.tools.catalog import get_tool  # noqa: E402

SOURCES = [("web_form", "Google Ads", 0.28), ("phone_call", "Yelp", 0.14), ("phone_call", "Nextdoor", 0.08),
           ("phone_call", None, 0.2), ("referral", None, 0.15), ("email", None, 0.1), ("phone_call", "yard sign", 0.05)]
# how likely a lead from each source is to be worth it, and to be won (so the reports have something to find)
QUALITY = {"Google Ads": 0.55, "Yelp": 0.45, "Nextdoor": 0.65, None: 0.6, "yard sign": 0.7}
RIVALS = [("Budget Pipes", "price"), ("Budget Pipes", "price"), ("Acme Plumbing", "timing"),
          ("Metro Drain", "scope"), ("FlowRight", "competition")]
SPEND = {"Google Ads": (350, 600), "Yelp": (120, 200), "Nextdoor": (40, 90)}
FIRST, LAST = dt.date(2025, 12, 1), dt.date(2026, 11, 30)


def call(store: Store, name: str, /, **args: Any) -> dict[str, Any]:
    tool = get_tool(name)
    return tool.func(store, tool.parse(args))


def generate(store: Store, per_day: float, rng: random.Random) -> dict[str, int]:
    """Schedule every lead's story, then play the steps in time order."""
    steps: list[tuple[dt.datetime, int, Callable[[], None]]] = []
    day = FIRST
    n = 0
    while day <= LAST:
        if day.weekday() < 5:
            for _ in range(max(0, round(rng.gauss(per_day, 1.5)))):
                n += 1
                _story(store, n, day, rng, steps)
        day += dt.timedelta(days=1)
    now = dt.datetime.combine(LAST, dt.time(18), tzinfo=store.tz)
    steps = [s for s in steps if s[0] <= now]
    steps.sort(key=lambda s: (s[0], s[1]))
    with store.acting_as("import"):
        for i in range(0, len(steps), 200):
            with store.transaction():
                for when, _, step in steps[i : i + 200]:
                    with clock.frozen(when):
                        step()
        month = FIRST
        with store.transaction():
            while month <= LAST:
                with clock.frozen(dt.datetime.combine(month, dt.time(9), tzinfo=store.tz)):
                    for source, (lo, hi) in SPEND.items():
                        call(store, "record_source_spend", source=source, amount=rng.randint(lo, hi),
                             month=f"{month:%Y-%m}")  # fmt: skip
                month = (month + dt.timedelta(days=32)).replace(day=1)
    return {"leads": n, "steps": len(steps)}


def _story(store: Store, n: int, day: dt.date, rng: random.Random, steps: list[Any]) -> None:
    channel, detail, _ = rng.choices(SOURCES, weights=[s[2] for s in SOURCES])[0]
    start = dt.datetime.combine(day, dt.time(rng.randint(8, 16), rng.randint(0, 59)), tzinfo=store.tz)
    value = float(rng.choice([250, 450, 800, 1500, 2800, 4500, 9000]))
    state: dict[str, Any] = {}

    def at(days: float) -> dt.datetime:
        return start + dt.timedelta(days=days)

    def inquiry() -> None:
        phone = f"555-{200 + n // 10000}-{n % 10000:04d}"
        state["lead"] = call(store, "record_inquiry", name=f"Customer {n}", phone=phone,
                             address=f"{n} Main St", description=f"Job {n}", title=f"Job {n}", source=channel,
                             source_detail=detail, estimated_value=value)["lead"]["lead_id"]  # fmt: skip

    steps.append((start, n, inquiry))
    good = rng.random() < QUALITY[detail]
    decide = at(rng.uniform(0.5, 6))
    if not good:
        if rng.random() < 0.8:
            steps.append((decide, n, lambda: call(store, "disqualify_lead", lead_id=state["lead"],
                                                   reason=rng.choice(["budget", "timing", "outside_scope",
                                                                      "no_response"]))))  # fmt: skip
        return
    effort = rng.choices(["gold", "silver", "bronze"], weights=[2, 5, 3])[0]
    steps.append((decide, n, lambda: call(store, "qualify_lead", lead_id=state["lead"], effort_class=effort)))

    def convert() -> None:
        state["job"] = call(store, "convert_lead", lead_id=state["lead"], amount=value)["opportunity"]["opportunity_id"]

    steps.append((at(rng.uniform(6, 12)), n, convert))
    steps.append((at(rng.uniform(12, 20)), n, lambda: call(store, "update_opportunity", opportunity_id=state["job"],
                                                             stage="proposal_sent")))  # fmt: skip
    close = at(rng.uniform(22, 50))
    won_odds = {"gold": 0.7, "silver": 0.5, "bronze": 0.3}[effort]
    if rng.random() < won_odds:
        steps.append((close, n, lambda: call(store, "mark_opportunity_won", opportunity_id=state["job"])))
    elif rng.random() < 0.85:
        rival, reason = rng.choice(RIVALS)
        steps.append((close, n, lambda: call(store, "mark_opportunity_lost", opportunity_id=state["job"],
                                             reason=reason, competitor=rival)))  # fmt: skip


def timed(label: str, fn: Callable[[], Any], results: list[tuple[str, float]]) -> Any:
    start = time.perf_counter()
    out = fn()
    results.append((label, (time.perf_counter() - start) * 1000))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-day", type=float, default=4.0, help="inquiries per business day (average)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="build the book in this (empty) folder and keep it")
    args = parser.parse_args()
    os.environ["BACKOFFICE_NOW"] = f"{LAST}T18:00:00"
    from backoffice.tools.crm.scores import health_data, rank_rows
    from backoffice.tools.reports.board import board_data
    from backoffice.tools.reports.measure import competitors_data, kpis_data, sources_data
    from backoffice.tools.reports.pipeline import pipeline_data

    with tempfile.TemporaryDirectory(prefix="backoffice-year-") as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        store = Store(directory)
        began = time.perf_counter()
        made = generate(store, args.per_day, random.Random(args.seed))
        built = time.perf_counter() - began
        counts = store.counts()
        print(f"A year ({FIRST} to {LAST}): {made['leads']} inquiries, {made['steps']} steps through the tools "
              f"in {built:.0f} s; book: {counts}; events: {len(store.events())}")  # fmt: skip
        results: list[tuple[str, float]] = []
        months = []
        month = FIRST
        while month <= LAST:
            months.append(timed(f"kpis {month:%Y-%m}", lambda m=month: kpis_data(store, f"{m:%Y-%m}"), results))
            month = (month + dt.timedelta(days=32)).replace(day=1)
        timed("sources (last month)", lambda: sources_data(store, f"{LAST:%Y-%m}"), results)
        src = timed("sources (2026-08, its jobs decided)", lambda: sources_data(store, "2026-08"), results)
        comp = timed("competitors", lambda: competitors_data(store), results)
        board = timed("board", lambda: board_data(store, True), results)
        ranked = timed("score ranking (every open lead)", lambda: rank_rows(store, 10), results)
        health = timed("score health check", lambda: health_data(store), results)
        pipe = timed("pipeline (with weighted value and velocity)", lambda: pipeline_data(store), results)
        print("\nTimes (ms):")
        for label, ms in results:
            print(f"  {label:45s} {ms:8.1f}")
        print("\nWhat they say:")
        for k in months[-3:]:
            print(f"  {k['month']}: {k['leads_created']} leads; qualify in {k['time_to_qualification_days']} d; "
                  f"disqualified {k['disqualification_rate']}; conversion by class "
                  f"{ {c: v['rate'] for c, v in k['conversion_by_class'].items()} }; "
                  f"days to close {k['days_to_close']}; weighted pipeline ${k['weighted_pipeline_value']:,.0f}; "
                  f"cycle {k['velocity']['cycle_days']} d")  # fmt: skip
        for r in src["sources"]:
            print(f"  source {r['source']}: {r['leads']} leads, conversion {r['conversion']}, won {r['won']} "
                  f"(${r['won_value']:,.0f}), spend ${r['spend']:,.0f}, per won job {r['cost_per_won_job']}, "
                  f"ROI {r['roi']}")  # fmt: skip
        for r in comp["competitors"]:
            print(f"  lost to {r['competitor']}: {r['losses']} ({r['share']}), {r['reasons']}")
        print(f"  board: {board['open_jobs']} open jobs, weighted ${board['weighted_pipeline_value']:,.0f}")
        print(f"  top lead: {ranked[0][0] if ranked[0] else None}; open leads scored: {ranked[1]}")
        bands = [(b["band"], b["win_rate"]) for b in health["bands"]]
        print(f"  health: {health['outcomes']} outcomes, bands {bands}, "
              f"correlation {health['correlation']}, recalibrate {health['recalibrate']}")  # fmt: skip
        for line in health["findings"]:
            print(f"    {line}")
        print(f"  pipeline: weighted ${pipe['weighted_pipeline_value']:,.0f}, velocity {pipe['velocity']}")
        store.close()


if __name__ == "__main__":
    main()
