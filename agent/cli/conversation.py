"""Commands that need the agent: chat, ask, pending, approve, reject, the reports and the daemon."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from typing import Any

from rich.console import Console

from backoffice.agent.cli import command
from backoffice.tools.book.store import Store
from backoffice.tools.errors import ConfigError


@command("chat", "talk to your back office in the terminal (reads lines from stdin when piped)")
def _chat(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.agent.chat.loop import run_chat

    return run_chat(store, console, offline=args.offline)


def _ask_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("message", nargs="+", help='what you would say, e.g. "what\'s our pipeline?"')


@command("ask", "send one message and print the answer (actions needing approval are saved as pending)", _ask_arguments)
def _ask(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.agent.chat.loop import ChatApprover, LineReader
    from backoffice.agent.chat.screen import planner_banner, render
    from backoffice.agent.orchestrator import build

    interactive = sys.stdin.isatty() and not args.json
    approver = ChatApprover(console, LineReader(sys.stdin, console)) if interactive else None
    orch = build(store, approver, origin="ask", offline=args.offline)
    reply = orch.handle_message(" ".join(args.message))
    if args.json:
        print(json.dumps(reply.as_dict(), indent=2, default=str))
    else:
        console.print(f"[dim]{planner_banner(orch, args.offline)}[/dim]", highlight=False)
        render(reply, console)
    return 1 if any(b.kind == "error" for b in reply.blocks) else 0


def _pending_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all", action="store_true", help="include approved, rejected and failed actions")


@command("pending", "list actions waiting for your approval", _pending_arguments)
def _pending(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.agent import views
    from backoffice.agent.chat.screen import render
    from backoffice.agent.gate.pending import PendingStore
    from backoffice.agent.reply import Reply

    pending = PendingStore(store.directory)
    actions = pending.all() if args.all else pending.open()
    if args.json:
        print(json.dumps([a.__dict__ for a in actions], indent=2))
        return 0
    if not actions:
        console.print("Nothing is waiting for your approval.")
        return 0
    reply = Reply()
    views.pending_actions(reply, actions, "Pending actions", with_status=True)
    reply.say("See the details and run one: `backoffice approve ID`  ·  drop one: `backoffice reject ID`")
    render(reply, console)
    return 0


def _id_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", help="the action id, e.g. P-3")


@command("approve", "approve and run a pending action (shows what it will do first)", _id_argument)
def _approve(args: argparse.Namespace, store: Store, console: Console) -> int:
    return _decide(args, store, console, approve=True)


@command("reject", "drop a pending action without running it", _id_argument)
def _reject(args: argparse.Namespace, store: Store, console: Console) -> int:
    return _decide(args, store, console, approve=False)


def _decide(args: argparse.Namespace, store: Store, console: Console, approve: bool) -> int:
    from backoffice.agent.chat.screen import action_panel, show_outcome
    from backoffice.agent.orchestrator import build

    orch = build(store, None, origin="approve", offline=True)
    action = orch.gate.pending.get(args.id)
    outcome = orch.gate.execute(action.id, by="owner") if approve else orch.gate.reject(action.id)
    if args.json:
        print(json.dumps({"id": action.id, "status": outcome.status, "message": outcome.message}))
    else:
        console.print(action_panel(action))
        show_outcome(outcome, console)
    return 0 if outcome.status in ("ok", "already") or (not approve and outcome.status == "declined") else 1


# ---------------------------------------------------------------------------- reports
def _date_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--date", type=_iso_date, help="report as of this day (YYYY-MM-DD), default today")


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-23") from None


def _month(text: str) -> str:
    from backoffice.tools.reports.winloss import MONTH

    if not re.fullmatch(MONTH, text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a month like 2026-10")
    return text


def _show_report(args: argparse.Namespace, console: Console, kind: str, data: dict[str, Any]) -> int:
    from backoffice.agent.briefings.schedule import REPORTS
    from backoffice.agent.chat.screen import render

    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        render(REPORTS[kind].render(data), console)
    return 0


@command("digest", "the morning digest: follow-ups due (overdue marked) and leads gone quiet", _date_argument)
def _digest(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.reports.digest import digest_data

    return _show_report(args, console, "digest", digest_data(store, args.date))


@command("pipeline", "the pipeline summary for the 7 days up to today", _date_argument)
def _pipeline(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.reports.pipeline import pipeline_data

    return _show_report(args, console, "pipeline", pipeline_data(store, args.date))


def _winloss_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--month", type=_month, help="the month, YYYY-MM (default last month)")


@command(
    "winloss", "the win/loss summary of a month: outcomes, top sources, days to close, loss reasons", _winloss_arguments
)
def _winloss(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.reports.winloss import winloss_data

    return _show_report(args, console, "winloss", winloss_data(store, args.month))


# ---------------------------------------------------------------------------- the daemon
def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--check-every",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how often to check for a missed report (default 60); the reports themselves run at digest_time",
    )
    p.add_argument(
        "--poll-every",
        type=float,
        metavar="SECONDS",
        help="how often to read new mail (Gmail, and <data dir>/inbox/*.eml); default gmail_poll_minutes",
    )
    p.add_argument("--once", action="store_true", help="produce whatever is due now, then exit (for cron)")
    p.add_argument("--quiet", action="store_true", help="log only to <data dir>/logs/daemon.log")


@command("run", "run the daemon: morning digest, weekly pipeline, monthly win/loss, inbox polling", _run_arguments)
def _run(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.agent.briefings.schedule import report_times
    from backoffice.agent.daemon import Daemon, setup_logging

    if args.check_every <= 0 or (args.poll_every is not None and args.poll_every <= 0):
        raise ConfigError("--check-every and --poll-every must be more than 0 seconds")
    path = setup_logging(store.directory, verbose=not args.quiet)
    daemon = Daemon(store, check_every=args.check_every, poll_every=args.poll_every)
    if not args.quiet:
        console.print(
            f"Back office daemon for {store.directory}. Reports at {report_times(daemon.schedule)} "
            f"({store.settings.timezone}); log: {path}. Ctrl-C or SIGTERM stops it.",
            highlight=False,
        )
    return daemon.run(once=args.once)
