"""Commands for the outside world: inbound email, Gmail, QuickBooks, and ``doctor``."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from rich.console import Console

from tools.errors import ConfigError
from tools.store import Store

from .cli import command

MARK = {
    "lead": "[green]＋[/green]",
    "logged": "[green]✓[/green]",
    "duplicate": "[dim]=[/dim]",
    "skipped": "[dim]–[/dim]",
}


def _inbound_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "files", nargs="+", metavar="FILE.eml", help="saved emails (.eml), e.g. exported from your mail program"
    )


@command(
    "inbound", "treat saved emails as inbound mail: new inquiries become leads, replies are logged", _inbound_arguments
)
def _inbound(args: argparse.Namespace, store: Store, console: Console) -> int:
    from .inbound import handle_inbound

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
            console.print(f"{mark} {path.name}: {result.message}", highlight=False)
    return 1 if any(r.status == "error" for r in results) else 0


# ---------------------------------------------------------------------------- Gmail
def _gmail_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="auth|status|poll", required=True)
    auth = sub.add_parser("auth", help="connect your Gmail (opens a browser to sign in)")
    auth.add_argument("--client-secrets", required=True, type=Path, help="the OAuth client file (Desktop app)")
    auth.add_argument("--no-browser", action="store_true", help="print the sign-in address instead of opening it")
    sub.add_parser("status", help="who is connected and when mail was last checked")
    sub.add_parser("poll", help="read new mail now (the daemon does this every few minutes)")


@command("gmail", "connect Gmail, see its status, or read new mail now", _gmail_arguments)
def _gmail(args: argparse.Namespace, store: Store, console: Console) -> int:
    from tools import gmail

    if args.action == "auth":
        address = gmail.connect(store.directory, args.client_secrets, open_browser=not args.no_browser)
        console.print(f"[green]✓[/green] Gmail connected: {address} (token in {gmail.token_path(store.directory)})")
        return 0
    if args.action == "poll":
        counts = poll_gmail(store)
        console.print(_counts_line(counts), highlight=False)
        return 0
    state = gmail.load_state(store.directory)
    info = {
        "connected": gmail.connected(store.directory),
        "email": state.get("email"),
        "last_check": state.get("last_check"),
        "last_error": state.get("last_error"),
    }
    if args.json:
        print(json.dumps(info, indent=2))
    elif not info["connected"]:
        console.print("Gmail is not connected. `backoffice gmail auth --client-secrets FILE` connects it.")
    else:
        console.print(f"Gmail: {info['email'] or 'connected'}; mail last checked {info['last_check'] or 'never'}.")
        if info["last_error"]:
            console.print(f"[red]Last problem:[/red] {info['last_error']}", highlight=False)
    return 0


def poll_gmail(store: Store) -> dict[str, int]:
    from tools import gmail

    from .inbound import handle_inbound

    return gmail.poll(store.directory, lambda raw, thread: handle_inbound(store, raw, thread).status)


def _counts_line(counts: dict[str, int]) -> str:
    if not counts:
        return "No new mail."
    words = {"lead": "new lead(s)", "logged": "reply(ies) logged", "duplicate": "already seen", "skipped": "skipped"}
    return "Mail read: " + ", ".join(f"{n} {words.get(k, k)}" for k, n in counts.items()) + "."
