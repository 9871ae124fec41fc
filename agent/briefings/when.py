"""The words a procedure's schedule is written in.

A ``when`` takes one of four forms; a setting in braces is filled in from settings.json, so the
owner's ``digest_time`` and ``weekly_day`` keep working wherever a procedure uses them:

    every business day at {digest_time}
    every day at 18:00
    weekly on {weekly_day} at {digest_time}        (mon ... sun, or the day's full name)
    first business day of the month at 08:00

Each becomes an APScheduler cron trigger in the business time zone plus the one check only the
business calendar can make (holidays), so the daemon's timers and ``run_due`` agree on every
occurrence.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from backoffice.tools.book.clock import BusinessCalendar

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger
from backoffice.tools.book.settings import WEEKDAYS, Settings

FORMS = (
    "every business day at {digest_time}",
    "every day at HH:MM",
    "weekly on {weekly_day} at HH:MM",
    "first business day of the month at HH:MM",
)
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

Every = Literal["business day", "day", "week", "month"]
_PATTERNS: tuple[tuple[Every, re.Pattern[str]], ...] = (
    ("business day", re.compile(r"every business day at (?P<at>\S+)")),
    ("day", re.compile(r"every day at (?P<at>\S+)")),
    ("week", re.compile(r"weekly on (?P<day>[a-z]+) at (?P<at>\S+)")),
    ("month", re.compile(r"first business day of the month at (?P<at>\S+)")),
)


@dataclass(frozen=True)
class When:
    every: Every
    at: dt.time
    weekday: str = ""  # mon ... sun, for "week"

    def __str__(self) -> str:
        at = f"{self.at:%H:%M}"
        if self.every == "week":
            return f"weekly on {self.weekday} at {at}"
        if self.every == "month":
            return f"first business day of the month at {at}"
        return f"every {self.every} at {at}"

    def trigger(self, settings: Settings) -> CronTrigger:
        """When the daemon's timer fires; ``wanted`` then drops the firings the calendar rules out."""
        # APScheduler (and the asyncio it brings) loads only when a report's times are worked out
        from apscheduler.triggers.cron import CronTrigger

        common: dict[str, Any] = {"hour": self.at.hour, "minute": self.at.minute, "timezone": settings.tz}
        business = ",".join(settings.business_days)
        if self.every == "business day":
            return CronTrigger(day_of_week=business, **common)
        if self.every == "day":
            return CronTrigger(**common)
        if self.every == "week":
            return CronTrigger(day_of_week=self.weekday, **common)
        # the first business day falls in the first two weeks whatever the holidays
        return CronTrigger(day="1-14", day_of_week=business, **common)

    def wanted(self, day: dt.date, calendar: BusinessCalendar) -> bool:
        """Whether a firing on ``day`` is a real occurrence (holidays are only known here)."""
        if self.every == "business day":
            return calendar.is_business_day(day)
        if self.every == "month":
            first = day.replace(day=1)
            return calendar.is_business_day(day) and not any(
                calendar.is_business_day(first + dt.timedelta(days=i)) for i in range((day - first).days)
            )
        return True


def parse_when(text: str, settings: Settings) -> When:
    """``text`` as a ``When``; a ValueError says what is wrong and which forms there are."""
    filled = re.sub(r"\{\s*(\w+)\s*\}", lambda m: _setting(m.group(1), settings), text)
    words = " ".join(filled.lower().split())
    for every, pattern in _PATTERNS:
        found = pattern.fullmatch(words)
        if found is None:
            continue
        at = _clock_time(found.group("at"))
        weekday = _weekday(found.group("day")) if every == "week" else ""
        return When(every, at, weekday)
    raise ValueError(f"'when: {text}' is not a schedule I know; write one of: " + "; ".join(FORMS))


def _setting(name: str, settings: Settings) -> str:
    if name not in Settings.model_fields:
        raise ValueError(f"{{{name}}} is not a setting; a schedule can use {{digest_time}} and {{weekly_day}}")
    return str(getattr(settings, name))


def _clock_time(text: str) -> dt.time:
    found = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if found is None or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        raise ValueError(f"{text!r} is not a time of day like 07:30")
    return dt.time(int(found.group(1)), int(found.group(2)))


def _weekday(text: str) -> str:
    for short, full in zip(WEEKDAYS, DAY_NAMES, strict=True):
        if text in (short, full):
            return short
    raise ValueError(f"{text!r} is not a day of the week (mon ... sun)")
