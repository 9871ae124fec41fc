"""When the owner's reports are due, and producing them once.

When each is due is written in the procedure files' ``schedule`` entries (``when.py`` has the
words); ``schedule_of`` turns them into ``Scheduled`` reports, the daemon sets a timer for each
(``triggers``), and ``run_due`` works out from the same entries which report is due now and has
not been produced yet. So a report is produced once for its day whoever gets there first: the
daemon's timer, its catch-up after downtime, or the chat opening in the morning when no daemon
runs."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from difflib import get_close_matches
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backoffice.agent.briefings.notifications import Notification, Notifications, report_id
from backoffice.agent.briefings.render import digest_reply, digest_title, pipeline_reply, winloss_reply
from backoffice.agent.briefings.when import When, parse_when
from backoffice.agent.procedures import Procedure, load_procedures, procedure_dirs
from backoffice.agent.reply import Reply
from backoffice.tools.book import clock
from backoffice.tools.book.settings import Settings
from backoffice.tools.book.store import Store
from backoffice.tools.mail.mailers import mailer_for
from backoffice.tools.reports.digest import digest_data
from backoffice.tools.reports.pipeline import pipeline_data
from backoffice.tools.reports.winloss import previous_month, winloss_data

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

log = logging.getLogger("backoffice.reports")


@dataclass(frozen=True)
class Report:
    title: Callable[[dt.date], str]
    build: Callable[[Store, dt.date], dict[str, Any]]
    render: Callable[[dict[str, Any]], Reply]
    # A report of the book as it stands (the digest): a missed one is superseded by today's rather
    # than produced late, and the chat may make today's before its time. A report of a period
    # (a week, a month) is produced once, late, when it was missed.
    current: bool = False


REPORTS: dict[str, Report] = {
    "digest": Report(digest_title, digest_data, digest_reply, current=True),
    "pipeline": Report(lambda day: f"Weekly pipeline — {day:%B} {day.day}", pipeline_data, pipeline_reply),
    "winloss": Report(
        lambda day: f"Win/loss for {dt.date.fromisoformat(previous_month(day) + '-01'):%B %Y}",
        lambda store, day: winloss_data(store, previous_month(day)),
        winloss_reply,
    ),
}
KINDS = tuple(REPORTS)


# ---------------------------------------------------------------------------- when
@dataclass(frozen=True)
class Scheduled:
    """A report on the schedule: its name (the daemon's timer), the report, when, and where it was
    written (file:line)."""

    name: str
    report: str
    when: When
    source: str

    def __str__(self) -> str:
        return f"{self.name}: {self.report}, {self.when}"


def schedule_of(procedures: list[Procedure], settings: Settings) -> tuple[list[Scheduled], list[str]]:
    """The procedures' schedule entries, in file order; a later entry with the name of an earlier
    one takes its place. An entry naming no report, or with a ``when`` that is not understood, is
    left out and reported with its file and line."""
    entries: dict[str, Scheduled] = {}
    problems: list[str] = []
    for proc in procedures:
        for i, entry in enumerate(proc.schedule):
            if entry.report not in REPORTS:
                hint = get_close_matches(entry.report, KINDS, 1)
                guess = f" (did you mean {hint[0]!r}?)" if hint else ""
                message = f"schedule {entry.name!r}: there is no report {entry.report!r}{guess}; the reports are "
                problems.append(proc.problem(("schedule", i, "report"), message + ", ".join(KINDS)))
                continue
            try:
                when = parse_when(entry.when, settings)
            except ValueError as exc:
                problems.append(proc.problem(("schedule", i, "when"), f"schedule {entry.name!r}: {exc}"))
                continue
            entries[entry.name] = Scheduled(entry.name, entry.report, when, proc.place(("schedule", i)))
    return list(entries.values()), problems


def load_schedule(settings: Settings, directory: Path | None = None) -> list[Scheduled]:
    """The schedule the procedure files give: the shipped ones, and the owner's in ``directory``."""
    procedures, _ = load_procedures(procedure_dirs(directory))
    return schedule_of(procedures, settings)[0]


def triggers(settings: Settings, schedule: list[Scheduled] | None = None) -> dict[str, CronTrigger]:
    """The daemon's timers, by schedule entry name, in the business time zone."""
    entries = load_schedule(settings) if schedule is None else schedule
    return {entry.name: entry.when.trigger(settings) for entry in entries}


def report_times(schedule: list[Scheduled]) -> str:
    """The times of day reports are due, for the daemon's banner: '07:30' or '06:00, 07:30'."""
    return ", ".join(sorted({f"{entry.when.at:%H:%M}" for entry in schedule})) or "never (nothing is scheduled)"


def occurrences(entry: Scheduled, settings: Settings, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    """When ``entry`` is due between ``start`` and ``end`` (both included)."""
    trigger = entry.when.trigger(settings)
    calendar = settings.calendar
    moment = trigger.get_next_fire_time(None, start)
    while moment is not None and moment <= end:
        if entry.when.wanted(moment.date(), calendar):
            yield moment
        moment = trigger.get_next_fire_time(moment, moment + dt.timedelta(seconds=1))


def latest_occurrence(
    kind: str, settings: Settings, now: dt.datetime, schedule: list[Scheduled] | None = None
) -> dt.datetime | None:
    """The last time a ``kind`` report was due at or before ``now`` (within the last 40 days)."""
    entries = load_schedule(settings) if schedule is None else schedule
    since = now - dt.timedelta(days=40)
    moments = [m for e in entries if e.report == kind for m in occurrences(e, settings, since, now)]
    return max(moments, default=None)


def due_day(
    kind: str, store: Store, now: dt.datetime, schedule: list[Scheduled], early_digest: bool = False
) -> dt.date | None:
    """The day whose ``kind`` report should exist by ``now``.

    A missed current report (the digest) is never produced late: today's replaces it, and the chat
    (``early_digest``) may make today's before its time. A missed report of a period is produced
    once, late, but only if the schedule was running before (a report of that kind exists), so a
    fresh install does not open with last month's numbers."""
    tz = store.settings.tz
    now = now.astimezone(tz)
    today = now.date()
    current = REPORTS[kind].current
    if current and early_digest:
        start, end = (dt.datetime.combine(today, t, tzinfo=tz) for t in (dt.time.min, dt.time.max))
        if any(next(occurrences(e, store.settings, start, end), None) for e in schedule if e.report == kind):
            return today
    moment = latest_occurrence(kind, store.settings, now, schedule)
    if moment is None:
        return None
    day = moment.date()
    if day != today and (current or not Notifications(store.directory).any(kind)):
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
    kinds: tuple[str, ...] | None = None,
    schedule: list[Scheduled] | None = None,
) -> list[Notification]:
    """Produce every report that is due by ``now`` and not produced yet, in schedule order.
    ``schedule`` defaults to what the procedure files (shipped and the owner's) say."""
    moment = now or store.now()
    entries = load_schedule(store.settings, store.directory) if schedule is None else schedule
    produced = []
    for kind in kinds or tuple(dict.fromkeys(e.report for e in entries)):
        day = due_day(kind, store, moment, entries, early_digest)
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
