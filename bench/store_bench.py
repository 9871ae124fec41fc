"""Store benchmark: backoffice's journaled store against stock TinyDB JSONStorage, same files, same run.

    python bench/store_bench.py [--sizes 1000,10000,100000] [--reps 20]

For each size it writes a realistic book (N leads, N contacts, N interactions) straight to the
TinyDB files, then times find-by-email, find-by-phone, create lead, log interaction and a
stale-lead scan, through backoffice's tools and through stock TinyDB on a copy of the same files.
Stock TinyDB at 100,000 leads takes seconds per operation, so it gets fewer repetitions.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tinydb import Query, TinyDB  # noqa: E402

from backoffice.tools.book.store import Store  # noqa: E402
from backoffice.tools.catalog import get_tool  # noqa: E402
from backoffice.tools.reports.digest import stale_lead_rows  # noqa: E402

STAMP = "2026-10-01T14:00:00+00:00"
STREETS = ["Oak St", "Main St", "Pine Ave", "Elm St", "Birch Ln", "Maple Dr", "Cedar Ct"]
JOBS = ["Leaky faucet", "Water heater replacement", "Sump pump", "Bathroom remodel", "Drain clog", "Boiler service"]


def make_book(directory: Path, n: int, rng: random.Random) -> None:
    contacts, leads, interactions = {}, {}, {}
    for i in range(1, n + 1):
        street = f"{rng.randint(1, 9999)} {rng.choice(STREETS)}"
        contacts[str(i)] = {
            "contact_id": f"C-{i}",
            "first_name": f"First{i}",
            "last_name": f"Last{i}",
            "phones": [f"+1555{i:07d}"],
            "emails": [f"person{i}@example.com"],
            "address": f"{street}, Springfield, IL 62701",
            "preferred_channel": "phone",
            "lifecycle_stage": "prospect",
            "tags": ["plumbing"],
            "notes": "Prefers mornings; dog in the yard.",
            "archived": False,
            "created_at": STAMP,
            "updated_at": STAMP,
        }
        leads[str(i)] = {
            "lead_id": f"L-{i}",
            "title": f"{rng.choice(JOBS)} at {street}",
            "description": "Customer called about a dripping kitchen faucet and low water pressure upstairs; "
            "wants someone this week.",
            "contact_id": f"C-{i}",
            "source": rng.choice(["phone_call", "email", "web_form", "referral"]),
            "status": rng.choice(["new", "working", "qualified", "disqualified", "converted"]),
            "pipeline_stage": "inquiry",
            "estimated_value": float(rng.randint(100, 9000)),
            "notes": "",
            "tags": [],
            "created_at": STAMP,
            "updated_at": STAMP,
        }
        if leads[str(i)]["status"] == "disqualified":
            leads[str(i)]["disqualification_reason"] = "budget"
        if leads[str(i)]["status"] == "converted":
            leads[str(i)]["status"] = "working"
        interactions[str(i)] = {
            "interaction_id": f"I-{i}",
            "type": "phone_call",
            "timestamp": STAMP,
            "contact_id": f"C-{i}",
            "lead_id": f"L-{i}",
            "subject": "First call",
            "body": "Spoke about the job; will send an estimate.",
            "outcome": "spoke",
            "follow_up_date": None,
            "follow_up_status": "none",
            "created_at": STAMP,
            "updated_at": STAMP,
        }
    directory.mkdir(parents=True, exist_ok=True)
    book = {"contacts": contacts, "companies": {}, "leads": leads, "interactions": interactions}
    (directory / "crm.json").write_bytes(orjson.dumps(book))
    (directory / "opportunity.json").write_bytes(orjson.dumps({"opportunities": {}}))


def timed(fn: Callable[[int], object], reps: int) -> tuple[float, float]:
    """Median and worst, in milliseconds."""
    samples = []
    for i in range(reps):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def bench_size(n: int, reps: int, root: Path) -> list[tuple[str, float, float, float, float]]:
    rng = random.Random(n)
    ours_dir, stock_dir = root / f"ours-{n}", root / f"stock-{n}"
    make_book(ours_dir, n, rng)
    shutil.copytree(ours_dir, stock_dir)
    size_mb = (ours_dir / "crm.json").stat().st_size / 1e6

    start = time.perf_counter()
    store = Store(ours_dir)
    store.count("leads")
    load_s = time.perf_counter() - start
    print(f"\n{n:,} leads ({size_mb:.0f} MB crm.json); backoffice first load {load_s:.2f} s", flush=True)

    create_lead, log = get_tool("create_lead"), get_tool("log_interaction")
    ours = {
        "find by email": lambda i: store.contacts_by_email(f"PERSON{rng.randint(1, n)}@example.com"),
        "find by phone": lambda i: store.contacts_by_phone(f"(555) {rng.randint(1, n):07d}"[:5] + "..."),
        "create lead": lambda i: create_lead.func(
            store,
            create_lead.parse(
                {"title": f"Bench lead {i}", "contact_id": f"C-{rng.randint(1, n)}", "source": "phone_call"}
            ),
        ),
        "log interaction": lambda i: log.func(
            store, log.parse({"type": "phone_call", "contact_id": f"C-{rng.randint(1, n)}", "body": f"bench {i}"})
        ),
        "stale-lead scan": lambda i: stale_lead_rows(store),
    }

    def phone_of(k: int) -> str:
        digits = f"{k:07d}"
        return f"(555) {digits[:3]}-{digits[3:]}"

    ours["find by phone"] = lambda i: store.contacts_by_phone(phone_of(rng.randint(1, n)))

    stock_db = TinyDB(stock_dir / "crm.json")
    contacts, leads, inter = stock_db.table("contacts"), stock_db.table("leads"), stock_db.table("interactions")
    q = Query()

    def stock_stale(i: int) -> object:
        last: dict[str, str] = {}
        for item in inter.all():
            if item.get("lead_id") and item["timestamp"] > last.get(item["lead_id"], ""):
                last[item["lead_id"]] = item["timestamp"]
        return [
            lead
            for lead in leads.search(q.status.one_of(["new", "working"]))
            if last.get(lead["lead_id"], "") < "2026-11-17"
        ]

    stock = {
        "find by email": lambda i: contacts.search(q.emails.any([f"person{rng.randint(1, n)}@example.com"])),
        "find by phone": lambda i: contacts.search(q.phones.any([f"+1555{rng.randint(1, n):07d}"])),
        "create lead": lambda i: leads.insert({"lead_id": f"L-x{i}", "title": f"Bench lead {i}", "status": "new"}),
        "log interaction": lambda i: inter.insert({"interaction_id": f"I-x{i}", "type": "phone_call", "body": f"b{i}"}),
        "stale-lead scan": stock_stale,
    }
    rows = []
    stock_reps = max(3, reps // (10 if n >= 100_000 else 2))
    for name in ours:
        o_med, o_max = timed(ours[name], reps)
        s_med, s_max = timed(stock[name], stock_reps)
        rows.append((name, o_med, o_max, s_med, s_max))
        print(
            f"  {name:16} backoffice {o_med:9.2f} ms (worst {o_max:8.2f})   stock TinyDB {s_med:9.1f} ms "
            f"(worst {s_max:8.1f})   {s_med / o_med:8.0f}x faster",
            flush=True,
        )
    start = time.perf_counter()
    store.close()
    print(f"  closing (folds the journal into crm.json): {(time.perf_counter() - start) * 1000:.0f} ms")
    stock_db.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--reps", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("BACKOFFICE_NOW", "2026-11-20T10:00:00")
    with tempfile.TemporaryDirectory(prefix="backoffice-bench-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            bench_size(n, args.reps, Path(tmp))


if __name__ == "__main__":
    main()
