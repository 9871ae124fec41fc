"""When the owner's reports are due, and producing them once.

When each is due is written once, as APScheduler cron triggers in the business time zone
(``triggers``); the daemon fires them, and ``run_due`` works out from the same triggers which
report is due now and has not been produced yet. So a report is produced once for its day
whoever gets there first: the cron job, the daemon's catch-up after downtime, or the chat opening
in the morning when no daemon runs."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from backoffice.agent.briefings.notifications import Notification, Notifications, report_id
from backoffice.agent.briefings.render import digest_reply, digest_title, pipeline_reply, winloss_reply
from backoffice.agent.reply import Reply
from backoffice.tools.book import clock
from backoffice.tools.book.settings import Settings
from backoffice.tools.book.store import Store
from backoffice.tools.mail.mailers import mailer_for
from backoffice.tools.reports.digest import digest_data
from backoffice.tools.reports.pipeline import pipeline_data
from backoffice.tools.reports.winloss import previous_month, winloss_data

log = logging.getLogger("backoffice.reports")


KINDS = ("digest", "pipeline", "winloss")


@dataclass(frozen=True)
class Report:
    title: Callable[[dt.date], str]
    build: Callable[[Store, dt.date], dict[str, Any]]
    render: Callable[[dict[str, Any]], Reply]


REPORTS: dict[str, Report] = {
    "digest": Report(digest_title, digest_data, digest_reply),
    "pipeline": Report(lambda day: f"Weekly pipeline — {day:%B} {day.day}", pipeline_data, pipeline_reply),
    "winloss": Report(
        lambda day: f"Win/loss for {dt.date.fromisoformat(previous_month(day) + '-01'):%B %Y}",
        lambda store, day: winloss_data(store, previous_month(day)),
        winloss_reply,
    ),
}


# ---------------------------------------------------------------------------- when
def triggers(settings: Settings) -> dict[str, CronTrigger]:
    """The cron triggers, in the business time zone. The digest fires on business weekdays, the
    pipeline on ``weekly_day``, the win/loss on the first days of a month (``wanted`` keeps only
    the first business day)."""
    at = settings.report_time
    days = ",".join(settings.business_days)
    common: dict[str, Any] = {"hour": at.hour, "minute": at.minute, "timezone": settings.tz}
    return {
        "digest": CronTrigger(day_of_week=days, **common),
        "pipeline": CronTrigger(day_of_week=settings.weekly_day, **common),
        "winloss": CronTrigger(day="1-14", day_of_week=days, **common),
    }


def wanted(kind: str, day: dt.date, calendar: clock.BusinessCalendar) -> bool:
    """Whether a trigger's firing on ``day`` is a real occurrence (holidays are only known here)."""
    if kind == "digest":
        return calendar.is_business_day(day)
    if kind == "winloss":
        first = day.replace(day=1)
        return calendar.is_business_day(day) and not any(
            calendar.is_business_day(first + dt.timedelta(days=i)) for i in range((day - first).days)
        )
    return True


def latest_occurrence(kind: str, settings: Settings, now: dt.datetime) -> dt.datetime | None:
    """The last time ``kind`` was due at or before ``now`` (within the last 40 days)."""
    trigger = triggers(settings)[kind]
    calendar = settings.calendar
    latest = None
    moment = trigger.get_next_fire_time(None, now - dt.timedelta(days=40))
    while moment is not None and moment <= now:
        if wanted(kind, moment.date(), calendar):
            latest = moment
        moment = trigger.get_next_fire_time(moment, moment + dt.timedelta(seconds=1))
    return latest


def due_day(kind: str, store: Store, now: dt.datetime, early_digest: bool = False) -> dt.date | None:
    """The day whose ``kind`` report should exist by ``now``.

    A missed digest is never produced late: today's replaces it. A missed pipeline or win/loss is
    produced once, late, but only if the schedule was running before (a report of that kind
    exists), so a fresh install does not open with last month's numbers."""
    today = now.date()
    if kind == "digest" and early_digest and store.calendar.is_business_day(today):
        return today
    moment = latest_occurrence(kind, store.settings, now)
    if moment is None:
        return None
    day = moment.date()
    if day != today and (kind == "digest" or not Notifications(store.directory).any(kind)):
        return None
    return day


# ---------------------------------------------------------------------------- producing
def produce(store: Store, kind: str, day: dt.date, origin: str) -> Notification | None:
    """Build and record ``kind`` for ``day``; None if it was already produced."""
    notes = Notifications(store.directory)
    if notes.exists(kind, day):
        return None
    report = REPORTS[kind]
    data = report.build(store, day)
    reply = report.render(data)
    note = Notification(
        id=report_id(kind, day),
        kind=kind,
        day=day.isoformat(),
        title=report.title(day),
        created_at=clock.stamp(store.now()),
        origin=origin,
        blocks=[asdict(b) for b in reply.blocks],
        data=data,
    )
    if not notes.add(note):
        return None
    log.info("produced %s (%s)", note.title, origin)
    email_to_owner(store, note)
    return note


def run_due(
    store: Store,
    origin: str,
    now: dt.datetime | None = None,
    early_digest: bool = False,
    kinds: tuple[str, ...] = KINDS,
) -> list[Notification]:
    """Produce every report that is due by ``now`` and not produced yet, in order."""
    moment = now or store.now()
    produced = []
    for kind in kinds:
        day = due_day(kind, store, moment, early_digest)
        if day is not None and (note := produce(store, kind, day, origin)) is not None:
            produced.append(note)
    return produced


def email_to_owner(store: Store, note: Notification) -> None:
    """Reports go to the owner's own address when they asked for it and Gmail is connected. This
    is not a customer message, so it needs no approval."""
    settings = store.settings
    if not settings.email_reports:
        return
    if not settings.owner_email:
        log.warning("email_reports is on but owner_email is not set; %s not emailed", note.id)
        return
    mailer = mailer_for(store)
    if not getattr(mailer, "connected", False):
        log.warning("email_reports is on but no mail account is connected; %s not emailed", note.id)
        return
    message = EmailMessage()
    message["To"] = message["From"] = settings.owner_email
    message["Subject"] = f"{settings.business_name}: {note.title}"
    message["Message-ID"] = f"<bo-report-{note.id}@backoffice.local>"
    message.set_content(note.reply().plain() + "\n")
    try:
        delivery = mailer.send(message)
        log.info("emailed %s to the owner: %s", note.id, delivery.where)
    except Exception as exc:  # a mail problem must never lose the report itself
        log.error("could not email %s to the owner: %s", note.id, exc)
