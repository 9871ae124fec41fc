"""Report benchmark: the morning digest, weekly pipeline and monthly win/loss over a big book.

    python bench/reports_bench.py [--leads 100000] [--reps 10]

Builds a book of N contacts, N leads, N interactions (a tenth of them pending follow-ups) and
N/5 jobs in every stage, then times each report against a baseline measured in the same run: one
bare pass over the leads table reading a single field, the least any whole-book report can do.
The target is under 1 s per report at 100,000 leads.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_bench import make_book, timed  # noqa: E402

from backoffice.tools.book.store import Store  # noqa: E402
from backoffice.tools.reports.digest import digest_data  # noqa: E402
from backoffice.tools.reports.pipeline import pipeline_data  # noqa: E402
from backoffice.tools.reports.winloss import winloss_data  # noqa: E402

STAGES = ["estimating", "scheduled", "proposal_sent", "won", "lost"]


def add_jobs_and_follow_ups(directory: Path, n: int, rng: random.Random) -> None:
    book = orjson.loads((directory / "crm.json").read_bytes())
    for key, item in book["interactions"].items():
        if int(key) % 10 == 0:
            item["follow_up_status"] = "pending"
            item["follow_up_date"] = f"2026-11-{rng.randint(10, 30):02d}"
    for key, lead in book["leads"].items():
        lead["created_at"] = f"2026-{rng.randint(8, 11):02d}-{rng.randint(1, 28):02d}T14:00:00+00:00"
        if int(key) % 7 == 0:
            lead["expected_close_date"] = f"2026-{rng.randint(10, 12):02d}-15"
    jobs = {}
    for i in range(1, n // 5 + 1):
        stage = rng.choice(STAGES)
        job = {
            "opportunity_id": f"O-{i}",
            "lead_id": f"L-{i}",
            "contact_id": f"C-{i}",
            "name": f"Job {i}",
            "stage": stage,
            "amount": float(rng.randint(200, 20000)),
            "created_at": f"2026-{rng.randint(8, 11):02d}-{rng.randint(1, 28):02d}T14:00:00+00:00",
            "updated_at": "2026-11-01T14:00:00+00:00",
            "needs_site_visit": False,
            "quickbooks_synced": False,
            "notes": "",
        }
        if stage in ("won", "lost"):
            job["close_date"] = f"2026-{rng.randint(9, 11):02d}-{rng.randint(1, 28):02d}"
        if stage == "lost":
            job["lost_reason"] = rng.choice(["price", "competition", "timing", "no_decision"])
        jobs[str(i)] = job
    (directory / "crm.json").write_bytes(orjson.dumps(book))
    (directory / "opportunity.json").write_bytes(orjson.dumps({"opportunities": jobs}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("BACKOFFICE_NOW", "2026-11-23T08:00:00")
    rng = random.Random(args.leads)
    with tempfile.TemporaryDirectory(prefix="backoffice-reports-bench-") as tmp:
        directory = Path(tmp)
        make_book(directory, args.leads, rng)
        add_jobs_and_follow_ups(directory, args.leads, rng)
        store = Store(directory)

        def baseline(i: int) -> int:
            with store.reading():
                return sum(1 for lead in store.scan("leads") if lead["status"] == "new")

        reports = {
            "baseline: one bare pass over the leads": baseline,
            "morning digest": lambda i: digest_data(store),
            "weekly pipeline": lambda i: pipeline_data(store),
            "monthly win/loss": lambda i: winloss_data(store, "2026-10"),
        }
        d = digest_data(store)
        print(
            f"{args.leads:,} leads, {store.count('opportunities'):,} jobs; the digest finds "
            f"{len(d['follow_ups']):,} follow-ups and {len(d['stale_leads']):,} quiet leads",
            flush=True,
        )
        base = None
        for name, func in reports.items():
            median, worst = timed(func, args.reps)
            base = base or median
            verdict = "" if name.startswith("baseline") else ("  ok (< 1 s)" if worst < 1000 else "  OVER 1 s")
            print(f"  {name:40} {median:8.1f} ms (worst {worst:7.1f})  {median / base:5.1f}x baseline{verdict}")
        store.close()


if __name__ == "__main__":
    main()
