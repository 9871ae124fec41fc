"""Store benchmark: backoffice's journaled store against stock TinyDB JSONStorage, same files, same run,
and the same book on PostgreSQL.

    python bench/store_bench.py [--sizes 1000,10000,100000] [--reps 20] [--postgresql auto|none|URL]

For each size it writes a realistic book (N leads, N contacts, N interactions) straight to the
TinyDB files, then times find-by-email, find-by-phone, create lead, log interaction and a
stale-lead scan, through backoffice's tools and through stock TinyDB on a copy of the same files.
Stock TinyDB at 100,000 leads takes seconds per operation, so it gets fewer repetitions.

The PostgreSQL column: the same book copied with `backoffice migrate` (timed) into an empty
database, the same operations through the same tools. ``auto`` (the default) starts a throwaway
server the way the tests do (pytest-postgresql, Debian's postgresql) but durable: fsync and
synchronous commits on, as a real server runs. Then two writers: two processes, each with its own
connection (or its own file lock), logging calls on the same book at the same time; it reports
how long each write took and that none was lost.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
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


WRITER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from backoffice.tools.book.store import Store
    from backoffice.tools.catalog import get_tool
    directory, url, count, tag, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    store = Store(directory, database_url=url, actor="owner")
    log = get_tool("log_interaction")
    store.count("contacts")  # connected (or indexed) before the clock starts
    print("ready", flush=True)
    sys.stdin.readline()
    took = []
    for i in range(count):
        start = time.perf_counter()
        log.func(store, log.parse({"type": "note", "contact_id": f"C-{1 + (i * 7919) % n}", "body": f"{tag} {i}"}))
        took.append(time.perf_counter() - start)
    print(json.dumps(took), flush=True)
""")


def two_writers(directory: Path, url: str, n: int, count: int) -> tuple[float, float, float, int]:
    """Two processes logging ``count`` calls each at once: (median ms, worst ms, wall s, bodies found)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(directory), url, str(count), tag, str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for tag in ("desk", "laptop")
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    took = [t for p in procs for t in json.loads(p.communicate()[0].strip().splitlines()[-1])]
    wall = time.perf_counter() - start
    check = Store(directory, database_url=url)
    found = check.count_where("interactions", type="note")
    check.close()
    return statistics.median(took) * 1000, max(took) * 1000, wall, found


@contextlib.contextmanager
def postgresql(choice: str) -> Iterator[Callable[[], str] | None]:
    """New empty databases on the server chosen: addresses handed out one by one (None: no column)."""
    if choice == "none":
        yield None
        return
    if choice != "auto":
        counter = itertools.count(1)
        yield lambda: f"{choice}{'&' if '?' in choice else '?'}options=-csearch_path%3Dbench_{next(counter)}"
        return
    import glob

    if not (shutil.which("pg_ctl") or glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")):
        print("no PostgreSQL server programs here (apt-get install postgresql): the files only", flush=True)
        yield None
        return
    from tests.pg.server import PostgresServer

    with PostgresServer(durable=True) as server:
        yield server.new_url


def bench_size(
    n: int, reps: int, root: Path, new_database: Callable[[], str] | None = None
) -> list[tuple[str, float, float, float, float]]:
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

    pg_store: Store | None = None
    pg: dict[str, Callable[[int], object]] = {}
    if new_database is not None:
        url = new_database()
        start = time.perf_counter()
        migrated = subprocess.run(
            [sys.executable, "-m", "backoffice", "--data-dir", str(ours_dir), "migrate", "--to", url],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )
        if migrated.returncode:
            raise SystemExit(f"migrate failed: {migrated.stderr}")
        print(f"  backoffice migrate into PostgreSQL (verified): {time.perf_counter() - start:.1f} s", flush=True)
        pg_store = Store(root / f"pg-{n}", database_url=url)
        pg = {
            "find by email": lambda i: pg_store.contacts_by_email(f"PERSON{rng.randint(1, n)}@example.com"),
            "find by phone": lambda i: pg_store.contacts_by_phone(phone_of(rng.randint(1, n))),
            "create lead": lambda i: create_lead.func(
                pg_store,
                create_lead.parse(
                    {"title": f"Bench lead {i}", "contact_id": f"C-{rng.randint(1, n)}", "source": "phone_call"}
                ),
            ),
            "log interaction": lambda i: log.func(
                pg_store,
                log.parse({"type": "phone_call", "contact_id": f"C-{rng.randint(1, n)}", "body": f"bench {i}"}),
            ),
            "stale-lead scan": lambda i: stale_lead_rows(pg_store),
        }

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
        line = f"  {name:16} backoffice {o_med:9.2f} ms (worst {o_max:8.2f})"
        if pg:
            p_med, p_max = timed(pg[name], reps)
            line += f"   postgresql {p_med:8.2f} ms (worst {p_max:8.2f})"
        line += f"   stock TinyDB {s_med:9.1f} ms (worst {s_max:8.1f})   {s_med / o_med:8.0f}x faster than stock"
        print(line, flush=True)
    start = time.perf_counter()
    store.close()
    print(f"  closing (folds the journal into crm.json): {(time.perf_counter() - start) * 1000:.0f} ms")
    stock_db.close()
    count = max(20, reps * 2)
    engines = [("files", ours_dir, "")]
    if pg_store is not None:
        assert pg_store.database_url
        engines.append(("postgresql", root / f"pg-{n}", pg_store.database_url))
        pg_store.close()
    for engine, directory, url in engines:
        med, worst, wall, found = two_writers(directory, url, n, count)
        print(
            f"  two writers, {count} calls each at once ({engine}): {med:.2f} ms a call (worst {worst:.1f}), "
            f"{2 * count / wall:.0f} calls/s together; {found} of {2 * count} calls in the book",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--postgresql", default="auto", help="auto (a throwaway server), none, or a server's URL")
    args = parser.parse_args()
    os.environ.setdefault("BACKOFFICE_NOW", "2026-11-20T10:00:00")
    os.environ.pop("BACKOFFICE_DATABASE_URL", None)
    with tempfile.TemporaryDirectory(prefix="backoffice-bench-") as tmp, postgresql(args.postgresql) as databases:
        for n in (int(s) for s in args.sizes.split(",")):
            bench_size(n, args.reps, Path(tmp), databases)


if __name__ == "__main__":
    main()
