"""The business settings kept beside the book (where the book lives: ``location.py``).

Settings are a small JSON file, ``settings.json`` in the data dir. Everything has a sensible
default, so a fresh data dir works without one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from backoffice.tools.book.clock import BusinessCalendar
from backoffice.tools.book.datafiles import private_dir, read_object
from backoffice.tools.book.storage import atomic_write_bytes
from backoffice.tools.errors import ConfigError

SETTINGS_FILE = "settings.json"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Where "12/3" is December 3rd: the United States and its territories, Canada (where both orders are
# common: set date_order if the owner writes the day first), the Philippines, Micronesia, the
# Marshall Islands, Palau, and the year-first countries whose short dates are month/day (China,
# Japan, Korea, Taiwan). Elsewhere "12/3" is the 12th of March.
MONTH_FIRST_REGIONS = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "UM", "CA", "PH", "FM", "MH", "PW",
                                 "CN", "JP", "KR", "TW"})  # fmt: skip


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    business_name: str = "My Business"
    owner_name: str = "Owner"
    owner_email: str | None = None
    timezone: str = "America/New_York"
    business_days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    holidays: list[dt.date] = Field(default_factory=list)
    default_phone_region: str = "US"
    # How the owner writes a date in numbers: month_first (12/3 = Dec 3) or day_first (12/3 = 3 Mar).
    # Left out, it follows default_phone_region; read it through ``month_first``.
    date_order: Literal["month_first", "day_first"] | None = None
    stale_after_business_days: int = Field(default=3, ge=1, le=60)
    # Auto-send covers follow-up messages to customers only. Winning a deal and QuickBooks
    # always ask, whatever this says.
    auto_send_follow_ups: bool = False
    # When the morning reports are produced (business time zone); the weekly pipeline comes on
    # weekly_day, the win/loss summary on the first business day of the month.
    digest_time: str = "07:30"
    weekly_day: str = "mon"
    # Reports are also emailed to owner_email when this is on and Gmail is connected.
    email_reports: bool = False
    gmail_poll_minutes: int = Field(default=5, ge=1, le=1440)
    # The book on a PostgreSQL server instead of the files here (BACKOFFICE_DATABASE_URL wins).
    database_url: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use a name like 'America/Chicago')") from exc
        return value

    @field_validator("business_days")
    @classmethod
    def _weekday_names(cls, value: list[str]) -> list[str]:
        days = [d.strip().lower()[:3] for d in value]
        bad = [d for d in days if d not in WEEKDAYS]
        if bad or not days:
            raise ValueError(f"business days must be among {', '.join(WEEKDAYS)}; got {value}")
        return days

    @field_validator("digest_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        try:
            return dt.time.fromisoformat(value.strip()).strftime("%H:%M")
        except ValueError as exc:
            raise ValueError(f"digest_time must be a time like 07:30; got {value!r}") from exc

    @field_validator("weekly_day")
    @classmethod
    def _weekday(cls, value: str) -> str:
        day = value.strip().lower()[:3]
        if day not in WEEKDAYS:
            raise ValueError(f"weekly_day must be one of {', '.join(WEEKDAYS)}; got {value!r}")
        return day

    @property
    def month_first(self) -> bool:
        """Whether a numeric date such as 12/3 puts the month first (December 3rd) for this business."""
        if self.date_order is not None:
            return self.date_order == "month_first"
        return self.default_phone_region.strip().upper() in MONTH_FIRST_REGIONS

    @property
    def report_time(self) -> dt.time:
        return dt.time.fromisoformat(self.digest_time)

    @property
    def calendar(self) -> BusinessCalendar:
        return BusinessCalendar(self.business_weekdays, self.holidays)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def business_weekdays(self) -> set[int]:
        return {WEEKDAYS.index(d) for d in self.business_days}


def load_settings(directory: Path) -> Settings:
    path = directory / SETTINGS_FILE
    raw = read_object(path, "your business settings")
    if raw is None:
        return Settings()
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path} has a bad setting: {problems}") from exc


def save_settings(directory: Path, settings: Settings) -> None:
    private_dir(directory)
    text = settings.model_dump_json(indent=2) + "\n"
    atomic_write_bytes(directory / SETTINGS_FILE, text.encode("utf-8"))
