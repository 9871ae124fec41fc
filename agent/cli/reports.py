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
    from backoffice.tools.reports.digest import digest_data

    return _show(args, console, "digest", digest_data(store, args.date))


def pipeline(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.reports.pipeline import pipeline_data

    return _show(args, console, "pipeline", pipeline_data(store, args.date))


def winloss(args: argparse.Namespace, store: Store, console: Console) -> int:
    from backoffice.tools.reports.winloss import winloss_data

    return _show(args, console, "winloss", winloss_data(store, args.month))
