"""``backoffice run``: the daemon (the reports on schedule, and the inbox)."""

from __future__ import annotations

import argparse

from rich.console import Console

from backoffice.tools.book.store import Store
from backoffice.tools.errors import ConfigError

MAX_SECONDS = 7 * 24 * 3600  # a week: beyond that a timer is not "checking" any more


def arguments(p: argparse.ArgumentParser) -> None:
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


def run(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.agent.briefings.schedule import report_times
    from backoffice.agent.daemon import Daemon, setup_logging

    for option, value in (("--check-every", args.check_every), ("--poll-every", args.poll_every)):
        if value is not None and not (0 < value <= MAX_SECONDS):  # also false for nan; inf is too long
            raise ConfigError(f"{option} {value:g} is not usable: give a number of seconds from 0 to {MAX_SECONDS:,}")
    path = setup_logging(store.directory, verbose=not args.quiet)
    daemon = Daemon(store, check_every=args.check_every, poll_every=args.poll_every)
    if not args.quiet:
        console.print(
            f"Back office daemon for {store.directory}. Reports at {report_times(daemon.schedule)} "
            f"({store.settings.timezone}); log: {path}. Ctrl-C or SIGTERM stops it.",
            highlight=False,
        )
    return daemon.run(once=args.once)
