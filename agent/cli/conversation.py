"""Commands that talk to the agent: chat, ask, and the pending actions (pending, approve, reject)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from rich.console import Console

from backoffice.tools.book.store import Store

if TYPE_CHECKING:
    from backoffice.agent.gate.pending import Action


def chat(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.agent.chat.loop import run_chat

    return run_chat(store, console, offline=args.offline)


def ask_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("message", nargs="+", help='what you would say, e.g. "what\'s our pipeline?"')


def ask(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.agent.chat.prompts import ChatApprover, LineReader
    from backoffice.agent.chat.screen import planner_banner, render
    from backoffice.agent.cli.output import console_for
    from backoffice.agent.orchestrator import build

    had_book = _book_there(args, store)
    interactive = sys.stdin.isatty() and not args.json
    approver = ChatApprover(console, LineReader(sys.stdin, console)) if interactive else None
    orch = build(store, approver, origin="ask", offline=args.offline)
    # words that are not UTF-8 (a shell in another encoding) are read with U+FFFD in their place
    text = " ".join(args.message).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    reply = orch.handle_message(text)
    if args.json:
        print(json.dumps(reply.as_dict(), indent=2, default=str))
    else:
        console.print(f"[dim]{planner_banner(orch, args.offline)}[/dim]", highlight=False)
        render(reply, console)
    if not had_book and not _book_there(args, store):
        # the answer wrote nothing, so it was about a book that is not there: say where we looked
        missing = args.database.missing_message(store.directory) if args.database else args.book.missing_message()
        console_for(sys.stderr).print(missing, markup=False)
        return 1
    return 1 if any(b.kind == "error" for b in reply.blocks) else 0


def _book_there(args: argparse.Namespace, store: Store) -> bool:
    return store.exists() if args.database else store.directory.is_dir()


def pending_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all", action="store_true", help="include approved, rejected and failed actions")


def pending(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.agent import views
    from backoffice.agent.chat.screen import render
    from backoffice.agent.gate.pending import PendingStore
    from backoffice.agent.reply import Reply

    waiting = PendingStore(store.directory)
    actions = [fresh_title(store, a) for a in (waiting.all() if args.all else waiting.open())]
    if args.json:
        print(json.dumps([{**a.__dict__, "status": a.shown_status} for a in actions], indent=2))
        return 0
    if not actions:
        console.print("Nothing is waiting for your approval.")
        return 0
    reply = Reply()
    views.pending_actions(reply, actions, "Pending actions", with_status=True)
    reply.say("See the details and run one: `backoffice approve ID`  ·  drop one: `backoffice reject ID`")
    render(reply, console)
    return 0


def fresh_title(store: Store, action: Action) -> Action:
    """An action still to be decided, titled from its tool and arguments now (the stored title is
    only what was shown once); one that cannot run says why instead."""
    import dataclasses

    from backoffice.agent.gate.pending import unusable
    from backoffice.tools.catalog import get_tool
    from backoffice.tools.errors import BackofficeError

    if not action.waiting:
        return action
    problem = unusable(action)
    if problem:
        return dataclasses.replace(action, title=f"cannot be run: {problem}")
    try:
        title, _ = get_tool(action.tool).describe_call(store, action.args)
    except BackofficeError as exc:
        title = f"{action.title} (cannot be checked now: {exc})"
    return dataclasses.replace(action, title=title)


def id_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", help="the action id, e.g. P-3")


def approve(args: argparse.Namespace, store: Store, console: Console) -> int:
    return _decide(args, store, console, approve=True)


def reject(args: argparse.Namespace, store: Store, console: Console) -> int:
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
        # what ran (or would run), as described from its tool and arguments; an entry refused is not shown
        if outcome.action is not None and outcome.status != "error":
            console.print(action_panel(outcome.action))
        show_outcome(outcome, console)
    return 0 if outcome.status in ("ok", "already") or (not approve and outcome.status == "declined") else 1
