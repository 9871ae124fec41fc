"""The ``backoffice`` command. Thin: parse, call, print. Exit codes: 0 ok, 1 refused/failed, 2 usage."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console

from backoffice.tools.book.settings import data_dir
from backoffice.tools.book.store import Store
from backoffice.tools.errors import BackofficeError
from backoffice.tools.services import Services

Handler = Callable[[argparse.Namespace, Store, Console], int]
COMMANDS: dict[str, tuple[str, Handler, Callable[[argparse.ArgumentParser], None] | None]] = {}


def command(
    name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] | None = None
) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        COMMANDS[name] = (help, func, arguments)
        return func

    return register


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backoffice",
        description="A back office for small service businesses: customers, leads, follow-ups, pipeline.",
    )
    parser.add_argument("--data-dir", help="where the customer book lives (env BACKOFFICE_DATA_DIR, default ./data)")
    parser.add_argument("--json", action="store_true", help="print reports as JSON")
    parser.add_argument("--offline", action="store_true", help="use the offline planner even if Claude is configured")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, _, arguments) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if arguments:
            arguments(p)
    return parser


# ---------------------------------------------------------------------------- commands
@command("demo", "load a small sample plumbing business into an empty data dir")
def _demo(args: argparse.Namespace, store: Store, console: Console) -> int:
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


@command("check", "validate every record in the data dir against the schemas")
def _check(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.book.check import check_book

    problems = check_book(store)
    if args.json:
        print(json.dumps({"ok": not problems, "problems": problems}, indent=2))
    elif problems:
        for problem in problems:
            console.print(f"[red]✗[/red] {problem}")
    else:
        console.print(f"[green]✓[/green] Every record in {store.directory} is valid.")
    return 1 if problems else 0


# ---------------------------------------------------------------------------- entry point
def main(argv: Sequence[str] | None = None, services: Services | None = None) -> int:
    _load_command_modules()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    console = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    store: Store | None = None
    try:
        store = Store(data_dir(args.data_dir), services=services)
        handler = COMMANDS[args.command][1]
        return handler(args, store, console)
    except BackofficeError as exc:
        err.print(f"[red]Error:[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        err.print("Interrupted.")
        return 1
    finally:
        if store is not None:
            try:
                store.close()
            except BackofficeError as exc:
                err.print(f"[red]Error:[/red] {exc}")


def _load_command_modules() -> None:
    # modules that add their own commands register them on import
    for module in (
        "backoffice.agent.cli.conversation",
        "backoffice.agent.cli.connections",
        "backoffice.agent.cli.book",
    ):
        try:
            __import__(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def run() -> Any:
    sys.exit(main())


if __name__ == "__main__":
    # `python -m agent.cli` runs this file as __main__; command modules register on `agent.cli`, so use that one
    from backoffice.agent.cli import run as _run

    _run()
