"""The scheduled reports: numbers, when they fire, once per day, and how the owner sees them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from backoffice.agent.briefings.notifications import Notifications
from backoffice.agent.briefings.schedule import latest_occurrence, run_due, triggers
from backoffice.tools.book import clock
from backoffice.tools.book.settings import Settings, save_settings
from backoffice.tools.book.store import Store
from backoffice.tools.reports.digest import digest_data
from backoffice.tools.reports.winloss import winloss_data

from .conftest import add_contact, call, lines

NY = clock.BusinessCalendar(range(5))


def _at(store: Store, day: dt.date, hour: int = 10):
    return clock.frozen(dt.datetime.combine(day, dt.time(hour), tzinfo=store.tz))


def _local(store: Store, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=store.tz)


def _lead(store: Store, day: dt.date, name: str, source: str) -> str:
    with _at(store, day):
        n = store.count("contacts") + 1
        c = add_contact(store, name=name, phone=f"555-010-{n:04d}", address=f"{n} Main St")
        return call(store, "create_lead", title=f"{name} job", contact_id=c["contact_id"], source=source)["lead"][
            "lead_id"
        ]


def _job(store: Store, day: dt.date, lead_id: str, amount: float) -> str:
    with _at(store, day):
        call(store, "qualify_lead", lead_id=lead_id)
        return call(store, "convert_lead", lead_id=lead_id, amount=amount)["opportunity"]["opportunity_id"]


def test_winloss_numbers_on_a_known_month(store: Store):
    d = dt.date
    a = _lead(store, d(2026, 10, 1), "Ann Able", "phone_call")
    b = _lead(store, d(2026, 10, 5), "Bob Baker", "referral")
    c = _lead(store, d(2026, 10, 10), "Cy Cole", "email")
    dq = _lead(store, d(2026, 10, 12), "Di Dunn", "email")
    _lead(store, d(2026, 10, 28), "Ed Eve", "web_form")  # still open at the end of the month
    f = _lead(store, d(2026, 9, 20), "Flo Fox", "phone_call")  # September lead, won in November
    job_a, job_b = _job(store, d(2026, 10, 2), a, 2500), _job(store, d(2026, 10, 6), b, 1000)
    job_c, job_f = _job(store, d(2026, 10, 11), c, 900), _job(store, d(2026, 9, 25), f, 400)
    with _at(store, d(2026, 10, 21)):
        call(store, "mark_opportunity_won", opportunity_id=job_a, amount=3000)
    with _at(store, d(2026, 10, 15)):
        call(store, "mark_opportunity_won", opportunity_id=job_b)
    with _at(store, d(2026, 10, 20)):
        call(store, "mark_opportunity_lost", opportunity_id=job_c, reason="price")
    with _at(store, d(2026, 10, 12)):
        call(store, "disqualify_lead", lead_id=dq, reason="budget")
    with _at(store, d(2026, 11, 3)):
        call(store, "mark_opportunity_won", opportunity_id=job_f)

    w = winloss_data(store, "2026-10")
    # won: A ($3,000 after the price change, 20 days from inquiry) and B ($1,000, 10 days); lost: C
    assert (w["won"], w["won_value"], w["lost"], w["lost_value"]) == (2, 4000.0, 1, 900.0)
    assert (w["win_rate"], w["avg_days_to_close"]) == (0.667, 15.0)
    # A-E came in October (E still open); A, B and C became jobs in October (F in September)
    assert (w["new_leads"], w["new_leads_still_open"], w["converted_to_jobs"]) == (5, 1, 3)
    assert (w["disqualified"], w["disqualification_reasons"], w["loss_reasons"]) == (1, {"budget": 1}, {"price": 1})
    assert w["top_sources"] == [
        {"source": "phone_call", "leads": 1, "won": 1},
        {"source": "referral", "leads": 1, "won": 1},
        {"source": "email", "leads": 2, "won": 0},
        {"source": "web_form", "leads": 1, "won": 0},
    ]
    # the default is last month; November has only F's win (44 days from its September 20 inquiry)
    assert winloss_data(store)["month"] == "2026-10"
    nov = winloss_data(store, "2026-11")
    assert (nov["won"], nov["avg_days_to_close"], nov["new_leads"], nov["top_sources"]) == (
        1,
        44.0,
        0,
        [{"source": "phone_call", "leads": 0, "won": 1}],
    )


def test_digest_lists_follow_ups_and_quiet_leads(store: Store):
    c = add_contact(store, phone="555-201-7788")
    call(store, "log_interaction", contact_id=c["contact_id"], body="Call back re: quote", follow_up_date="2026-11-20")
    call(store, "log_interaction", contact_id=c["contact_id"], body="Proposal due", follow_up_date="2026-11-17")
    with _at(store, dt.date(2026, 11, 16)):
        quiet = call(store, "create_lead", title="Sump pump", contact_id=c["contact_id"])["lead"]
    d = digest_data(store)
    due = [(r["topic"], r["overdue_days"]) for r in d["follow_ups"]]
    assert due == [("Proposal due", 3), ("Call back re: quote", 0)]
    assert [(r["lead_id"], r["days_since_activity"]) for r in d["stale_leads"]] == [(quiet["lead_id"], 4)]


def test_report_commands_print_and_give_json(cli, store: Store):
    c = add_contact(store, phone="555-201-7788")
    call(store, "log_interaction", contact_id=c["contact_id"], body="Call back re: quote", follow_up_date="2026-11-20")
    code, screen = cli("digest")
    assert code == 0 and "Morning digest — Friday November 20" in screen and "Call back re: quote" in screen
    code, screen = cli("--json", "pipeline")
    assert code == 0 and json.loads(screen)["from"] == "2026-11-14"
    code, screen = cli("--json", "winloss", "--month", "2026-11")
    assert code == 0 and json.loads(screen)["month"] == "2026-11"
    code, screen = cli("winloss", "--month", "November")
    assert code == 2 and "is not a month like 2026-10" in screen


# ---------------------------------------------------------------------------- when they fire
def test_triggers_keep_local_time_across_the_dst_change():
    s = Settings(timezone="America/New_York", digest_time="07:30")
    digest = triggers(s)["daily_digest"]
    friday = dt.datetime(2026, 10, 30, 8, 0, tzinfo=s.tz)  # EDT, UTC-4; clocks go back Sun Nov 1
    monday = digest.get_next_fire_time(None, friday)
    assert monday.date() == dt.date(2026, 11, 2) and (monday.hour, monday.minute) == (7, 30)
    assert monday.utcoffset() == dt.timedelta(hours=-5)
    before = digest.get_next_fire_time(None, dt.datetime(2026, 10, 30, 6, 0, tzinfo=s.tz))
    assert before.utcoffset() == dt.timedelta(hours=-4) and (before.hour, before.minute) == (7, 30)
    assert monday.astimezone(dt.UTC) - before.astimezone(dt.UTC) == dt.timedelta(days=3, hours=1)  # 25-hour Sunday
    # spring forward (Sun Mar 14, 2027): Monday still at 07:30 local
    spring = digest.get_next_fire_time(None, dt.datetime(2027, 3, 12, 9, 0, tzinfo=s.tz))
    assert spring.date() == dt.date(2027, 3, 15) and spring.hour == 7 and spring.utcoffset() == dt.timedelta(hours=-4)
    pipeline = triggers(s)["weekly_pipeline"].get_next_fire_time(None, friday)
    assert pipeline == monday


def test_winloss_comes_on_the_first_business_day_of_the_month():
    s = Settings(holidays=[dt.date(2027, 2, 1)])
    assert latest_occurrence("winloss", s, dt.datetime(2026, 11, 20, 9, tzinfo=s.tz)).date() == dt.date(2026, 11, 2)
    # Feb 1, 2027 is a holiday: the 2nd
    assert latest_occurrence("winloss", s, dt.datetime(2027, 2, 10, 9, tzinfo=s.tz)).date() == dt.date(2027, 2, 2)
    # a digest due on a holiday does not happen
    assert latest_occurrence("digest", s, dt.datetime(2027, 2, 1, 9, tzinfo=s.tz)).date() == dt.date(2027, 1, 29)


EARLY_DIGEST = """---
name: early
schedule:
  - name: daily_digest
    report: digest
    when: every business day at 06:00
---
"""


def test_an_owner_procedure_that_moves_the_digest_to_six_changes_when_it_is_produced(store: Store, data_dir: Path):
    from backoffice.agent.daemon import Daemon

    tuesday = _local(store, 2026, 11, 17, 6, 30)
    assert run_due(store, "daemon", tuesday) == []  # the shipped digest comes at 07:30
    (data_dir / "procedures").mkdir()
    (data_dir / "procedures" / "early.md").write_text(EARLY_DIGEST)
    assert [n.id for n in run_due(store, "daemon", tuesday)] == ["2026-11-17-digest"]
    assert run_due(store, "daemon", _local(store, 2026, 11, 18, 5, 59)) == []
    # the weekly pipeline stays where the shipped procedure puts it
    assert [n.id for n in run_due(store, "daemon", _local(store, 2026, 11, 23, 6, 0))] == ["2026-11-23-digest"]
    assert [n.id for n in run_due(store, "daemon", _local(store, 2026, 11, 23, 7, 30))] == ["2026-11-23-pipeline"]
    # and the daemon's timer for it fires at six
    timer = Daemon(store).scheduler().get_job("daily_digest").trigger
    assert timer.get_next_fire_time(None, _local(store, 2026, 11, 23, 8, 0)) == _local(store, 2026, 11, 24, 6, 0)


def test_an_owner_procedure_can_add_a_report_on_its_own_day(store: Store, data_dir: Path):
    (data_dir / "procedures").mkdir()
    (data_dir / "procedures" / "friday.md").write_text(
        "---\nname: friday\nschedule:\n  - name: friday_pipeline\n    report: pipeline\n"
        "    when: weekly on Friday at 16:00\n---\n"
    )
    assert [n.id for n in run_due(store, "daemon", _local(store, 2026, 11, 20, 16, 0))] == [
        "2026-11-20-digest",
        "2026-11-20-pipeline",
    ]
    # Monday's pipeline still comes too: one report per day, whichever entry makes it due
    assert [n.id for n in run_due(store, "daemon", _local(store, 2026, 11, 23, 7, 30))] == [
        "2026-11-23-digest",
        "2026-11-23-pipeline",
    ]


@pytest.mark.parametrize(
    ("text", "meaning"),
    [
        ("every business day at {digest_time}", "every business day at 07:30"),
        ("Every  day at 6:05", "every day at 06:05"),
        ("weekly on {weekly_day} at {digest_time}", "weekly on mon at 07:30"),
        ("weekly on Thursday at 17:00", "weekly on thu at 17:00"),
        ("first business day of the month at { digest_time }", "first business day of the month at 07:30"),
    ],
)
def test_schedules_are_written_in_a_few_plain_forms_with_settings_in_braces(text: str, meaning: str):
    from backoffice.agent.briefings.when import parse_when

    assert str(parse_when(text, Settings())) == meaning


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("every morning", "is not a schedule I know"),
        ("every day at 25:00", "'25:00' is not a time of day like 07:30"),
        ("every day at 7", "'7' is not a time of day"),
        ("weekly on someday at 07:00", "'someday' is not a day of the week"),
        ("every day at {report_time}", "{report_time} is not a setting"),
    ],
)
def test_a_schedule_that_is_not_understood_says_why(text: str, words: str):
    from backoffice.agent.briefings.when import parse_when

    with pytest.raises(ValueError) as caught:
        parse_when(text, Settings())
    assert words in str(caught.value)


def _produced(data_dir: Path) -> list[str]:
    """The reports kept for the owner (files in notifications/, or rows of the book's database)."""
    return sorted(n.id for n in Notifications(data_dir).all())


def test_reports_run_once_a_day_and_a_missed_monday_runs_once_after_downtime(store: Store, data_dir: Path):
    # Monday Nov 16: the daemon ran as usual
    assert [n.id for n in run_due(store, "daemon", _local(store, 2026, 11, 16, 7, 31))] == [
        "2026-11-16-digest",
        "2026-11-16-pipeline",
    ]
    # before the report time nothing new is due; the same morning again gives nothing
    assert run_due(store, "daemon", _local(store, 2026, 11, 17, 7, 0)) == []
    assert run_due(store, "daemon", _local(store, 2026, 11, 16, 9, 0)) == []
    # Friday Nov 20 runs; the machine is then off until Wednesday Nov 25 at 09:00
    run_due(store, "daemon", _local(store, 2026, 11, 20, 8, 0))
    wednesday = _local(store, 2026, 11, 25, 9, 0)
    produced = [n.id for n in run_due(store, "daemon", wednesday)]
    # Monday's pipeline is produced late, once; Monday's and Tuesday's digests are superseded by today's
    assert produced == ["2026-11-25-digest", "2026-11-23-pipeline"]
    assert run_due(store, "daemon", wednesday) == []
    assert run_due(store, "chat", wednesday + dt.timedelta(hours=3), early_digest=True) == []
    assert _produced(data_dir) == [
        "2026-11-16-digest",
        "2026-11-16-pipeline",
        "2026-11-20-digest",
        "2026-11-23-pipeline",
        "2026-11-25-digest",
    ]


def test_a_fresh_install_does_not_open_with_old_reports(store: Store):
    # Friday, no report ever produced: today's digest only (not last Monday's pipeline or October's win/loss)
    assert [n.id for n in run_due(store, "chat", early_digest=True)] == ["2026-11-20-digest"]


def test_weekend_and_holiday_mornings_have_no_digest(data_dir: Path):
    store = Store(data_dir, settings=Settings(holidays=[dt.date(2026, 11, 26)]))
    assert run_due(store, "daemon", _local(store, 2026, 11, 21, 9, 0)) == []  # Saturday
    assert run_due(store, "chat", _local(store, 2026, 11, 26, 9, 0), early_digest=True) == []  # Thanksgiving
    store.close()


def test_two_producers_racing_for_the_same_report_make_one(store: Store, data_dir: Path):
    from concurrent.futures import ThreadPoolExecutor

    moment = _local(store, 2026, 11, 20, 8, 0)
    stores = [Store(data_dir) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda s: run_due(s, "daemon", moment), stores))
    assert sum(len(r) for r in results) == 1 and _produced(data_dir) == ["2026-11-20-digest"]
    for s in stores:
        s.close()


# ---------------------------------------------------------------------------- delivery
def test_chat_shows_what_the_daemon_produced_once(cli, store: Store, data_dir: Path):
    c = add_contact(store, phone="555-201-7788")
    call(store, "log_interaction", contact_id=c["contact_id"], body="Call back re: quote", follow_up_date="2026-11-20")
    run_due(store, "daemon", _local(store, 2026, 11, 16, 8, 0))  # Monday's reports, made by the daemon
    run_due(store, "daemon", _local(store, 2026, 11, 20, 8, 0))
    code, screen = cli("chat", stdin=lines("quit"))
    assert code == 0
    assert "From the daemon" in screen and "Morning digest — Friday November 20" in screen
    assert "Call back re: quote" in screen and "Pipeline — 2026-11-16" in screen
    assert "Morning digest — Monday November 16" not in screen  # superseded: counted instead
    assert "1 older item(s) you have not seen" in screen
    code, screen = cli("chat", stdin=lines("quit"))
    assert "Morning digest" not in screen and "Pipeline" not in screen


def test_chat_makes_todays_digest_when_no_daemon_ran(cli, data_dir: Path):
    code, screen = cli("chat", stdin=lines("quit"))
    assert "Morning digest — Friday November 20" in screen and "From the daemon" not in screen
    assert Notifications(data_dir).exists("digest", dt.date(2026, 11, 20))
    [note] = [n for n in Notifications(data_dir).all() if n.id == "2026-11-20-digest"]
    assert note.origin == "chat" and note.data["follow_ups"] == []


def test_reports_are_emailed_to_the_owner_only_when_asked_and_connected(store: Store, data_dir: Path, services):
    from email.message import EmailMessage

    from backoffice.tools.mail import outbox as mail

    sent: list[EmailMessage] = []

    class Connected:
        connected = True

        def send(self, message: EmailMessage) -> mail.Delivery:
            sent.append(message)
            return mail.Delivery(True, "gmail-1", "sent")

    services.mailer = lambda d: Connected()
    run_due(store, "daemon", _local(store, 2026, 11, 16, 8, 0))
    assert sent == []  # email_reports is off by default
    save_settings(data_dir, Settings(email_reports=True, owner_email="owner@plumbing.test"))
    store2 = Store(data_dir, services=services)
    run_due(store2, "daemon", _local(store2, 2026, 11, 17, 8, 0))
    assert [(m["To"], m["Subject"]) for m in sent] == [
        ("owner@plumbing.test", "My Business: Morning digest — Tuesday November 17")
    ]
    assert "Morning digest" in sent[0].get_content()
    # not connected: the report is still produced, nothing lands in the customer outbox
    services.mailer = None
    run_due(store2, "daemon", _local(store2, 2026, 11, 18, 8, 0))
    assert len(sent) == 1 and not (data_dir / "outbox").exists()
    assert Notifications(data_dir).exists("digest", dt.date(2026, 11, 18))
    store2.close()


def test_offline_chat_answers_report_requests(cli, store: Store):
    code, screen = cli("ask", "how did we do last month?")
    assert code == 0 and "Win/loss — October 2026" in screen
    code, screen = cli("ask", "win/loss for september")
    assert "Win/loss — September 2026" in screen
    code, screen = cli("ask", "morning digest")
    assert "Morning digest — Friday November 20" in screen


def test_after_a_loss_the_owner_can_ask_for_a_reminder_months_out(cli, store: Store):
    lead = _lead(store, dt.date(2026, 11, 2), "Dana Reyes", "phone_call")
    _job(store, dt.date(2026, 11, 3), lead, 1200)
    code, screen = cli("chat", stdin=lines("we lost the Dana Reyes job, price", "yes, in 6 months", "quit"))
    assert "Reminder set for Thu May 20, 2027" in screen
    rows = [r for r in digest_data(store, dt.date(2027, 5, 20))["follow_ups"]]
    assert [r["topic"] for r in rows] == ["Check back about Dana Reyes job"]
    assert not any(r["topic"].startswith("Check back") for r in digest_data(store)["follow_ups"])


@pytest.mark.parametrize(
    "text, month",
    [
        ("how did we do last month", "2026-10"),
        ("win/loss this month", "2026-11"),
        ("win loss for December", "2025-12"),
        ("win/loss for March 2026", "2026-03"),
        ("win/loss 2026-07", "2026-07"),
        ("win/loss", None),
    ],
)
def test_report_month_in_plain_words(text: str, month: str | None):
    from backoffice.agent.planners.offline.understand import find_month

    assert find_month(text, dt.date(2026, 11, 20)) == month
