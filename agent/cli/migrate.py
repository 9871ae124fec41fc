"""``backoffice migrate``: move the book to a PostgreSQL server, or back to files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from backoffice.tools.book import moving
from backoffice.tools.book.location import DATABASE_ENV, DATABASE_SETTING
from backoffice.tools.book.store import Store

BIG = 20_000  # records and events: from here on the copy says how far it is


def migrate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--to",
        required=True,
        metavar="postgresql://…|DIR",
        help="an empty PostgreSQL database (postgresql://user@host/dbname), or a new or empty folder",
    )


def migrate(args: argparse.Namespace, store: Store, console: Console) -> int:
    err = Console(file=sys.stderr, highlight=False)
    shown = {"at": 0}

    def progress(what: str, done: int, total: int) -> None:
        if total >= BIG and (done - shown["at"] >= total // 10 or done == total):
            shown["at"] = done
            err.print(f"copied {done:,} of {total:,} {what} and events")

    if moving.is_database(args.to):
        moved = moving.to_database(store, args.to, progress)
        after = (
            f"Every computer of the office now sets {DATABASE_ENV}={moved.target} (or {DATABASE_SETTING} in its "
            "settings.json; a password is best kept in ~/.pgpass). This copy of the book stays as it was: "
            "keep it as a backup, and stop using it."
        )
    else:
        moved = moving.to_folder(store, Path(args.to), progress)
        after = (
            f"Use it with --data-dir {moved.target} (or BACKOFFICE_DATA_DIR), without {DATABASE_ENV}. "
            "The database stays as it was."
        )
    rows = [{"what": name, "count": count, "checksum": digest} for name, count, digest in moving.rows_in(moved)]
    if args.json:
        print(json.dumps({"target": moved.target, "verified": moved.same, "copied": rows}, indent=2))
        return 0
    from rich.table import Table

    table = Table(title=f"Copied into {moved.target}", title_justify="left")
    for column in ("what", "count", "checksum (SHA-256)"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["what"]), f"{row['count']:,}", str(row["checksum"]))
    console.print(table)
    console.print("[green]✓[/green] Counts and checksums match the book.", highlight=False)
    console.print(after, highlight=False)
    return 0
