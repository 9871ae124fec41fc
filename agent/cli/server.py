"""``backoffice server``: see, stop or start the book server (``agent.server``) of this book."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console

from backoffice.agent import server as book_server
from backoffice.tools.book.store import Store

READY_WITHIN = 30.0  # seconds a started server gets to say it is up


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action",
        nargs="?",
        choices=("status", "stop", "start"),
        default="status",
        help="status (the default): is one running for this book; stop: stop it (it finishes the "
        "commands it is running); start: start one now instead of with the next command",
    )


def server(args: argparse.Namespace, store: Store, console: Console) -> int:
    where = args.book.path
    for problem in book_server.setting_problems():
        console.print(f"Note: {problem}.", markup=False, highlight=False)
    if args.action == "start":
        return _start(args, where, console)
    if args.action == "stop":
        return _stop(args, where, console)
    status = book_server.ask(where, "status")
    if status is None:
        return _not_answering(args, where, console)
    since = dt.datetime.fromtimestamp(float(status.get("since", 0))).strftime("%Y-%m-%d %H:%M")
    older = status.pop("fingerprint", None) != book_server.fingerprint()
    note = " It runs an older version of backoffice than this one; the next command replaces it." if older else ""
    _say(
        args,
        console,
        {"running": True, "enabled": book_server.enabled(), "current": not older, **status},
        f"The book server for {where} is running (pid {status.get('pid')}, since {since}): "
        f"{_commands(int(status.get('served', 0)))} served, {status.get('running', 0)} running now. It stops after "
        f"{book_server.duration(float(status.get('idle', 0)))} without a command; `backoffice server stop` stops it "
        f"now.{note}",
    )
    return 0


def _stop(args: argparse.Namespace, where: Path, console: Console) -> int:
    stopped = book_server.stop(where)
    if stopped.pid is None:
        _say(args, console, {"running": False}, f"No book server is running for {where}.")
    elif stopped.finishing:
        _say(
            args,
            console,
            {"running": True, "stopping": stopped.pid},
            f"The book server (pid {stopped.pid}) is already stopping: it exits once the commands it runs have ended.",
        )
    elif stopped.running:
        _say(
            args,
            console,
            {"running": True, "stopping": stopped.pid, "commands": stopped.running},
            f"The book server (pid {stopped.pid}) takes no new commands and exits once the {stopped.running} it is "
            "running end (a chat left open, say). Commands run the ordinary way until the next one starts a server.",
        )
    else:
        _say(args, console, {"running": False, "stopped": stopped.pid}, f"Stopped the book server (pid {stopped.pid}).")
    return 0


def _not_answering(args: argparse.Namespace, where: Path, console: Console) -> int:
    unusable = where / book_server.UNUSABLE
    found = book_server.phase(where)
    if found is not None:
        pid, state = found
        then = {
            "starting": "it is starting and answers in a second or so",
            "stopping": "it is stopping: it takes no new commands and exits once the ones it runs have ended",
        }.get(state, state)
        _say(args, console, {"running": True, "pid": pid, "phase": state}, f"The book server (pid {pid}): {then}.")
        return 0
    if not book_server.enabled():
        then = f"It is turned off here ({book_server.ENV}=off): commands run the ordinary way, nothing is started."
    elif unusable.exists():
        why = unusable.read_text(encoding="utf-8", errors="replace").strip()
        then = f"None can run for this book ({why}); commands run the ordinary way."
    else:
        then = "Commands run the ordinary way; the next one starts a server."
    data = {"running": False, "enabled": book_server.enabled(), "unusable": unusable.exists()}
    _say(args, console, data, f"No book server is running for {where}. {then}")
    return 0


def _start(args: argparse.Namespace, book: Path, console: Console) -> int:
    if not book_server.enabled():
        console.print(f"The book server is turned off here ({book_server.ENV}=off); nothing was started.")
        return 1
    found = book_server.phase(book)
    if found is not None and found[1] == "stopping":
        console.print(
            f"The book server (pid {found[0]}) is stopping, finishing the commands it runs; "
            "start one once it has gone (`backoffice server` says when)."
        )
        return 1
    if book_server.ask(book, "status") is None and found is None:
        (book / book_server.UNUSABLE).unlink(missing_ok=True)  # asked for: try again
        book_server.start_in_background(book)
    deadline = time.monotonic() + READY_WITHIN  # one we started, or one already starting
    while (status := book_server.ask(book, "status")) is None:
        if time.monotonic() > deadline or (book / book_server.UNUSABLE).exists():
            log = book / "logs" / book_server.LOG
            console.print(f"The book server did not come up within {READY_WITHIN:.0f} s; see {log}.")
            return 1
        time.sleep(0.1)
    _say(
        args, console, {"running": True, **status}, f"The book server for {book} is running (pid {status.get('pid')})."
    )
    return 0


def _commands(n: int) -> str:
    return f"{n} command{'' if n == 1 else 's'}"


def _say(args: argparse.Namespace, console: Console, data: Mapping[str, object], text: str) -> None:
    if args.json:
        console.print_json(json.dumps(data))
    else:
        console.print(text, markup=False, highlight=False)
