"""The one clock. Everything that asks "what time is it?" asks here.

``BACKOFFICE_NOW`` (an ISO timestamp; without an offset it is read in the business time zone)
pins the clock for tests, demos and checks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from backoffice.tools.errors import ConfigError

UTC = dt.UTC


_frozen: dt.datetime | None = None


@contextlib.contextmanager
def frozen(moment: dt.datetime) -> Iterator[None]:
    """Pin the clock inside a block (used to date the sample business; tests use BACKOFFICE_NOW)."""
    global _frozen
    previous, _frozen = _frozen, moment
    try:
        yield
    finally:
        _frozen = previous


def now(tz: ZoneInfo | None = None) -> dt.datetime:
    """The current time, timezone-aware, in ``tz`` (UTC if not given)."""
    zone = tz or UTC
    if _frozen is not None:
        return _frozen.astimezone(zone)
    pinned = os.environ.get("BACKOFFICE_NOW")
    if pinned:
        try:
            value = dt.datetime.fromisoformat(pinned.strip())
        except ValueError as exc:
            raise ConfigError(f"BACKOFFICE_NOW={pinned!r} is not an ISO timestamp (e.g. 2026-11-23T08:00:00)") from exc
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        return value.astimezone(zone)
    return dt.datetime.now(zone)


def wall_now(tz: ZoneInfo | None = None) -> dt.datetime:
    """The machine's real time, for timers (the scheduler's next run) that run on real seconds
    whatever ``BACKOFFICE_NOW`` says. Business rules ask ``now()``."""
    return dt.datetime.now(tz or UTC)


def today(tz: ZoneInfo | None = None) -> dt.date:
    return now(tz).date()


def stamp(moment: dt.datetime) -> str:
    """How timestamps are stored: ISO 8601 with offset, seconds precision."""
    return moment.isoformat(timespec="seconds")


def parse_stamp(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class BusinessCalendar:
    """Which days the business works, for "3 business days" style rules."""

    def __init__(self, weekdays: Iterable[int], holidays: Iterable[dt.date] = ()):
        self.weekdays = frozenset(weekdays)
        self.holidays = frozenset(holidays)
        if not self.weekdays:
            raise ConfigError("at least one business day is needed")

    def is_business_day(self, day: dt.date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays

    def business_days_between(self, start: dt.date, end: dt.date) -> int:
        """Business days after ``start`` up to and including ``end`` (0 if end <= start)."""
        if end <= start:
            return 0
        # whole weeks in one step so a 100k-lead scan stays cheap
        days = (end - start).days
        weeks, rest = divmod(days, 7)
        count = weeks * len(self.weekdays)
        day = start + dt.timedelta(days=weeks * 7)
        for _ in range(rest):
            day += dt.timedelta(days=1)
            if day.weekday() in self.weekdays:
                count += 1
        count -= sum(1 for h in self.holidays if start < h <= end and h.weekday() in self.weekdays)
        return count

    def add_business_days(self, start: dt.date, n: int) -> dt.date:
        day = start
        while n > 0:
            day += dt.timedelta(days=1)
            if self.is_business_day(day):
                n -= 1
        return day
