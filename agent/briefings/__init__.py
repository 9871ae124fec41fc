"""The owner's scheduled reports: the morning digest, the weekly pipeline and the monthly win/loss.

When each is due is written once, as APScheduler cron triggers in the business time zone
(``triggers``); the daemon fires them, and ``run_due`` works out from the same triggers which
report is due now and has not been produced yet. So a report is produced once for its day
whoever gets there first: the cron job, the daemon's catch-up after downtime, or the chat opening
in the morning when no daemon runs.

"Produced" means a file ``<data dir>/notifications/<day>-<kind>.json``, created under a lock.
That file is the run record (a second attempt for the same day finds it and stops) and the
delivery: the chat shows the owner the ones not seen yet.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from backoffice.agent import views
from backoffice.agent.reply import Block, Reply
from backoffice.tools.book import clock
from backoffice.tools.book.normalize import money
from backoffice.tools.book.settings import Settings
from backoffice.tools.book.storage import atomic_write_bytes, file_lock
from backoffice.tools.book.store import Store
from backoffice.tools.mail.mailers import mailer_for
from backoffice.tools.reports.digest import digest_data
from backoffice.tools.reports.pipeline import pipeline_data
from backoffice.tools.reports.winloss import previous_month, winloss_data

log = logging.getLogger("backoffice.reports")

KINDS = ("digest", "pipeline", "winloss")
FOLDER = "notifications"


# ---------------------------------------------------------------------------- rendering
def digest_title(day: dt.date) -> str:
    return f"Morning digest — {day:%A %B} {day.day}"


def digest_reply(d: dict[str, Any]) -> Reply:
    day = dt.date.fromisoformat(d["date"])
    reply = Reply(planner="reports").say(f"**{digest_title(day)}**")
    if d["follow_ups"]:
        views.follow_ups(reply, d["follow_ups"])
    if d["stale_leads"]:
        views.stale_leads(reply, d["stale_leads"])
        first = d["stale_leads"][0]["lead_id"]
        reply.say(f'Want me to draft a follow-up? Say "follow up on {first}" (nothing is sent without your yes).')
    if not d["follow_ups"] and not d["stale_leads"]:
        reply.say(f"Nothing due on {day:%A}, and every open lead has had recent activity.")
    return reply


def pipeline_reply(d: dict[str, Any]) -> Reply:
    reply = Reply(planner="reports")
    lines = [
        f"**Pipeline — {d['to']}** (the 7 days from {d['from']})",
        f"- New leads this week: {d['new_leads']}",
        f"- Leads in follow-up: {d['in_follow_up']} (avg age: {d['in_follow_up_avg_age_days']} days)",
        f"- Proposals out: {d['proposals_out']} (total value: {money(d['proposals_value'])})",
        f"- Won this week: {d['won']} ({money(d['won_value'])})",
        f"- Lost this week: {d['lost']}",
    ]
    if d["oldest_open_lead"]:
        o = d["oldest_open_lead"]
        lines.append(f"\nOldest open lead: {o['title']} ({o['contact']}) — {o['age_days']} days, stage: {o['stage']}")
    reply.say("\n".join(lines))
    if d["past_expected_close"]:
        rows = [[r["title"], r["contact"], r["expected_close_date"]] for r in d["past_expected_close"]]
        reply.table("Past their expected close date", ["lead or job", "contact", "expected"], rows)
    return reply


def winloss_reply(d: dict[str, Any]) -> Reply:
    reply = Reply(planner="reports")
    month = dt.date.fromisoformat(d["from"])
    rate = f"{d['win_rate']:.0%}" if d["win_rate"] is not None else "no jobs decided"
    days = f"{d['avg_days_to_close']:g} days" if d["avg_days_to_close"] is not None else "no jobs won"
    lines = [
        f"**Win/loss — {month:%B %Y}**",
        f"- Won: {d['won']} ({money(d['won_value'])}) · Lost: {d['lost']} ({money(d['lost_value'])}) "
        f"· Win rate: {rate}",
        f"- Leads disqualified: {d['disqualified']}",
        f"- New leads: {d['new_leads']} ({d['new_leads_still_open']} still open) · "
        f"turned into jobs this month: {d['converted_to_jobs']}",
        f"- Average time from first inquiry to a won job: {days}",
    ]
    reasons = (("Why jobs were lost", "loss_reasons"), ("Why leads were disqualified", "disqualification_reasons"))
    for label, key in reasons:
        if d[key]:
            lines.append(f"- {label}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in d[key].items()))
    reply.say("\n".join(lines))
    if d["top_sources"]:
        rows = [[s["source"].replace("_", " "), s["leads"], s["won"]] for s in d["top_sources"]]
        reply.table("Top sources", ["source", "new leads", "jobs won"], rows)
    return reply


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


# ---------------------------------------------------------------------------- the record
@dataclass
class Notification:
    id: str
    kind: str
    day: str
    title: str
    created_at: str
    origin: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def reply(self) -> Reply:
        return Reply(planner="reports", blocks=[Block(**b) for b in self.blocks])


def report_id(kind: str, day: dt.date) -> str:
    return f"{day.isoformat()}-{kind}"


class Notifications:
    """One JSON file per produced report in ``<data dir>/notifications/``."""

    def __init__(self, data_dir: Path):
        self.directory = data_dir / FOLDER

    def exists(self, kind: str, day: dt.date) -> bool:
        return (self.directory / f"{report_id(kind, day)}.json").exists()

    def add(self, note: Notification) -> bool:
        """Store ``note`` unless one with its id exists (a report's id is its day and kind); True if stored."""
        path = self.directory / f"{note.id}.json"
        with file_lock(self.directory / ".lock"):
            if path.exists():
                return False
            atomic_write_bytes(path, json.dumps(asdict(note), indent=1, default=str).encode("utf-8"))
        return True

    def any(self, kind: str) -> bool:
        return next(self.directory.glob(f"*-{kind}.json"), None) is not None

    def all(self) -> list[Notification]:
        notes = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                notes.append(Notification(**json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError) as exc:
                log.warning("skipping unreadable notification %s: %s", path, exc)
        return notes


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
