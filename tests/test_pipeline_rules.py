"""The pipeline means what it says: every open lead is watched, nothing the book does by itself
moves a lead or job backward, a converted lead keeps its place, an unsent draft is not activity,
amounts are amounts, and a call is never filed on a guess. Friday 2026-11-20 is today."""

from __future__ import annotations

import datetime as dt
import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from backoffice.agent.gate.gate import Gate
from backoffice.agent.gate.pending import PendingStore
from backoffice.tools.book import clock
from backoffice.tools.book.normalize import money
from backoffice.tools.book.settings import Settings
from backoffice.tools.book.states import forward
from backoffice.tools.book.store import Store
from backoffice.tools.errors import Ambiguous, ToolArgumentError
from backoffice.tools.mail.outbox import Delivery
from backoffice.tools.services import Services

from .conftest import add_contact, call, lines, records

FRI = dt.date(2026, 11, 20)
LAST_FRI = dt.date(2026, 11, 13)


def at(store: Store, day: dt.date, hour: int = 10):
    return clock.frozen(dt.datetime.combine(day, dt.time(hour), tzinfo=store.tz))


def book(data_dir: Path) -> Store:
    data_dir.mkdir(parents=True, exist_ok=True)
    return Store(data_dir)


def dana_with_lead(store: Store, title: str = "Kitchen sink at 14 Oak St", day: dt.date = LAST_FRI) -> dict:
    with at(store, day):
        dana = add_contact(store, name="Dana Reyes", phone="555-201-7788", email="dana@example.com",
                           address="14 Oak St")  # fmt: skip
        return call(store, "create_lead", title=title, contact_id=dana["contact_id"], estimated_value=1800)["lead"]


def estimate_out(store: Store, lead_id: str, day: dt.date = dt.date(2026, 11, 16)) -> None:
    with at(store, day, 9):
        call(store, "log_interaction", type="email_outbound", lead_id=lead_id, subject="Your estimate",
             body="Estimate attached: $1,800.", outcome="sent_proposal")  # fmt: skip


# ---------------------------------------------------------------------------- 13.7 watched, never backward
def test_a_qualified_lead_stays_in_the_daily_nudge(cli, data_dir: Path):
    store = book(data_dir)
    lead = dana_with_lead(store)
    store.close()
    code, screen = cli("chat", stdin=lines("qualify the Kitchen sink lead"))
    assert code == 0 and "Qualified Kitchen sink at 14 Oak St (L-1) — moving to needs analysis." in screen
    store = book(data_dir)
    assert store.require("leads", lead["lead_id"])["status"] == "qualified"
    # qualifying reached nobody: a week without a call, email or visit is still a quiet lead
    code, screen = cli("--json", "digest")
    digest = json.loads(screen)
    [quiet] = digest["stale_leads"]
    assert (quiet["lead_id"], quiet["status"], quiet["days_since_activity"]) == ("L-1", "qualified", 7)
    assert quiet["last_touchpoint"] == "lead created, nothing logged since"  # not "Lead qualified — ..."
    code, screen = cli("digest")
    assert "the Kitchen sink at 14 Oak St lead from Dana Reyes (L-1) has had no activity in 7 days" in screen


def test_qualifying_a_lead_whose_estimate_is_out_keeps_it_at_estimate_sent(cli, data_dir: Path):
    store = book(data_dir)
    lead = dana_with_lead(store)
    estimate_out(store, lead["lead_id"])
    assert store.require("leads", "L-1")["pipeline_stage"] == "estimate_sent"
    store.close()
    code, screen = cli("chat", stdin=lines("qualify the Kitchen sink lead"))
    assert "it stays at estimate sent, which is further along" in screen
    store = book(data_dir)
    saved = store.require("leads", "L-1")
    assert (saved["status"], saved["pipeline_stage"]) == ("qualified", "estimate_sent")
    qualified = [e for e in store.events("L-1") if e["action"] == "qualified"][-1]
    assert qualified["before"] == {"status": "working"} and qualified["after"] == {"status": "qualified"}
    code, screen = cli("pipeline")
    assert "Proposals out: 1 (total value: $1,800)" in screen


def test_no_automatic_move_goes_backward():
    assert forward("lead_stage", "estimate_sent", "needs_analysis") == "estimate_sent"
    assert forward("lead_stage", "follow_up", "estimate_sent") == "follow_up"
    assert forward("lead_stage", "inquiry", "needs_analysis") == "needs_analysis"
    assert forward("lead_status", "qualified", "working") == "qualified"
    assert forward("lead_status", "new", "working") == "working"
    assert forward("opportunity_stage", "proposal_sent", "estimating") == "proposal_sent"
    assert forward("opportunity_stage", "scheduled", "estimating") == "scheduled"  # side by side: kept
    assert forward("opportunity_stage", "estimating", "proposal_sent") == "proposal_sent"


def test_a_sent_proposal_logged_on_a_lead_in_follow_up_leaves_it_there(store: Store):
    lead = dana_with_lead(store)
    call(store, "update_lead", lead_id=lead["lead_id"], pipeline_stage="follow_up")
    estimate_out(store, lead["lead_id"])
    assert store.require("leads", "L-1")["pipeline_stage"] == "follow_up"
    stages = [e["after"].get("pipeline_stage") for e in store.events("L-1") if e["action"] != "created"]
    assert [s for s in stages if s] == ["follow_up"]  # the one change is the owner's


def test_the_owner_may_still_move_a_stage_back_by_hand(store: Store):
    lead = dana_with_lead(store)
    estimate_out(store, lead["lead_id"])
    call(store, "update_lead", lead_id="L-1", pipeline_stage="needs_analysis")
    assert store.require("leads", "L-1")["pipeline_stage"] == "needs_analysis"
    assert store.events("L-1")[-1]["before"] == {"pipeline_stage": "estimate_sent"}


# ---------------------------------------------------------------------------- 13.8 the job starts where the lead was
def test_converting_a_lead_whose_estimate_is_out_makes_a_proposal_sent_job(cli, data_dir: Path):
    store = book(data_dir)
    lead = dana_with_lead(store)
    estimate_out(store, lead["lead_id"])
    store.close()
    code, screen = cli("chat", stdin=lines("convert Dana to a job"))
    assert "into job O-1 (proposal sent). Next: follow up on the estimate sent Mon Nov 16." in screen
    store = book(data_dir)
    job = store.require("opportunities", "O-1")
    assert (job["stage"], job["proposal_sent_date"], job["amount"]) == ("proposal_sent", "2026-11-16", 1800)
    created = store.events("O-1")[0]
    assert created["action"] == "created" and created["after"]["stage"] == "proposal_sent"
    code, screen = cli("pipeline")
    assert "Proposals out: 1 (total value: $1,800)" in screen  # the lead became a job; still counted once
    code, screen = cli("chat", stdin=lines("follow up on Dana", "no"))
    assert "I wanted to check in on the estimate for the kitchen sink at 14 Oak St I sent you on November 16" in screen
    assert "come and take a look" not in screen


def test_a_lead_with_a_visit_booked_becomes_a_scheduled_job(store: Store):
    lead = dana_with_lead(store)
    call(store, "update_lead", lead_id=lead["lead_id"], pipeline_stage="scheduled_visit")
    call(store, "qualify_lead", lead_id="L-1")
    # the offline planner asks for "estimating" by default: a stage behind the lead's is not used
    result = call(store, "convert_lead", lead_id="L-1", stage="estimating")
    job = store.require("opportunities", result["opportunity"]["opportunity_id"])
    assert (job["stage"], job["needs_site_visit"]) == ("scheduled", True)
    assert result["message"].endswith("Next: book the site visit.")


def test_a_fresh_lead_still_converts_to_estimating(store: Store):
    lead = dana_with_lead(store)
    call(store, "qualify_lead", lead_id=lead["lead_id"])
    job = call(store, "convert_lead", lead_id="L-1")["opportunity"]
    assert job["stage"] == "estimating" and job.get("proposal_sent_date") is None


# ---------------------------------------------------------------------------- 13.13 an unsent draft is not activity
def test_a_follow_up_saved_to_the_outbox_does_not_reset_the_quiet_clock(cli, data_dir: Path):
    store = book(data_dir)
    dana_with_lead(store)
    store.close()
    code, screen = cli("chat", stdin=lines("follow up on the Kitchen sink lead", "yes"))
    assert "Not sent: no mail account is connected" in screen
    store = book(data_dir)
    [saved] = [i for i in records(store, "interactions") if i.get("message_id")]
    assert saved["type"] == "system" and saved["subject"].startswith("Saved to outbox, not sent:")
    assert store.require("leads", "L-1")["status"] == "new"  # nobody was reached
    code, screen = cli("--json", "digest")
    [quiet] = json.loads(screen)["stale_leads"]
    assert quiet["lead_id"] == "L-1" and quiet["days_since_activity"] == 7
    code, screen = cli("chat", stdin=lines("how long since we talked to Dana?"))
    assert "Nothing has been logged with Dana Reyes yet." in screen


class SentMailer:
    connected = True

    def __init__(self, directory: Path):
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage, thread_id: str | None = None) -> Delivery:
        return Delivery(sent=True, where="gmail-1", note="Sent.")


def test_a_follow_up_that_really_went_out_counts_as_a_touch(cli, data_dir: Path, services: Services):
    services.mailer = SentMailer
    store = book(data_dir)
    dana_with_lead(store)
    store.close()
    code, screen = cli("chat", stdin=lines("follow up on the Kitchen sink lead", "yes"))
    assert "Sent to Dana Reyes" in screen and "Not sent" not in screen
    store = book(data_dir)
    [sent] = [i for i in records(store, "interactions") if i.get("message_id")]
    assert sent["type"] == "email_outbound" and store.require("leads", "L-1")["status"] == "working"
    code, screen = cli("--json", "digest")
    assert json.loads(screen)["stale_leads"] == []


# ---------------------------------------------------------------------------- 13.15 amounts and dates
@pytest.mark.parametrize(
    "value, words",
    [
        (-5000, "estimated_value: cannot be negative (-5000)"),
        (float("inf"), "estimated_value: is not an amount of money I can use"),
        (float("nan"), "estimated_value: is not an amount of money I can use"),
        (int("9" * 400), "estimated_value: is not an amount of money I can use"),
        (5e12, "estimated_value: is more than $1,000,000,000"),
    ],
)
def test_an_impossible_amount_is_refused_with_the_field_named_and_nothing_stored(store: Store, value, words):
    gate = Gate(store, PendingStore(store.directory))
    outcome = gate.call("create_lead", {"title": "Kitchen remodel", "estimated_value": value})
    assert outcome.status == "error" and words in outcome.message
    assert store.count("leads") == 0 and store.events() == []


def test_a_chat_amount_of_four_hundred_nines_never_shows_as_infinity(cli, data_dir: Path):
    store = book(data_dir)
    add_contact(store, name="Dana Reyes", phone="555-201-7788")
    store.close()
    code, screen = cli("chat", stdin=lines("open a lead for Dana: kitchen remodel, $" + "9" * 400))
    assert "estimated_value" in screen and "is not an amount I can store" in screen and "inf" not in screen.lower()
    assert book(data_dir).count("leads") == 0  # asked again, nothing written until the amount is right


@pytest.mark.parametrize(
    "tool, args",
    [
        ("update_lead", {"lead_id": "L-1", "estimated_value": -1}),
        ("qualify_lead", {"lead_id": "L-1", "estimated_value": float("inf")}),
        ("convert_lead", {"lead_id": "L-1", "amount": -5000}),
    ],
)
def test_every_amount_a_tool_takes_is_checked(store: Store, tool: str, args: dict):
    dana_with_lead(store)
    before = store.require("leads", "L-1")
    with pytest.raises(ToolArgumentError, match="estimated_value|amount"):
        call(store, tool, **args)
    assert store.require("leads", "L-1") == before


def test_money_never_shows_inf_or_nan():
    assert money(float("inf")) == "(not an amount)" and money(float("nan")) == "(not an amount)"
    assert money(2400) == "$2,400" and money(None) == "$0" and money(-50) == "-$50"


@pytest.mark.parametrize(
    "settings, month_first",
    [
        ({}, True),
        ({"default_phone_region": "GB"}, False),
        ({"default_phone_region": "AU"}, False),
        ({"default_phone_region": "CA"}, True),
        ({"default_phone_region": "GB", "date_order": "month_first"}, True),
        ({"default_phone_region": "US", "date_order": "day_first"}, False),
    ],
)
def test_the_date_order_follows_the_region_unless_the_owner_sets_it(data_dir: Path, settings: dict, month_first):
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "settings.json").write_text(json.dumps(settings))
    assert Store(data_dir).settings.month_first is month_first


def test_an_unknown_date_order_is_refused_by_name():
    with pytest.raises(ValueError, match="date_order"):
        Settings.model_validate({"date_order": "year_first"})


# ---------------------------------------------------------------------------- 13.12 no silent pick
def two_open_leads(store: Store) -> dict:
    dana = add_contact(store, name="Dana Reyes", phone="555-201-7788")
    call(store, "create_lead", title="Kitchen sink estimate", contact_id=dana["contact_id"])
    call(store, "create_lead", title="Water softener", contact_id=dana["contact_id"])
    return dana


def test_a_call_with_a_contact_who_has_two_open_leads_is_not_filed_on_a_guess(store: Store):
    two_open_leads(store)
    events = len(store.events())
    with pytest.raises(Ambiguous) as err:
        call(store, "log_interaction", type="phone_call", contact_id="C-1", body="Talked about the kitchen estimate")
    assert "Nothing was logged" in str(err.value)
    assert "Kitchen sink estimate (L-1" in str(err.value) and "Water softener (L-2" in str(err.value)
    assert [c.get("lead_id") for c in err.value.candidates] == ["L-1", "L-2"]
    assert store.count("interactions") == 0 and len(store.events()) == events
    # the planner asks, then names the lead
    done = call(store, "log_interaction", type="phone_call", contact_id="C-1", lead_id="L-1", body="Kitchen estimate")
    assert done["interaction"]["lead_id"] == "L-1" and store.require("leads", "L-1")["status"] == "working"
    assert store.require("leads", "L-2")["status"] == "new"


def test_a_note_about_the_person_in_general_can_still_be_logged(store: Store):
    two_open_leads(store)
    done = call(store, "log_interaction", contact_id="C-1", body="Prefers mornings", about_contact_only=True)
    assert done["interaction"].get("lead_id") is None and done["interaction"].get("opportunity_id") is None
    assert store.require("leads", "L-1")["status"] == "new"


def test_a_contact_with_one_open_lead_gets_the_call_on_it_and_is_told(store: Store):
    dana = add_contact(store, name="Dana Reyes", phone="555-201-7788")
    call(store, "create_lead", title="Kitchen sink", contact_id=dana["contact_id"])
    done = call(store, "log_interaction", type="phone_call", contact_id="C-1", body="Wants a quote")
    assert done["interaction"]["lead_id"] == "L-1" and "On the lead Kitchen sink (L-1" in done["message"]
    assert store.require("leads", "L-1")["status"] == "working"
