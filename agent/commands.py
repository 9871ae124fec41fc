"""Commands that need the agent: chat, ask, pending, approve, reject."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console

from tools.store import Store

from .cli import command


@command("chat", "talk to your back office in the terminal (reads lines from stdin when piped)")
def _chat(args: argparse.Namespace, store: Store, console: Console) -> int:
    from .chat import run_chat

    return run_chat(store, console, offline=args.offline)


def _ask_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("message", nargs="+", help='what you would say, e.g. "what\'s our pipeline?"')


@command("ask", "send one message and print the answer (actions needing approval are saved as pending)", _ask_arguments)
def _ask(args: argparse.Namespace, store: Store, console: Console) -> int:
    from .chat import ChatApprover, LineReader, planner_banner, render
    from .orchestrator import build

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
    from . import views
    from .chat import render
    from .pending import PendingStore
    from .reply import Reply

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
    from .chat import action_panel, show_outcome
    from .orchestrator import build

    orch = build(store, None, origin="approve", offline=True)
    action = orch.gate.pending.get(args.id)
    outcome = orch.gate.execute(action.id, by="owner") if approve else orch.gate.reject(action.id)
    if args.json:
        print(json.dumps({"id": action.id, "status": outcome.status, "message": outcome.message}))
    else:
        console.print(action_panel(action))
        show_outcome(outcome, console)
    return 0 if outcome.status in ("ok", "already") or (not approve and outcome.status == "declined") else 1
