"""Commands for the outside world: inbound email, Gmail, QuickBooks, and ``doctor``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from backoffice.agent.untrusted import safe_line, safe_text
from backoffice.tools.book.store import Store
from backoffice.tools.errors import ConfigError
from backoffice.tools.mail import gmail_account

MARK = {
    "lead": "[green]＋[/green]",
    "logged": "[green]✓[/green]",
    "duplicate": "[dim]=[/dim]",
    "skipped": "[dim]–[/dim]",
}


def inbound_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "files", nargs="+", metavar="FILE.eml", help="saved emails (.eml), e.g. exported from your mail program"
    )


def inbound(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.agent.inbound import handle_inbound

    paths = [Path(f) for f in args.files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ConfigError(f"No such file: {', '.join(missing)}. Nothing was read.")
    results = [handle_inbound(store, p.read_bytes()) for p in paths]
    if args.json:
        print(json.dumps([{"file": str(p), **asdict(r)} for p, r in zip(paths, results, strict=True)], indent=2))
    else:
        for path, result in zip(paths, results, strict=True):
            mark = MARK.get(result.status, "[red]✗[/red]")
            console.print(
                f"{mark} {escape(safe_line(path.name))}: {escape(safe_text(result.message))}", highlight=False
            )
    return 1 if any(r.status in ("error", "failed") for r in results) else 0


# ---------------------------------------------------------------------------- Gmail
def gmail_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="auth|status|poll", required=True)
    auth = sub.add_parser("auth", help="connect your Gmail (opens a browser to sign in)")
    auth.add_argument("--client-secrets", required=True, type=Path, help="the OAuth client file (Desktop app)")
    auth.add_argument("--no-browser", action="store_true", help="print the sign-in address instead of opening it")
    auth.add_argument(
        "--port",
        type=int,
        default=0,
        help="the local port Google sends you back to (fixed, for a server: forward it: ssh -L PORT:localhost:PORT)",
    )
    auth.add_argument(
        "--published",
        action="store_true",
        help="your OAuth consent screen is published (In production), so the sign-in does not end after 7 days",
    )
    sub.add_parser("status", help="who is connected and when mail was last checked")
    sub.add_parser("poll", help="read new mail now (the daemon does this every few minutes)")


def gmail(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.mail import gmail as gmail_api

    if args.action == "auth":
        if not 0 <= args.port <= 65535:
            raise ConfigError(f"--port {args.port} is not a port number (1-65535). Nothing was changed.")
        if args.port:
            console.print(
                f"Google will send your browser back to http://localhost:{args.port}/. On a server without a "
                f"browser, run `ssh -L {args.port}:localhost:{args.port} THIS-SERVER` on your own computer first, "
                "then open the address below there.",
                highlight=False,
            )
        address = gmail_api.connect(
            store.directory,
            args.client_secrets,
            open_browser=not args.no_browser,
            port=args.port,
            http=store.services.gmail_http,
        )
        state = gmail_account.load_state(store.directory)
        state["published"] = bool(args.published)
        gmail_account.save_state(store.directory, state)
        console.print(
            f"[green]✓[/green] Gmail connected: {address} (token in {gmail_account.token_path(store.directory)})"
        )
        if not args.published:
            console.print(
                "[yellow]If your OAuth consent screen is still in Testing, Google ends this sign-in after 7 days "
                "and mail stops being read.[/yellow] Publish it (see the README), then run this again with "
                "--published; `backoffice doctor` warns before the 7 days are up.",
                highlight=False,
            )
        return 0
    if args.action == "poll":
        from backoffice.agent.inbound import counts_line, poll_gmail

        console.print(counts_line(poll_gmail(store)), highlight=False)
        return 0
    state = gmail_account.load_state(store.directory)
    from backoffice.agent.inbound import failed_count

    set_aside = failed_count(store.directory)
    info = {
        "connected": gmail_account.connected(store.directory),
        "email": state.get("email"),
        "last_check": state.get("last_check"),
        "last_error": state.get("last_error"),
        "sync": state.get("sync"),
        "failed_total": int(state.get("failed_total") or 0),
        "set_aside": set_aside,
    }
    if args.json:
        print(json.dumps(info, indent=2))
    elif not info["connected"]:
        console.print("Gmail is not connected. `backoffice gmail auth --client-secrets FILE` connects it.")
    else:
        console.print(f"Gmail: {info['email'] or 'connected'}; mail last checked {info['last_check'] or 'never'}.")
        if info["last_error"]:
            console.print(f"[red]Last problem:[/red] {escape(safe_text(info['last_error']))}", highlight=False)
    if set_aside:
        console.print(
            f"[red]{set_aside} message(s) could not be read[/red] and are set aside in "
            f"{store.directory / 'inbox' / 'failed'} (each with a .reason file).",
            highlight=False,
        )
    return 1 if info["connected"] and (info["last_error"] or set_aside) else 0


# ---------------------------------------------------------------------------- QuickBooks
def quickbooks_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="auth|status", required=True)
    auth = sub.add_parser(
        "auth", help="connect QuickBooks Online: open the address shown, then paste back where it ends"
    )
    auth.add_argument("--client-id", default=os.environ.get("QUICKBOOKS_CLIENT_ID"), help="env QUICKBOOKS_CLIENT_ID")
    auth.add_argument(
        "--client-secret", default=os.environ.get("QUICKBOOKS_CLIENT_SECRET"), help="env QUICKBOOKS_CLIENT_SECRET"
    )
    auth.add_argument("--sandbox", action="store_true", help="connect a sandbox company (for trying it out)")
    auth.add_argument("--redirect-uri", default=None, help="the redirect URI registered for your Intuit app")
    sub.add_parser("status", help="which company is connected and when it last worked")


def quickbooks(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.accounting import quickbooks as qbo

    if args.action == "status":
        tokens = qbo.load_tokens(store.directory)
        info = {k: (tokens or {}).get(k) for k in ("realm_id", "environment", "connected_at", "last_success")}
        info["connected"] = tokens is not None
        if args.json:
            print(json.dumps(info, indent=2))
        elif tokens is None:
            console.print("QuickBooks is not connected. `backoffice quickbooks auth` connects it.")
        else:
            console.print(
                f"QuickBooks company {info['realm_id']} ({info['environment']}), connected {info['connected_at']}; "
                f"last worked {info['last_success'] or 'never'}.",
                highlight=False,
            )
        return 0
    if not args.client_id or not args.client_secret:
        raise ConfigError(
            "QuickBooks needs your Intuit app's keys: --client-id and --client-secret "
            "(or QUICKBOOKS_CLIENT_ID / QUICKBOOKS_CLIENT_SECRET). Nothing was changed."
        )
    app = {
        "client_id": args.client_id,
        "client_secret": args.client_secret,
        "redirect_uri": args.redirect_uri or qbo.DEFAULT_REDIRECT,
        "environment": "sandbox" if args.sandbox else "production",
    }
    url, state = qbo.authorization_url(app, store.services)
    console.print(
        "Your Intuit app must list this exact redirect URI (developer.intuit.com → your app → Keys & credentials "
        f"→ Redirect URIs), or Intuit refuses the sign-in:\n\n    {app['redirect_uri']}\n",
        highlight=False,
        markup=False,
    )
    console.print("1. Open this address, sign in to QuickBooks and pick your company:\n")
    console.print(url, markup=False, highlight=False, soft_wrap=True)
    console.print("\n2. Paste here the whole address your browser ends on (it holds code= and realmId=):")
    pasted = sys.stdin.readline().strip()
    if not pasted:
        raise ConfigError("Nothing was pasted; QuickBooks is not connected. Nothing was changed.")
    tokens = qbo.finish_connect(store.directory, pasted, state, app, store.services)
    console.print(f"[green]✓[/green] QuickBooks company {tokens['realm_id']} connected.")
    return 0


# ---------------------------------------------------------------------------- doctor
def doctor(args: argparse.Namespace, store: Store, console: Console) -> int:
    rows = [
        _checked("Book", lambda: _check_book(args, store)),
        _checked("Storage", lambda: _check_storage(store)),
        _checked("Data files", lambda: _check_files(store)),
        _checked("Gmail", lambda: _check_gmail(store)),
        _checked("Mail intake", lambda: _check_intake(store)),
        _checked("QuickBooks", lambda: _check_quickbooks(store)),
        _check_claude(),
        _checked("Daemon", lambda: _check_daemon(store)),
        _check_server(store),
        *_procedures(store),
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        from rich.table import Table

        table = Table(title=f"backoffice doctor — {store.directory}", title_justify="left")
        for column in ("what", "set up", "working", "last success", "note"):
            table.add_column(column)
        for r in rows:
            working = "-" if r["ok"] is None else "[green]yes[/green]" if r["ok"] else "[red]no[/red]"
            table.add_row(
                str(r["name"]),
                "yes" if r["configured"] else "no",
                working,
                str(r["last_success"] or "-"),
                str(r["note"]),
            )
        console.print(table)
    return 1 if any(r["ok"] is False for r in rows) else 0


def _checked(name: str, check: Callable[[], dict[str, object]]) -> dict[str, object]:
    """One line of the doctor's table; a damaged file it reads is that line's finding, not the end of the run."""
    from backoffice.tools.errors import BackofficeError

    try:
        return check()
    except BackofficeError as exc:
        return _row(name, True, False, None, str(exc))


def _check_files(store: Store) -> dict[str, object]:
    from backoffice.agent.briefings.notifications import check_folder
    from backoffice.agent.gate.pending import validate_file
    from backoffice.tools.book.check import check_files

    problems = check_files(store.directory, more=(validate_file, check_folder))
    note = "\n".join(problems[:5]) + (f"\n… {len(problems) - 5} more: `backoffice check`" if len(problems) > 5 else "")
    return _row("Data files", True, not problems, None, note or "every file in the data dir reads cleanly")


def _row(name: str, configured: bool, ok: bool | None, last: str | None, note: str) -> dict[str, object]:
    return {"name": name, "configured": configured, "ok": ok, "last_success": last, "note": note}


def _check_book(args: argparse.Namespace, store: Store) -> dict[str, object]:
    counts = store.counts()
    held = f"{counts['contacts']} contacts, {counts['leads']} leads, {counts['opportunities']} jobs"
    return _row("Book", True, True, None, f"{store.directory} ({args.book.source}): {held}")


def _check_storage(store: Store) -> dict[str, object]:
    """Where the records are kept: the files, or which PostgreSQL server at which migration level."""
    if not store.database_url:
        return _row("Storage", True, True, None, f"files (TinyDB, journal, SQLite index) in {store.directory}")
    from backoffice.tools.book import pgschema
    from backoffice.tools.book.pgbook import PgBook
    from backoffice.tools.errors import BackofficeError

    assert isinstance(store.db, PgBook)
    where = store.db.where
    try:
        version, level = store.db.server_version(), store.db.level()
    except BackofficeError as exc:
        return _row("Storage", True, False, None, str(exc))
    note = f"PostgreSQL {version} at {where}; migration level {level} of {pgschema.latest()}"
    return _row("Storage", True, level == pgschema.latest(), None, note)


CONSENT_DAYS = 7  # a Testing-mode OAuth client's refresh token ends this long after consent


def _check_gmail(store: Store) -> dict[str, object]:
    from backoffice.tools.errors import BackofficeError
    from backoffice.tools.mail import gmail as gmail_api

    state = gmail_account.load_state(store.directory)
    if not gmail_account.connected(store.directory):
        outbox = store.directory / "outbox"
        return _row("Gmail", False, None, None, f"not connected: approved messages wait in {outbox}")
    try:
        address = gmail_api.Gmail(store.directory, store.services.gmail_http).profile().get("emailAddress")
    except BackofficeError as exc:
        return _row("Gmail", True, False, state.get("last_success"), str(exc))
    warnings = gmail_warnings(store, state)
    note = f"signed in as {address}" + "".join(f"\n{w}" for w in warnings)
    return _row("Gmail", True, not warnings, state.get("last_success"), note)


def gmail_warnings(store: Store, state: dict[str, Any]) -> list[str]:
    """What will stop mail being read, before it silently does."""
    from backoffice.agent.daemon import read_state
    from backoffice.tools.book import clock

    now = store.now()
    found = []
    if state.get("last_error"):
        found.append(f"the last poll failed: {state['last_error']}")
    connected = state.get("connected_at")
    try:
        clock.parse_stamp(connected or "2000-01-01")
    except (TypeError, ValueError):
        connected = None
    if connected and not state.get("published"):
        age = now - clock.parse_stamp(connected).astimezone(now.tzinfo)
        ends = (clock.parse_stamp(connected) + dt.timedelta(days=CONSENT_DAYS)).date()
        if age >= dt.timedelta(days=CONSENT_DAYS - 2):
            found.append(
                f"signed in {age.days} day(s) ago: if the OAuth consent screen is in Testing, Google ends the "
                f"sign-in on {ends} and mail stops being read. Publish it (README), then "
                "`backoffice gmail auth --client-secrets FILE --published`."
            )
    polled = (read_state(store.directory).get("last_poll") or {}).get("gmail")
    last = state.get("last_success")
    limit = dt.timedelta(minutes=max(30, 6 * store.settings.gmail_poll_minutes))
    if polled and last and now - clock.parse_stamp(last).astimezone(now.tzinfo) > limit:
        found.append(f"the daemon polls, but mail was last read successfully {last}")
    return found


def _check_intake(store: Store) -> dict[str, object]:
    """Mail set aside because it could not be read: the owner must look, or it is lost to them."""
    from backoffice.agent.inbound import failed_count

    count = failed_count(store.directory)
    folder = store.directory / "inbox" / "failed"
    if not count:
        return _row("Mail intake", True, True, None, "no message set aside")
    return _row(
        "Mail intake",
        True,
        False,
        None,
        f"{count} message(s) set aside (could not be read) in {folder}: read them there, each has a .reason "
        "file; delete the .reason file once dealt with.",
    )


def _check_quickbooks(store: Store) -> dict[str, object]:
    from backoffice.tools.accounting import quickbooks as qbo
    from backoffice.tools.errors import BackofficeError

    tokens: dict[str, Any] = {}
    try:
        tokens = qbo.load_tokens(store.directory) or {}
        if not tokens:
            return _row("QuickBooks", False, None, None, "not connected: syncs wait as pending actions")
        client = qbo.QuickBooksClient(store.directory, store.services)
        client.call(lambda qb: qb.query("SELECT COUNT(*) FROM Customer"))
        return _row("QuickBooks", True, True, client.tokens.get("last_success"), f"company {tokens['realm_id']}")
    except BackofficeError as exc:
        return _row("QuickBooks", True, False, tokens.get("last_success"), str(exc))


def _check_claude() -> dict[str, object]:
    if os.environ.get("ANTHROPIC_API_KEY"):
        return _row("Claude", True, None, None, "API key set (not called; the chat falls back offline if it fails)")
    return _row("Claude", False, None, None, "no ANTHROPIC_API_KEY: the offline planner answers")


def _check_daemon(store: Store) -> dict[str, object]:
    from backoffice.agent.daemon import LOCK, read_state
    from backoffice.tools.book.storage import file_lock

    state = read_state(store.directory)
    # the daemon holds its lock exclusively while it runs: a shared one is then refused
    with file_lock(store.directory / LOCK, blocking=False, shared=True) as free:
        running = not free
    note = f"running (pid {state.get('pid')})" if running else "not running: the chat makes the digest itself"
    return _row("Daemon", running, True if running else None, state.get("last_check"), note)


def _check_server(store: Store) -> dict[str, object]:
    from backoffice.agent import server

    problems = "".join(f"; {p}" for p in server.setting_problems())
    if not server.enabled():
        note = f"turned off ({server.ENV}=off): every command starts from nothing"
        return _row("Book server", False, None, None, note + problems)
    status = server.ask(store.directory, "status")
    if status is None:
        found = server.phase(store.directory)
        idle = "not running: the next command starts one (backoffice server)"
        note = f"{found[1]} (pid {found[0]})" if found else idle
        return _row("Book server", True, None, None, note + problems)
    note = f"running (pid {status.get('pid')}), {status.get('served', 0)} commands served; keeps commands quick"
    return _row("Book server", True, True, None, note + problems)


def _procedures(store: Store) -> list[dict[str, object]]:
    """The procedure files as the chat and the daemon load them: each problem, and the schedule."""
    from backoffice.agent.procedure_check import load_checked

    checked = load_checked(store.settings, store.directory)
    names = ", ".join(p.name for p in checked.procedures) or "none"
    note = "\n".join(checked.problems) or f"{names}: no problems"
    schedule = "\n".join(f"{entry} ({entry.source})" for entry in checked.schedule) or "nothing is scheduled"
    return [
        _row("Procedures", bool(checked.procedures), not checked.problems, None, note),
        _row("Schedule", bool(checked.schedule), None, None, schedule),
    ]
