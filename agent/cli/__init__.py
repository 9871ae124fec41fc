"""The ``backoffice`` command. Thin: parse, call, print.

Exit codes: 0 ok, 1 refused or failed (with a message), 2 usage, 141 the reader of the output went
away (``| head``), said nothing.

Every command is one row of ``COMMANDS``: its name, one line of help, the function that runs it
(``module:function`` in this package) and whether it only reads the book. The table is plain data:
``backoffice --help`` and the suggestion for a mistyped command import no command module, and
running a command imports its own module and no other.

    conversation.py   chat, ask, pending, approve, reject
    reports.py        digest, pipeline, winloss
    measure.py        score, kpis, sources, competitors, board
    daemon.py         run
    connections.py    inbound, gmail, quickbooks, doctor
    book.py           demo, check, import, export, duplicates, merge
    migrate.py        migrate
    output.py         the consoles: a terminal, or a pipe (no wrapping, no padding)

A run function is ``run(args, store, console) -> exit code``; an arguments function adds the
command's own options to its parser. ``--data-dir``, ``--json`` and ``--offline`` are accepted
before or after the command.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from backoffice.tools.book.location import ENV, database, locate
from backoffice.tools.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from backoffice.tools.book.store import Store
    from backoffice.tools.services import Services

    Handler = Callable[[argparse.Namespace, Store, Console], int]

PIPE_CLOSED = 141  # 128 + SIGPIPE, what a shell reports for a command whose reader left


class Command(NamedTuple):  # a NamedTuple: dataclasses would add inspect to every start-up
    name: str
    help: str
    run: str  # "module:function" in this package
    arguments: str | None = None  # "module:function" adding the command's own options
    # Only reads the book (True, or the sub-actions that do): with no book there it says where it
    # looked and exits 1, and never creates one.
    reads: bool | tuple[str, ...] = False
    # Reads the data dir's files itself (check): its store does not load settings.json, so a
    # damaged one is reported with the rest instead of stopping the command.
    own_files: bool = False

    def reads_only(self, args: argparse.Namespace) -> bool:
        if isinstance(self.reads, tuple):
            return getattr(args, "action", None) in self.reads
        return self.reads

    def handler(self) -> Handler:
        handler: Handler = _load(self.run)
        return handler

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        if self.arguments:
            _load(self.arguments)(parser)


# fmt: off
COMMANDS = {
    c.name: c
    for c in (
        Command("chat", "talk to your back office in the terminal (reads lines from stdin when piped)",
                "conversation:chat"),
        Command("ask", "send one message and print the answer (actions needing approval are saved as pending)",
                "conversation:ask", "conversation:ask_arguments"),
        Command("pending", "list actions waiting for your approval",
                "conversation:pending", "conversation:pending_arguments", reads=True),
        Command("approve", "run a pending action: typing this is your yes (see it first with pending)",
                "conversation:approve", "conversation:id_argument", reads=True),
        Command("reject", "drop a pending action without running it",
                "conversation:reject", "conversation:id_argument", reads=True),
        Command("digest", "the morning digest: follow-ups due (overdue marked) and leads gone quiet",
                "reports:digest", "reports:digest_arguments", reads=True),
        Command("pipeline", "the pipeline summary for the 7 days up to today",
                "reports:pipeline", "reports:pipeline_arguments", reads=True),
        Command("winloss", "the win/loss summary of a month: outcomes, top sources, days to close, loss reasons",
                "reports:winloss", "reports:month_argument", reads=True),
        Command("score", "a lead's score and why (backoffice score L-3), or the open leads by score",
                "measure:score", "measure:score_arguments", reads=True),
        Command("kpis", "a month's key numbers from the event log: volume, qualification, conversion, velocity",
                "measure:kpis", "measure:month_argument", reads=True),
        Command("sources", "leads, conversion, spend, cost per won job and ROI per lead source for a month",
                "measure:sources", "measure:month_argument", reads=True),
        Command("competitors", "who we lose jobs to, how often and why",
                "measure:competitors", reads=True),
        Command("board", "the open jobs by stage in the terminal, or --html FILE for a page to open",
                "measure:board", "measure:board_arguments", reads=True),
        Command("run", "run the daemon: morning digest, weekly pipeline, monthly win/loss, inbox polling",
                "daemon:run", "daemon:arguments", reads=True),
        Command("inbound", "treat saved emails as inbound mail: new inquiries become leads, replies are logged",
                "connections:inbound", "connections:inbound_arguments"),
        Command("gmail", "connect Gmail, see its status, or read new mail now",
                "connections:gmail", "connections:gmail_arguments", reads=("status",)),
        Command("quickbooks", "connect QuickBooks Online, or see its status",
                "connections:quickbooks", "connections:quickbooks_arguments", reads=("status",)),
        Command("doctor", "check the book, each integration (set up, working, last success) and the procedure files",
                "connections:doctor", reads=True),
        Command("demo", "load a small sample plumbing business into an empty book", "book:demo"),
        Command("check", "is the whole data dir healthy? every record, link, log, pending action and file",
                "book:check", reads=True, own_files=True),
        Command("import", "bring contacts, companies and leads in from a CSV file (shows the plan first)",
                "book:import_file", "book:import_arguments"),
        Command("export", "write contacts, leads, opportunities or interactions to a CSV (or --json) file",
                "book:export", "book:export_arguments", reads=True),
        Command("duplicates", "list contacts that look like the same person, and why",
                "book:duplicates", "book:duplicates_arguments", reads=True),
        Command("merge", "merge duplicate contacts into one (shows what moves, then asks)",
                "book:merge", "book:merge_arguments", reads=True),
        Command("server", "the book server that keeps commands quick: status, stop, start (it starts by itself)",
                "server:server", "server:arguments", reads=True),
        Command("migrate", "copy the whole book into an empty PostgreSQL database (--to postgresql://…) or folder",
                "migrate:migrate", "migrate:migrate_arguments", reads=True),
    )
}
# fmt: on


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


# ---------------------------------------------------------------------------- parsing
def _add_globals(parser: argparse.ArgumentParser, *, after_command: bool) -> None:
    # After the command the same options again, defaulting to SUPPRESS: given there they win, not
    # given they leave alone what came before the command.
    def default(value: object) -> object:
        return argparse.SUPPRESS if after_command else value

    group = parser.add_argument_group("global options (before or after the command)")
    group.add_argument(
        "--data-dir",
        default=default(None),
        metavar="DIR",
        help=f"the book's folder (env {ENV}; default: your user data folder)",
    )
    group.add_argument("--json", action="store_true", default=default(False), help="print the output as JSON")
    group.add_argument(
        "--offline",
        action="store_true",
        default=default(False),
        help="use the offline planner even if Claude is configured",
    )


class _Help(argparse.Action):
    """-h: the help, ending with which book is open (worked out only when help is asked for)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, *_: Any) -> NoReturn:
        parser.epilog = book_epilog(getattr(namespace, "data_dir", None))
        parser.print_help()
        parser.exit()


class _Version(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        import backoffice

        print(f"backoffice {backoffice.__version__}")
        parser.exit()


def book_epilog(explicit: str | None) -> str:
    try:
        return f"book: {locate(explicit).describe()}"
    except ConfigError as exc:
        return f"book: {exc}"


def build_parser(*selected: Command) -> argparse.ArgumentParser:
    """The parser; only the ``selected`` commands get their own arguments (the others need only
    their help line, so their modules are not imported)."""
    parser = argparse.ArgumentParser(
        prog="backoffice",
        description="A back office for small service businesses: customers, leads, follow-ups, pipeline.",
        add_help=False,
        allow_abbrev=False,  # _command_word must find the command the way argparse will
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the book's path on one line
    )
    parser.add_argument("-h", "--help", action=_Help, help="show this help, and which book is open")
    parser.add_argument("--version", action=_Version, help="print the version")
    _add_globals(parser, after_command=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for command in COMMANDS.values():
        p = sub.add_parser(command.name, help=command.help, description=command.help, allow_abbrev=False)
        if command in selected:
            command.add_arguments(p)
            _add_globals(p, after_command=True)
    return parser


VALUE_OPTIONS = ("--data-dir",)


def _command_word(argv: Sequence[str]) -> str | None:
    """The command named in ``argv``: the first word that is neither an option nor an option's value."""
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            return next(tokens, None)
        if token in VALUE_OPTIONS:
            next(tokens, None)
        elif not token.startswith("-"):
            return token
    return None


def _hoisted(argv: list[str], word: str) -> list[str]:
    """The global options found after the command moved before it. argparse cannot take an option
    between two positionals of a command (``export leads --json out.json``); before the command
    they mean the same and always parse."""
    at = argv.index(word)
    front, rest, tail = argv[:at], [], argv[at:]
    tokens = iter(tail[1:])
    for token in tokens:
        if token == "--":
            rest += [token, *tokens]
            break
        if token in ("--json", "--offline") or token.startswith("--data-dir="):
            front.append(token)
        elif token in VALUE_OPTIONS:
            front += [token, *([value] if (value := next(tokens, None)) is not None else [])]
        else:
            rest.append(token)
    return [*front, word, *rest]


def _not_a_command(word: str) -> str:
    import difflib

    close = difflib.get_close_matches(word, COMMANDS, n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    return f"{word!r} is not a backoffice command.{hint} (backoffice --help lists them)"


# ---------------------------------------------------------------------------- entry point
def main(argv: Sequence[str] | None = None, services: Services | None = None) -> int:
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions (argcomplete, see the README)
        _complete()
    argv = list(sys.argv[1:] if argv is None else argv)
    _tolerant_streams()
    word = _command_word(argv)
    command = COMMANDS.get(word) if word is not None else None
    parser = build_parser(*([command] if command else []))
    if word is not None and command is None:
        parser.error(_not_a_command(word))
    args = parser.parse_args(_hoisted(argv, word) if command is not None and word is not None else argv)
    if command is None:
        parser.epilog = book_epilog(args.data_dir)
        parser.print_help()
        return 2
    return _run(command, args, services)


def _complete() -> NoReturn:
    # Only here are argcomplete and every command module imported: a normal start pays one
    # environment lookup for completion, nothing more.
    import argcomplete

    argcomplete.autocomplete(build_parser(*COMMANDS.values()))
    sys.exit(0)  # autocomplete exits itself once it has answered; this is for type checkers


def _run(command: Command, args: argparse.Namespace, services: Services | None) -> int:
    # imported here, once a command is chosen: --help and usage errors stay light
    from rich.markup import escape

    from backoffice.agent.cli.output import console_for
    from backoffice.tools.book.store import Store
    from backoffice.tools.errors import BackofficeError

    console, err = console_for(sys.stdout), console_for(sys.stderr)
    store: Store | None = None
    try:
        args.book = where = locate(args.data_dir)
        args.database = server = database(where.path)  # None: the book is the files in the data dir
        if command.reads_only(args) and not where.exists and server is None:
            err.print(where.missing_message(), markup=False, highlight=False)
            return 1
        handler = command.handler()
        settings = None
        if command.own_files:
            from backoffice.tools.book.settings import Settings

            settings = Settings()
        store = Store(where.path, settings=settings, services=services, database_url=server.url if server else "")
        if command.reads_only(args) and server is not None and not store.exists():
            err.print(server.missing_message(where.path), markup=False, highlight=False)
            return 1
        return handler(args, store, console)
    except BackofficeError as exc:
        err.print(f"[red]Error:[/red] {escape(str(exc))}", highlight=False)
        return 1
    except KeyboardInterrupt:
        err.print("Interrupted.")
        return 1
    except BrokenPipeError:
        return PIPE_CLOSED
    except OSError as exc:  # the disk, a file's permissions, a folder where a file should be...
        err.print(f"[red]Error:[/red] {escape(_os_problem(exc))}", highlight=False)
        return 1
    except Exception as exc:  # a bug: the owner gets a sentence, not a traceback (BACKOFFICE_DEBUG=1 shows it)
        if os.environ.get("BACKOFFICE_DEBUG"):
            raise
        err.print(
            f"[red]Error:[/red] backoffice stopped on an unexpected problem ({escape(type(exc).__name__)}: "
            f"{escape(str(exc)[:300])}). What had been saved is safe. Run it again with BACKOFFICE_DEBUG=1 to see "
            "where it happened, and please report it.",
            highlight=False,
        )
        return 1
    finally:
        if store is not None:
            try:
                store.close()
            except BackofficeError as exc:
                err.print(f"[red]Error:[/red] {escape(str(exc))}", highlight=False)


def _os_problem(exc: OSError) -> str:
    where = f" ({_text(exc.filename)})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}. Nothing more was done; check the file or folder named and try again."


def _text(value: object) -> str:
    """A file name or argument as printable text, even when it is not valid UTF-8."""
    text = os.fsdecode(value) if isinstance(value, bytes | os.PathLike) else str(value)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _tolerant_streams() -> None:
    """Bytes that are not UTF-8 on stdin become U+FFFD instead of ending the chat; output that
    cannot be encoded (a file name in another encoding) is replaced rather than raising."""
    for stream, errors in ((sys.stdin, "replace"), (sys.stdout, "replace"), (sys.stderr, "replace")):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # already read from, or not that kind of stream
                reconfigure(errors=errors)


def run() -> NoReturn:
    """The console script: the book server runs the command when one is up for this book (see
    ``agent.server``); otherwise ``main()`` runs here, and a server is started for the next one."""
    if not _standard_streams():
        sys.exit(1)
    argv = sys.argv[1:]
    served, book = _served(argv)
    if served is not None:
        sys.exit(served)
    code: int | str | None
    try:
        code = main()
    except SystemExit as exc:  # argparse ends --help, --version and usage errors this way
        code = exc.code
    except BrokenPipeError:  # the help itself, into a closed pipe
        code = PIPE_CLOSED
    except KeyboardInterrupt:  # Ctrl-C while the command is still starting up
        print("Interrupted.", file=sys.stderr)
        code = 1
    code = finish(code)
    if book is not None and code != 2:
        from backoffice.agent import server

        server.start_in_background(book)
    sys.exit(code)


def _standard_streams() -> bool:
    """Closed standard streams (``<&-``, ``>&-``) made harmless before anything runs: no input
    is read as the end of input, a closed standard error loses only the messages. With no
    standard output there is nowhere to answer: the command is refused (on standard error, when
    there is one) and changes nothing."""
    closed = []
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDONLY if mode == "r" else os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            setattr(sys, name, open(fd, mode, encoding="utf-8", errors="replace", closefd=False))  # noqa: SIM115
            closed.append(name)
    if "stdout" in closed:
        print("backoffice: standard output is closed: nowhere to answer, so nothing was done.", file=sys.stderr)
        return False
    return True


def finish(code: int | str | None) -> int | str | None:
    """Output flushed, and a quiet end when the reader of the output went away."""
    failed = False
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = PIPE_CLOSED
    except OSError:  # a full disk or a device refusing more (>/dev/full): the command has said so
        failed, code = True, code or 1
    if code == PIPE_CLOSED or failed:
        # As Python's signal docs advise for SIGPIPE: whatever is still buffered goes to devnull, so
        # the flush at exit raises nothing and prints no traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return code


def _served(argv: list[str]) -> tuple[int | None, Path | None]:
    """The exit status of the command run by the book server, or None; and the book a server
    could be started for afterwards (None when there is no book or the server is off)."""
    word = _command_word(argv)
    if word not in COMMANDS:  # --help, --version, a usage error: nothing to serve, nothing more imported
        return None, None
    from backoffice.agent import server

    if not server.servable(word) or not server.enabled():
        return None, None
    explicit: str | None = None
    hoisted = _hoisted(argv, word)
    tokens = iter(hoisted[: hoisted.index(word)])
    for token in tokens:
        if token == "--data-dir":
            explicit = next(tokens, explicit)
        elif token.startswith("--data-dir="):
            explicit = token.partition("=")[2]
    try:
        where = locate(explicit)
    except (ConfigError, OSError):  # e.g. a relative folder from a folder deleted meanwhile: said by the command
        return None, None
    if not where.exists:
        return None, where.path  # a command that makes the book (demo, a first chat) starts one after
    return server.serve_here(argv, where.path), where.path
