"""Commands for the whole book at once: demo, check, import, export, duplicates, merge."""

from __future__ import annotations

import argparse
import codecs
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from backoffice.tools.book.datafiles import shown
from backoffice.tools.book.location import safe_url
from backoffice.tools.book.store import Store
from backoffice.tools.bulk.mapping import FIELDS, POLICIES, Policy
from backoffice.tools.errors import BadInput

if TYPE_CHECKING:  # every command loads this module: the importer itself is loaded only by `import`
    from backoffice.tools.bulk import importer

ROWS_SHOWN = 200  # a longer plan shows every row that is not a plain create (--json has them all)


@contextlib.contextmanager
def progress_bar(what: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on the terminal (stderr) for long files; silent when not a terminal."""
    err = Console(stderr=True)
    if total < 500 or not err.is_terminal:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda n: bar.update(task, completed=n) if n % 200 == 0 or n == total else None


def counted(counts: dict[str, int]) -> str:
    """{"contacts created": 1, "companies created": 2} -> "1 contact created, 2 companies created"."""
    out = []
    for what, n in counts.items():
        if not n:
            continue
        noun, _, verb = what.partition(" ")
        if n == 1:
            noun = noun[:-3] + "y" if noun.endswith("ies") else noun.removesuffix("s")
        out.append(f"{n} {noun} {verb}".strip())
    return ", ".join(out)


# ---------------------------------------------------------------------------- demo and check
def demo(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.demo import load_demo

    counts = load_demo(store)
    if args.json:
        print(json.dumps(counts))
    else:
        console.print(
            f"Loaded the sample business into {store.directory}: "
            + ", ".join(f"{n} {t}" for t, n in counts.items())
            + "."
        )
        console.print('Try: [bold]backoffice chat[/bold] and ask "what\'s our pipeline?"')
    return 0


def check(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.agent.briefings.notifications import check_folder
    from backoffice.agent.gate.pending import validate_file
    from backoffice.tools.book.check import check_data_dir

    database = None
    if store.database_url:  # the records are rows: read them as stored, unchecked, as the files would be
        import orjson

        from backoffice.tools.book.moving import read_book

        raw = read_book(store).records
        records = {table: {str(key): orjson.loads(doc) for key, doc in rows} for table, rows in raw.items()}
        database = (safe_url(store.database_url), records)
    # the files as they are: the store would stop at the first problem
    problems = check_data_dir(store.directory, more=(validate_file, check_folder), database=database)
    if args.json:
        print(json.dumps({"ok": not problems, "problems": problems}, indent=2))
    elif problems:
        for problem in problems:
            console.print("[red]✗[/red] " + escape(problem), highlight=False)
        console.print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {store.directory}.")
    else:
        held = f" and the book in {safe_url(store.database_url)}" if store.database_url else ""
        console.print(f"[green]✓[/green] Every record and file in {store.directory}{held} is valid.")
    return 1 if problems else 0


# ---------------------------------------------------------------------------- import
def _line_choice(text: str) -> tuple[int, Policy]:
    line, sep, choice = text.partition("=")
    if not sep or not line.strip().isdigit() or choice.strip() not in POLICIES:
        raise argparse.ArgumentTypeError(f"{text!r} should look like LINE=skip, LINE=update or LINE=create")
    return int(line), choice.strip()  # type: ignore[return-value]


def import_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = "fields for --map:\n" + "\n".join(f"  {name:<24}{what}" for name, what in FIELDS.items())
    p.add_argument("file", type=Path, help="a CSV file: contacts, customers or leads exported from another system")
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="COLUMN=FIELD",
        help="map a column yourself (repeatable), e.g. --map 'Cell=mobile'; FIELD 'ignore' drops a column",
    )
    p.add_argument(
        "--as",
        dest="kind",
        choices=("contacts", "leads"),
        help="what each row is (default: worked out from the columns)",
    )
    p.add_argument(
        "--duplicates",
        choices=POLICIES,
        default="skip",
        help="a row matching someone already in the book (or an earlier row): skip it (default), update the "
        "existing contact (fills empty fields, adds phones/emails, never overwrites), or create a new one anyway",
    )
    p.add_argument(
        "--line",
        action="append",
        default=[],
        type=_line_choice,
        metavar="N=CHOICE",
        help="the choice for one row, by its line number, e.g. --line 12=create (repeatable)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="only show what would happen (the default the first time for a file)"
    )
    p.add_argument("--yes", action="store_true", help="import without asking, even the first time (for scripts)")


def import_file(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.agent.chat.prompts import LineReader
    from backoffice.agent.planners.offline.understand import yes_no
    from backoffice.tools.bulk import importer

    path: Path = args.file
    source = importer.read_source(path, importer.parse_maps(args.map), args.kind)
    with progress_bar("Checking rows", len(source.table.rows)) as tick:
        plan = importer.plan_import(store, source, args.duplicates, dict(args.line), tick)
    digest = importer.file_digest(path)
    first_time = not importer.previewed(store, digest)
    report = _plan_json(plan) if args.json else {}
    if not args.json:
        _show_mapping(source, console)
        _show_plan(plan, console)
    totals = plan.totals()
    if not any(totals.values()):
        importer.remember(store, digest, path, "previewed", plan.counts())
        rejected_path = importer.write_rejected(store, plan)
        if args.json:
            # nothing left to write is a finished import of nothing, not a preview: zero counts
            nothing = {**report, "imported": dict(totals), "rejected_file": str(rejected_path or "") or None}
            print(json.dumps(nothing, indent=2))
        elif plan.rejected:
            console.print(
                f"Nothing to import: {len(plan.rejected)} rejected row(s), the rest already in the book. "
                f"The rejected rows are in {rejected_path}, with the reason for each."
            )
        else:
            console.print("Nothing to import: the book already has everything in this file.")
        return 1 if plan.rejected and not any(s.action == "skip" for s in plan.steps) else 0
    if args.dry_run or (first_time and not args.yes):
        importer.remember(store, digest, path, "previewed", plan.counts())
        if args.json:
            print(json.dumps({**report, "imported": None}, indent=2))
        else:
            why = "--dry-run" if args.dry_run else "the first time for a file"
            console.print(
                f"[bold]This was a preview ({why}): nothing was written.[/bold] Check the mapping and the rows above; "
                "change them with --map, --duplicates or --line, then run the same command again to import."
            )
        return 0
    if not args.yes:
        summary = counted(totals)
        rejected = len(plan.rejected)
        note = f" ({rejected} rejected row{'s' if rejected != 1 else ''} stay out)" if rejected else ""
        answer = LineReader(sys.stdin, console).read(f"Import now: {summary}{note}? [yes/no] ")
        if not yes_no(answer or ""):
            console.print("Nothing was imported.")
            return 1
    with progress_bar("Importing", len(plan.steps)) as tick:
        result = importer.apply_plan(store, plan, tick)
    rejected_path = importer.write_rejected(store, plan)
    importer.remember(store, digest, path, "imported", result.summary())
    if args.json:
        rejected_file = str(rejected_path) if rejected_path else None
        print(
            json.dumps(
                {
                    **report,
                    "imported": result.summary(),
                    "rejected_file": rejected_file,
                    "done_meanwhile": result.done_meanwhile,
                },
                indent=2,
            )
        )
        return 0
    done = counted(result.summary()) or "nothing new"
    console.print(f"[green]✓[/green] Imported {shown(path.name)}: {done}.")
    if result.done_meanwhile:
        lines = ", ".join(map(str, result.done_meanwhile[:10])) + ("…" if len(result.done_meanwhile) > 10 else "")
        console.print(
            f"{len(result.done_meanwhile)} row(s) were already in the book by the time of the import (another "
            f"import or a change made meanwhile), so they were skipped: line {lines}."
        )
    if rejected_path:
        console.print(
            f"{len(plan.rejected)} rejected row{'s' if len(plan.rejected) != 1 else ''} written to {rejected_path} "
            "with the reason for each: fix them there and import that file."
        )
    return 0


def _show_mapping(source: importer.Source, console: Console) -> None:
    t = source.table
    console.print(f"Read {t.path.name}: {t.describe()}.")
    console.print(f"Looks like: {source.profile.label}; each row is one of your {source.kind} (change with --as).")
    table = Table(title="Column mapping (change with --map COLUMN=FIELD)", show_lines=False)
    for name in ("column", "field", "first value"):
        table.add_column(name)
    sample = t.rows[0].values if t.rows else []
    ignored = []
    for c in source.columns:
        if c.field is None:
            ignored.append(c.header + (f" ({c.how})" if c.how not in ("not recognised", "ignored") else ""))
            continue
        value = sample[c.index] if c.index < len(sample) else ""
        table.add_row(c.header, c.field + (" (--map)" if c.how == "--map" else ""), value[:40])
    console.print(table)
    if ignored:
        console.print(f"[dim]Not imported: {', '.join(ignored)}[/dim]")


STYLE = {"create": "green", "update": "cyan", "skip": "yellow", "reject": "red"}


def _show_plan(plan: importer.Plan, console: Console) -> None:
    steps = plan.steps
    hidden = 0
    if len(steps) > ROWS_SHOWN:
        shown = [s for s in steps if s.action != "create" or s.detail]
        hidden = len(steps) - len(shown)
        steps = shown
    table = Table(title="What the import does, row by row")
    for name in ("line", "action", "who", "why"):
        table.add_column(name)
    for s in steps:
        table.add_row(str(s.line), f"[{STYLE[s.action]}]{s.action}[/]", s.label, s.detail)
    console.print(table)
    if hidden:
        console.print(f"[dim]… and {hidden} plain creates not listed (--json lists every row).[/dim]")
    counts = plan.counts()
    console.print(
        f"{len(plan.steps)} rows: {counts['create']} create, {counts['update']} update, "
        f"{counts['skip']} skip, {counts['reject']} reject."
    )


def _plan_json(plan: importer.Plan) -> dict[str, Any]:
    rows = [{"line": s.line, "action": s.action, "who": s.label, "why": s.detail} for s in plan.steps]
    return {"counts": plan.counts(), "writes": plan.totals(), "rows": rows}


# ---------------------------------------------------------------------------- export
def export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "what",
        nargs="+",
        metavar="[KIND] FILE",
        help="contacts (default), leads, opportunities or interactions; then the file ('-' for the screen)",
    )


def export(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.bulk import exporter

    if len(args.what) == 1 and args.what[0] in exporter.KINDS:  # "export leads": a kind, and nowhere to write it
        what = args.what[0]
        raise BadInput("Cannot export", [f"say where to write the {what}: backoffice export {what} {what}.csv "
                                         "(or - for the screen)"])  # fmt: skip
    if len(args.what) == 1:
        kind, target = "contacts", args.what[0]
    elif len(args.what) == 2:
        kind, target = args.what
    else:
        raise BadInput("Cannot export", ["give a kind and a file, e.g. backoffice export leads leads.csv"])
    if kind not in exporter.KINDS:
        choices = "contacts, leads, opportunities, interactions"
        raise BadInput("Cannot export", [f"{kind!r} is not something to export; choose from {choices}"])
    as_json = args.json or target.lower().endswith(".json")
    count, payload = exporter.export(store, kind, None, as_json=as_json)
    if target == "-":
        exporter.write_all(sys.stdout.buffer, payload.removeprefix(codecs.BOM_UTF8))
        return 0
    path = Path(target)
    if not exporter.write_to(path, payload):  # into a stream (/dev/stdout, a FIFO) the data says it all
        console.print(f"Wrote {count} {exporter.KINDS[kind]} to {path} ({'JSON' if as_json else 'CSV, UTF-8'}).")
    return 0


# ---------------------------------------------------------------------------- duplicates and merge
def duplicates_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit", type=int, default=50, help="show at most this many groups (default 50)")


def duplicates(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.crm.duplicates import FindDuplicatesInput, find_duplicates

    found = find_duplicates(store, FindDuplicatesInput(limit=max(1, min(args.limit, 200))))
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    if not found["clusters"]:
        console.print("No likely duplicates in the book.")
        return 0
    for n, cluster in enumerate(found["clusters"], start=1):
        table = Table(title=f"Group {n}", title_justify="left")
        for name in ("", "id", "name", "phone", "email", "history"):
            table.add_column(name)
        for c in cluster["contacts"]:
            mark = "keep?" if c["contact_id"] == cluster["suggested_keep"] else ""
            table.add_row(mark, c["contact_id"], c["name"], c["phone"] or "", c["email"] or "", str(c["history"]))
        console.print(table)
        console.print("  " + "\n  ".join(cluster["why"]))
        others = " ".join(c["contact_id"] for c in cluster["contacts"] if c["contact_id"] != cluster["suggested_keep"])
        console.print(f"  [dim]merge: backoffice merge {cluster['suggested_keep']} {others}[/dim]")
    more = found["total"] - len(found["clusters"])
    console.print(
        f"{found['total']} group{'s' if found['total'] != 1 else ''} of likely duplicates"
        + (f" ({more} more not shown)." if more else ".")
    )
    return 0


def merge_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("keep", help="the contact to keep, e.g. C-1")
    p.add_argument("others", nargs="+", help="the contacts to merge into it (archived afterwards, never deleted)")
    p.add_argument(
        "--take",
        action="append",
        default=[],
        metavar="FIELD=ID",
        help="keep this field's value from another contact, e.g. --take address=C-7 (repeatable)",
    )


def merge(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.agent.chat.prompts import ChatApprover, LineReader
    from backoffice.agent.chat.screen import show_outcome
    from backoffice.agent.orchestrator import build

    take: dict[str, Any] = {}
    for pair in args.take:
        f, sep, who = pair.partition("=")
        if not sep:
            raise BadInput("Cannot merge", [f"--take {pair!r} should look like FIELD=ID"])
        take[f.strip()] = who.strip()
    approver = ChatApprover(console, LineReader(sys.stdin, console))
    orch = build(store, approver, origin="merge", offline=True)
    outcome = orch.gate.call("merge_contacts", {"keep": args.keep, "merge": args.others, "take": take})
    if args.json:
        print(json.dumps({"status": outcome.status, "message": outcome.message}))
    else:
        show_outcome(outcome, console)
    return 0 if outcome.status in ("ok", "already", "pending") else 1
