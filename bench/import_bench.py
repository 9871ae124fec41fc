"""Import and duplicate-scan benchmark.

    python bench/import_bench.py [--rows 10000] [--book 10000] [--scan 100000]

1. A CSV of ROWS people imported (``backoffice import --yes``, a real process, end to end) into a
   book of BOOK contacts. A tenth of the rows are people already in the book written differently
   (phone "(555) 123-4567" for "+15551234567", the email in capitals), a twentieth repeat an earlier
   row of the file, so duplicate detection has real work. Target: under 10 s.
2. The duplicate scan (``backoffice duplicates``'s work, in-process) of a book of SCAN contacts with
   a few hundred planted duplicates. Target: under 10 s.

Each is reported next to a baseline measured in the same run: for the import, reading the CSV with
the csv module and touching every cell; for the scan, one bare pass over the contacts.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backoffice.tools.book.store import Store  # noqa: E402
from backoffice.tools.crm.duplicates import duplicate_clusters  # noqa: E402

STAMP = "2026-10-01T14:00:00+00:00"
FIRST = "James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph "
FIRST += "Jessica Thomas Sarah Charles Karen Dana Sam Lee Ana Luis Maria Chen Wei Priya Raj Omar Fatima Olga Ivan"
LAST = "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson "
LAST += "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Reyes"
FIRSTS, LASTS = FIRST.split(), LAST.split()


def person(i: int) -> tuple[str, str, str, str]:
    """A deterministic person: first, last, phone (E.164), email. Names repeat, as real ones do."""
    return FIRSTS[i % len(FIRSTS)], LASTS[(i // len(FIRSTS)) % len(LASTS)], f"+1555{i:07d}", f"person{i}@example.com"


def make_book(directory: Path, n: int, planted: int = 0) -> None:
    contacts = {}
    for i in range(1, n + 1):
        first, last, phone, email = person(i)
        contacts[str(i)] = {
            "contact_id": f"C-{i}",
            "first_name": first,
            "last_name": f"{last}{i // 7}",  # a realistic spread of surnames: few namesakes per block
            "phones": [phone],
            "emails": [email],
            "lifecycle_stage": "prospect",
            "tags": [],
            "notes": "",
            "archived": False,
            "created_at": STAMP,
            "updated_at": STAMP,
        }
    for k in range(planted):  # the same person entered twice, a different way
        i, j = n + k + 1, 1 + (k * 97) % n
        twin = dict(contacts[str(j)], contact_id=f"C-{i}")
        twin["phones"] = [] if k % 2 else twin["phones"]
        twin["emails"] = [twin["emails"][0].upper()] if k % 2 else []
        contacts[str(i)] = twin
    directory.mkdir(parents=True, exist_ok=True)
    book = {"contacts": contacts, "companies": {}, "leads": {}, "interactions": {}}
    (directory / "crm.json").write_bytes(orjson.dumps(book))
    (directory / "opportunity.json").write_bytes(orjson.dumps({"opportunities": {}}))


def make_csv(path: Path, rows: int, book: int, rng: random.Random) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        w.writerow(["First Name", "Last Name", "Company", "Phone", "Email", "Street", "City", "State", "Zip", "Notes"])
        for r in range(rows):
            if r % 10 == 0:  # someone already in the book, written differently
                i = rng.randint(1, book)
                first, last, phone, email = person(i)
                last = f"{last}{i // 7}"
                phone = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
                email = email.upper()
            elif r % 20 == 7:  # repeats the row two above it in this file
                i = book + r - 2
                first, last, phone, email = person(i)
                last = f"{last}{i // 7}"
            else:
                i = book + r
                first, last, phone, email = person(i)
                last = f"{last}{i // 7}"
            w.writerow(
                [
                    first,
                    last,
                    f"Company {i % 500}",
                    phone,
                    email,
                    f"{i} Oak St",
                    "Springfield",
                    "IL",
                    "62701",
                    "Imported",
                ]
            )


def bench_import(rows: int, book: int, root: Path) -> None:
    rng = random.Random(rows)
    data = root / "import-book"
    make_book(data, book)
    path = root / "people.csv"
    make_csv(path, rows, book, rng)

    start = time.perf_counter()
    with open(path, newline="", encoding="utf-8") as handle:
        cells = sum(len(row) for row in csv.reader(handle))
    baseline = time.perf_counter() - start

    env = {**os.environ, "BACKOFFICE_DATA_DIR": str(data), "BACKOFFICE_NOW": "2026-11-20T10:00:00"}
    cmd = [sys.executable, "-m", "backoffice", "--json", "import", "--yes", str(path)]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"import failed ({done.returncode}): {done.stderr[-2000:]}")
    report = orjson.loads(done.stdout)
    result = {"rows": report["counts"], "written": report["imported"]}
    print(f"\nImport of {rows:,} rows into a {book:,}-contact book ({cells:,} cells)")
    print(f"  baseline: csv module reads the file      {baseline * 1000:8.0f} ms")
    print(f"  backoffice import --yes, end to end      {elapsed * 1000:8.0f} ms   {elapsed / baseline:6.0f}x baseline")
    print(f"  result: {result}")
    print(f"  target under 10 s: {'met' if elapsed < 10 else 'MISSED'}")

    start = time.perf_counter()
    again = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    second = orjson.loads(again.stdout)
    print(f"  the same file again                      {elapsed * 1000:8.0f} ms   rows: {second['counts']}")


def bench_scan(n: int, root: Path) -> None:
    data = root / "scan-book"
    planted = n // 500
    make_book(data, n - planted, planted)
    store = Store(data)
    start = time.perf_counter()
    store.count("contacts")
    load = time.perf_counter() - start

    start = time.perf_counter()
    with store.reading():
        touched = sum(1 for d in store.scan("contacts") if d.get("last_name"))
    baseline = time.perf_counter() - start

    start = time.perf_counter()
    clusters = duplicate_clusters(store)
    elapsed = time.perf_counter() - start
    print(f"\nDuplicate scan of {n:,} contacts ({planted} planted duplicates; first load {load:.2f} s)")
    print(f"  baseline: one pass over the contacts     {baseline * 1000:8.0f} ms   ({touched:,} read)")
    print(f"  duplicate_clusters                       {elapsed * 1000:8.0f} ms   {elapsed / baseline:6.0f}x baseline")
    print(f"  found {len(clusters)} groups; target under 10 s: {'met' if elapsed < 10 else 'MISSED'}")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--book", type=int, default=10_000)
    parser.add_argument("--scan", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="backoffice-bench-") as tmp:
        bench_import(args.rows, args.book, Path(tmp))
        bench_scan(args.scan, Path(tmp))


if __name__ == "__main__":
    main()
