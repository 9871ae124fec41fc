"""Reports on a fixed clock. Friday 2026-11-20 is the reference day."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from backoffice.tools.book import clock
from backoffice.tools.book.settings import Settings
from backoffice.tools.book.store import Store
from backoffice.tools.reports.digest import follow_ups_due_rows, stale_lead_rows
from backoffice.tools.reports.pipeline import pipeline_data

from .conftest import add_contact, call

FRI = dt.date(2026, 11, 20)


def _at(store: Store, day: dt.date, hour: int = 10):
    return clock.frozen(dt.datetime.combine(day, dt.time(hour), tzinfo=store.tz))


def _touched_friday_lead(store: Store, status_call: bool = True) -> str:
    with _at(store, FRI - dt.timedelta(days=7)):
        c = add_contact(store, phone="555-201-7788")
        lead = call(store, "create_lead", title="Water heater", contact_id=c["contact_id"])["lead"]
    with _at(store, FRI):
        call(
            store,
            "log_interaction",
            type="phone_call",
            lead_id=lead["lead_id"],
            body="Left a message",
            outcome="left_voicemail",
        )
    return lead["lead_id"]


@pytest.mark.parametrize(
    "day, stale",
    [
        (FRI + dt.timedelta(days=3), False),  # Monday: 1 business day
        (FRI + dt.timedelta(days=4), False),  # Tuesday: 2
        (FRI + dt.timedelta(days=5), True),  # Wednesday: 3
    ],
)
def test_lead_touched_friday_goes_stale_on_wednesday(store: Store, day: dt.date, stale: bool):
    lead_id = _touched_friday_lead(store)
    rows = stale_lead_rows(store, day)
    assert ([r["lead_id"] for r in rows] == [lead_id]) is stale
    if stale:
        assert rows[0]["days_since_activity"] == 5 and rows[0]["last_touchpoint"] == "Left a message"


def test_holidays_do_not_count_as_business_days(data_dir):
    settings = Settings(holidays=[dt.date(2026, 11, 25)])  # the Wednesday
    store = Store(data_dir, settings=settings)
    _touched_friday_lead(store)
    assert stale_lead_rows(store, FRI + dt.timedelta(days=5)) == []
    assert len(stale_lead_rows(store, FRI + dt.timedelta(days=6))) == 1


@pytest.mark.parametrize("action", ["disqualify", "convert"])
def test_disqualified_and_converted_leads_are_never_stale(store: Store, action: str):
    lead_id = _touched_friday_lead(store)
    call(store, "update_contact", contact_id="C-1", address="14 Oak St")
    if action == "disqualify":
        call(store, "disqualify_lead", lead_id=lead_id, reason="budget")
    else:
        call(store, "qualify_lead", lead_id=lead_id)
        if action == "convert":
            call(store, "convert_lead", lead_id=lead_id)
    assert stale_lead_rows(store, FRI + dt.timedelta(days=30)) == []


def test_follow_ups_due_today_and_overdue(store: Store):
    c = add_contact(store, phone="555-201-7788")
    call(store, "log_interaction", contact_id=c["contact_id"], body="Call back re: quote", follow_up_date="2026-11-20")
    call(store, "log_interaction", contact_id=c["contact_id"], body="Proposal due", follow_up_date="2026-11-18")
    call(store, "log_interaction", contact_id=c["contact_id"], body="Next week", follow_up_date="2026-11-27")
    done = call(store, "log_interaction", contact_id=c["contact_id"], body="Done one", follow_up_date="2026-11-20")
    call(store, "complete_follow_up", interaction_id=done["interaction"]["interaction_id"])
    rows = follow_ups_due_rows(store)
    assert [(r["topic"], r["overdue_days"]) for r in rows] == [("Proposal due", 2), ("Call back re: quote", 0)]
    assert [r["topic"] for r in follow_ups_due_rows(store, include_overdue=False)] == ["Call back re: quote"]


def test_pipeline_numbers_on_a_known_book(store: Store):
    week_ago = FRI - dt.timedelta(days=10)
    with _at(store, week_ago):
        old = call(
            store,
            "record_inquiry",
            name="Old Lead",
            phone="555-000-0001",
            address="1 A St",
            description="Old inquiry",
            estimated_value=100,
        )["lead"]
        job = call(
            store,
            "record_inquiry",
            name="Won Guy",
            phone="555-000-0002",
            address="2 B St",
            description="Boiler",
            estimated_value=2000,
        )["lead"]
        call(store, "update_lead", lead_id=old["lead_id"], expected_close_date="2026-11-15")
        call(store, "qualify_lead", lead_id=job["lead_id"])
        won = call(store, "convert_lead", lead_id=job["lead_id"])["opportunity"]
        lost_lead = call(
            store, "record_inquiry", name="Lost Guy", phone="555-000-0003", address="3 C St", description="Deck"
        )["lead"]
        call(store, "qualify_lead", lead_id=lost_lead["lead_id"])
        lost = call(store, "convert_lead", lead_id=lost_lead["lead_id"], amount=900)["opportunity"]
        prop_lead = call(
            store, "record_inquiry", name="Prop Guy", phone="555-000-0004", address="4 D St", description="Bath"
        )["lead"]
        call(store, "qualify_lead", lead_id=prop_lead["lead_id"])
        prop = call(store, "convert_lead", lead_id=prop_lead["lead_id"], amount=1500)["opportunity"]
    with _at(store, FRI - dt.timedelta(days=2)):
        call(store, "record_inquiry", name="New One", phone="555-000-0005", description="Faucet", estimated_value=300)
        n2 = call(
            store, "record_inquiry", name="New Two", phone="555-000-0006", description="Toilet", estimated_value=700
        )["lead"]
        call(store, "qualify_lead", lead_id=n2["lead_id"], pipeline_stage="estimate_sent")
        call(store, "mark_opportunity_won", opportunity_id=won["opportunity_id"], amount=2200)
        call(store, "mark_opportunity_lost", opportunity_id=lost["opportunity_id"], reason="price")
        call(store, "update_opportunity", opportunity_id=prop["opportunity_id"], stage="proposal_sent")
    data = pipeline_data(store, FRI)
    # open leads: Old Lead (10 days), New One (2), New Two (2) -> avg 4.7
    assert (data["new_leads"], data["in_follow_up"], data["in_follow_up_avg_age_days"]) == (2, 3, 4.7)
    # proposals: New Two's estimate ($700) and Prop Guy's job ($1,500)
    assert (data["proposals_out"], data["proposals_value"]) == (2, 2200.0)
    assert (data["won"], data["won_value"], data["lost"]) == (1, 2200.0, 1)
    assert data["oldest_open_lead"]["title"] == "Old inquiry" and data["oldest_open_lead"]["age_days"] == 10
    assert [r["title"] for r in data["past_expected_close"]] == ["Old inquiry"]


def test_last_touchpoint_and_newest_customers(store: Store):
    c = add_contact(store, phone="555-201-7788")
    with _at(store, FRI - dt.timedelta(days=4)):
        call(store, "log_interaction", type="phone_call", contact_id=c["contact_id"], body="Talked about the boiler")
    result = call(store, "last_touchpoint", contact_id=c["contact_id"])
    assert result["last"]["days_ago"] == 4 and "Talked about the boiler" in result["message"]
    assert call(store, "newest_customers")["customers"] == []
    call(store, "update_contact", contact_id=c["contact_id"], lifecycle_stage="customer")
    assert [r["name"] for r in call(store, "newest_customers")["customers"]] == ["Dana Reyes"]


def test_business_calendar_counts_weekdays_and_skips_holidays():
    cal = clock.BusinessCalendar(range(5), [dt.date(2026, 11, 26)])
    assert cal.business_days_between(FRI, FRI + dt.timedelta(days=3)) == 1  # Sat, Sun skipped
    assert cal.business_days_between(FRI, FRI + dt.timedelta(days=7)) == 4  # Thanksgiving skipped
    assert cal.business_days_between(FRI, FRI + dt.timedelta(days=14)) == 9
    assert cal.business_days_between(FRI, FRI) == 0
    assert cal.add_business_days(FRI, 1) == dt.date(2026, 11, 23)


def test_a_long_quiet_list_is_a_finding_with_the_first_ten_shown_and_the_rest_counted(store: Store, cli):
    with _at(store, FRI - dt.timedelta(days=14)):
        for i in range(30):
            c = add_contact(store, name=f"Quiet Person{i}", phone=f"555-300-{i:04d}")
            call(store, "create_lead", title=f"Job {i}", contact_id=c["contact_id"], estimated_value=100 * i)
    with _at(store, FRI):
        c = add_contact(store, name="Busy Bee", phone="555-999-0000")
        call(store, "create_lead", title="Fresh job", contact_id=c["contact_id"])
    code, screen = cli("digest")
    assert code == 0
    assert "30 of your 31 open leads" in screen and "more than a quarter" in screen
    assert screen.count("Heads up:") == 3 and "Also gone quiet" in screen
    assert "… and 20 more quiet leads" in screen and "Fresh job" not in screen
    assert screen.index("Job 29") < screen.index("Job 28")  # equally quiet: the most valuable first
    code, out = cli("digest", "--json")
    data = json.loads(out)
    assert data["stale_total"] == 30 and len(data["stale_leads"]) == 30
    code, screen = cli("digest", "--all")
    assert code == 0 and all(re.search(rf"\bJob {i}\b", screen) for i in range(30))
    assert "more quiet leads" not in screen
    # asked in the chat, the same finding and the most urgent 25, the rest counted (at 100,000 leads
    # the list was 50,000 rows and 7 seconds)
    code, screen = cli("ask", "which leads have gone quiet?")
    assert code == 0 and "30 of your 31 open leads" in screen
    assert "… and 5 more quiet leads" in screen and "Job 29" in screen and not re.search(r"\bJob 0\b", screen)
    quiet = call(store, "stale_leads", limit=1000)
    assert quiet["total"] == 30 and len(quiet["stale_leads"]) == 30 and quiet["open_leads"] == 31
