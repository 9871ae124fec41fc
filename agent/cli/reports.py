"""The scheduled reports on demand: digest, pipeline, winloss."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from typing import Any

from rich.console import Console

from backoffice.tools.book.store import Store


def date_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--date", type=_iso_date, help="report as of this day (YYYY-MM-DD), default today")


def digest_arguments(p: argparse.ArgumentParser) -> None:
    date_argument(p)
    p.add_argument(
        "--all", action="store_true", help="list every quiet lead and follow-up (--json always lists every one)"
    )


def pipeline_arguments(p: argparse.ArgumentParser) -> None:
    date_argument(p)
    p.add_argument(
        "--all", action="store_true", help="list everything past its expected close date (--json lists every one)"
    )


def month_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--month", type=_month, help="the month, YYYY-MM (default last month)")


YEARS = range(1900, 3000)  # the reports count days back and forward: far-off years would leave the calendar


def _iso_date(text: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-23") from None
    if day.year not in YEARS:
        raise argparse.ArgumentTypeError(f"{text!r}: give a date between {YEARS[0]} and {YEARS[-1]}")
    return day


def _month(text: str) -> str:
    from backoffice.tools.reports.winloss import MONTH

    if not re.fullmatch(MONTH, text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a month like 2026-10")
    if int(text[:4]) not in YEARS:
        raise argparse.ArgumentTypeError(f"{text!r}: give a month between {YEARS[0]} and {YEARS[-1]}")
    return text


def _show(args: argparse.Namespace, console: Console, kind: str, data: dict[str, Any]) -> int:
    from backoffice.agent.briefings.schedule import REPORTS
    from backoffice.agent.chat.screen import render

    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        render(REPORTS[kind].render(data), console)
    return 0


def digest(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.reports.digest import SHOWN, digest_data

    every = args.json or args.all
    data = digest_data(store, args.date, limit=None if every else SHOWN)
    if every and not args.json:
        from backoffice.agent import views
        from backoffice.agent.chat.screen import render
        from backoffice.agent.reply import Reply

        reply = Reply(planner="reports")
        views.follow_ups(reply, data["follow_ups"])
        views.stale_leads(reply, data["stale_leads"], data["stale_total"], heads_up=0)
        render(reply, console)
        return 0
    return _show(args, console, "digest", data)


def pipeline(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.reports.pipeline import SHOWN, pipeline_data

    every = args.json or args.all
    return _show(args, console, "pipeline", pipeline_data(store, args.date, limit=None if every else SHOWN))


def winloss(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.reports.winloss import winloss_data

    return _show(args, console, "winloss", winloss_data(store, args.month))
