"""Scripted chat sessions through the real CLI with the offline planner: the screen and the stores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from backoffice.agent.gate.pending import PendingStore
from backoffice.agent.planners.offline.understand import (
    find_address,
    find_amount,
    find_date,
    find_follow_up,
    find_name,
    find_phone,
)
from backoffice.tools.book.store import Store

from .conftest import add_contact, call, lines, records

FRIDAY = dt.date(2026, 11, 20)


def reopen(data_dir: Path) -> Store:
    return Store(data_dir)


def test_adding_a_customer_asks_only_for_what_is_missing(cli, data_dir: Path):
    code, screen = cli(
        "chat",
        stdin=lines(
            "add a new customer, Dana Reyes, 555-201-7788, dana@reyesplumbing.com, 14 Oak St", "referred by Bob", "no"
        ),
    )
    assert code == 0
    assert "How did Dana hear about you?" in screen and "What's the customer's name?" not in screen
    assert "Added: Dana Reyes, (555) 201-7788. I've noted them as a new prospect (C-1)." in screen
    [dana] = records(reopen(data_dir), "contacts")
    assert dana["phones"] == ["+15552017788"] and dana["emails"] == ["dana@reyesplumbing.com"]
    assert (
        dana["address"] == "14 Oak St" and dana["source"] == "referred by Bob" and dana["lifecycle_stage"] == "prospect"
    )


def test_adding_a_customer_step_by_step_rejects_a_bad_phone_and_accepts_skip(cli, data_dir: Path):
    code, screen = cli("chat", stdin=lines(
        "new client", "Ray Gomez", "call him", "(555) 777-0101", "skip", "5 Birch Ln", "skip", "no"))  # fmt: skip
    assert code == 0
    for question in ("What's the customer's name?", "What's Ray's phone number?", "Email address for Ray",
                     "service address", "How did Ray hear about you?"):  # fmt: skip
        assert question in screen
    assert "'call him' is not a phone number" in screen
    [ray] = records(reopen(data_dir), "contacts")
    assert ray["phones"] == ["+15557770101"] and ray["emails"] == [] and ray["address"] == "5 Birch Ln"


def test_a_duplicate_customer_is_shown_and_not_created_when_the_owner_says_no(cli, data_dir: Path):
    add_contact(reopen(data_dir), name="Dana Reyes", phone="555-201-7788")
    code, screen = cli("chat", stdin=lines("add customer Dana R, +1 555 201 7788, skip", "skip", "skip", "skip", "no"))
    assert code == 0
    assert "Dana Reyes (C-1) is already in the book (same phone)" in screen
    assert "Add Dana R as a separate contact" in screen and "Kept the existing contact: Dana Reyes (C-1)" in screen
    assert reopen(data_dir).count("contacts") == 1


def test_logging_a_call_links_the_open_lead_and_sets_the_follow_up(cli, data_dir: Path):
    store = reopen(data_dir)
    dana = add_contact(store, name="Dana Reyes", phone="555-201-7788")
    lead = call(store, "create_lead", title="Kitchen sink", contact_id=dana["contact_id"])["lead"]
    store.close()
    code, screen = cli("chat", stdin=lines("log a call with Dana — she wants a quote, call back Friday"))
    assert code == 0
    assert "Logged the call with Dana Reyes on the lead Kitchen sink (L-1). Follow-up set for Fri Nov 27." in screen
    store = reopen(data_dir)
    [item] = [i for i in records(store, "interactions") if i["type"] == "phone_call"]
    assert item["lead_id"] == lead["lead_id"] and item["follow_up_date"] == "2026-11-27" and item["outcome"] == "spoke"
    assert store.require("leads", "L-1")["status"] == "working"


def test_logging_a_call_without_details_asks_how_it_went(cli, data_dir: Path):
    add_contact(reopen(data_dir), name="Dana Reyes", phone="555-201-7788")
    code, screen = cli("chat", stdin=lines("I called Dana", "left a voicemail, try again tomorrow"))
    assert "How did it go? Any next steps or follow-up needed?" in screen
    [item] = records(reopen(data_dir), "interactions")
    assert item["outcome"] == "left_voicemail" and item["follow_up_date"] == "2026-11-21"


def test_an_ambiguous_name_is_asked_about(cli, data_dir: Path):
    store = reopen(data_dir)
    add_contact(store, name="Dana Reyes", phone="555-201-7788")
    add_contact(store, name="Dana Smith", phone="555-201-9999")
    store.close()
    code, screen = cli("chat", stdin=lines("log a note on Dana: prefers mornings", "2"))
    assert "Several contacts match 'Dana'. Which one?" in screen and "2. Dana Smith (C-2), (555) 201-9999" in screen
    [item] = records(reopen(data_dir), "interactions")
    assert item["contact_id"] == "C-2" and item["type"] == "note"


def _lead_ready(data_dir: Path, **contact) -> dict:
    store = reopen(data_dir)
    fields = {"name": "Dana Reyes", "phone": "555-201-7788", "email": "dana@reyesplumbing.com", "address": "14 Oak St"}
    fields.update(contact)
    dana = add_contact(store, **{k: v for k, v in fields.items() if v is not None})
    lead = call(
        store, "create_lead", title="Kitchen sink at 14 Oak St", contact_id=dana["contact_id"], estimated_value=900
    )
    store.close()
    return lead["lead"]


def test_follow_up_on_a_lead_drafts_by_stage_and_saves_to_the_outbox_after_yes(cli, data_dir: Path):
    _lead_ready(data_dir)
    code, screen = cli("chat", stdin=lines("follow up on the Oak St lead", "yes"))
    assert code == 0
    assert "Last touchpoint:" in screen or "No touchpoint logged yet." in screen
    assert "To: Dana Reyes <dana@reyesplumbing.com>" in screen and "firm price" in screen
    assert "Not sent: no mail account is connected" in screen
    [eml] = list((data_dir / "outbox").glob("*.eml"))
    assert "Hi Dana," in eml.read_text()
    assert PendingStore(data_dir).all()[0].status == "done"


def test_follow_up_through_ask_without_a_terminal_waits_for_approval(cli, data_dir: Path):
    _lead_ready(data_dir)
    code, screen = cli("ask", "follow up on the Oak St lead")
    assert code == 0 and "Saved for the owner's approval as P-1" in screen
    assert not (data_dir / "outbox").exists()
    code, screen = cli("approve", "P-1")
    assert code == 0 and "Not sent: no mail account is connected" in screen
    code, screen = cli("approve", "P-1")
    assert code == 0 and "already done" in screen
    assert len(list((data_dir / "outbox").glob("*.eml"))) == 1


def test_converting_asks_for_the_missing_address_then_creates_the_job(cli, data_dir: Path):
    _lead_ready(data_dir, address=None)
    code, screen = cli("chat", stdin=lines("convert Dana to a job", "14 Oak St, Springfield"))
    assert code == 0 and "What's the service address for Dana?" in screen
    assert "Converted Kitchen sink at 14 Oak St into job O-1 (estimating)" in screen
    store = reopen(data_dir)
    assert store.require("leads", "L-1")["status"] == "converted"
    assert store.require("opportunities", "O-1")["amount"] == 900
    assert store.require("contacts", "C-1")["address"] == "14 Oak St, Springfield"


def test_disqualify_with_and_without_a_reason(cli, data_dir: Path):
    _lead_ready(data_dir)
    code, screen = cli("chat", stdin=lines("disqualify the Oak St lead", "they went quiet, no response"))
    assert "What's the reason?" in screen
    lead = reopen(data_dir).require("leads", "L-1")
    assert lead["status"] == "disqualified" and lead["disqualification_reason"] == "no_response"
    code, screen = cli("chat", stdin=lines("disqualify the Oak St lead, budget"))
    assert "(L-1) is already disqualified, which is final" in screen


def test_marking_a_job_won_needs_yes_and_lost_offers_a_reminder(cli, data_dir: Path):
    _lead_ready(data_dir)
    cli("chat", stdin=lines("convert Dana to a job"))
    code, screen = cli("chat", stdin=lines("mark the Reyes job won", "no"))
    assert "Mark the job 'Kitchen sink at 14 Oak St' (O-1) won" in screen and "The owner said no" in screen
    assert reopen(data_dir).require("opportunities", "O-1")["stage"] == "estimating"
    code, screen = cli("chat", stdin=lines("we lost the Reyes job", "they went with another plumber", "yes"))
    assert "Why was it lost?" in screen and "Marked Kitchen sink at 14 Oak St lost (competition)" in screen
    assert "Reminder set for Sat Feb 20, 2027" in screen
    store = reopen(data_dir)
    assert store.require("opportunities", "O-1")["lost_reason"] == "competition"
    [reminder] = [i for i in records(store, "interactions") if i["follow_up_status"] == "pending"]
    assert reminder["follow_up_date"] == "2027-02-20" and reminder["contact_id"] == "C-1"


def test_won_through_the_chat_makes_a_customer_who_shows_up_as_newest(cli, data_dir: Path):
    _lead_ready(data_dir)
    code, screen = cli(
        "chat",
        stdin=lines(
            "convert Dana to a job",
            "mark the Reyes job won",
            "yes",  # QuickBooks is not connected: told at once, nothing more to answer
            "who are our newest customers?",
            "how long since we talked to Dana?",
        ),
    )
    assert "Marked Kitchen sink at 14 Oak St won." in screen and "not in QuickBooks yet" in screen
    assert "QuickBooks is not connected yet" in screen and "'Create Dana Reyes in QuickBooks' waits as P-2" in screen
    assert "Newest customers" in screen and "C-1" in screen
    assert "Nothing has been logged with Dana Reyes yet" in screen  # system notes are not conversations
    assert reopen(data_dir).require("contacts", "C-1")["lifecycle_stage"] == "customer"


def test_a_new_inquiry_in_the_chat_opens_a_lead_and_offers_a_reply(cli, data_dir: Path):
    code, screen = cli("chat", stdin=lines("new inquiry from Sam Lee, 555-301-2222, water heater leaking", "no"))
    assert "New inquiry from Sam Lee — Water heater leaking. Phone: (555) 301-2222." in screen
    store = reopen(data_dir)
    [lead] = records(store, "leads")
    assert lead["status"] == "new" and lead["pipeline_stage"] == "inquiry" and lead["source"] == "phone_call"


def test_pending_approvals_are_shown_when_the_chat_starts_and_can_be_approved_there(cli, data_dir: Path):
    _lead_ready(data_dir)
    cli("chat", stdin=lines("convert Dana to a job"))
    cli("ask", "mark the Reyes job won")
    code, screen = cli("chat", stdin=lines("approve P-1"))
    assert "Waiting for your approval" in screen and "P-1" in screen
    assert "Marked Kitchen sink at 14 Oak St won." in screen
    assert reopen(data_dir).require("opportunities", "O-1")["stage"] == "won"


def test_unknown_requests_get_help_and_cancel_drops_a_question(cli, data_dir: Path):
    code, screen = cli("chat", stdin=lines("make me a sandwich", "add a customer", "cancel"))
    assert "I didn't catch that." in screen and "log a call with Dana" in screen
    assert "OK, dropped that." in screen and reopen(data_dir).count("contacts") == 0
    assert screen.rstrip().endswith("Bye.")


def test_the_morning_view_is_shown_once_a_day(cli, data_dir: Path):
    store = reopen(data_dir)
    dana = add_contact(store, name="Dana Reyes", phone="555-201-7788")
    call(
        store,
        "log_interaction",
        contact_id=dana["contact_id"],
        type="phone_call",
        body="Call back",
        follow_up_date="2026-11-20",
    )
    store.close()
    _, first = cli("chat", stdin="")
    _, second = cli("chat", stdin="")
    assert "Today's follow-ups" in first and "Dana Reyes" in first
    assert "Today's follow-ups" not in second


# ---------------------------------------------------------------------------- understanding
@pytest.mark.parametrize(
    ("text", "expected"),
    [("call back Friday", dt.date(2026, 11, 27)), ("tomorrow", dt.date(2026, 11, 21)),
     ("next tuesday", dt.date(2026, 11, 24)), ("in 2 weeks", dt.date(2026, 12, 4)),
     ("on 12/3", dt.date(2026, 12, 3)), ("Dec 3rd", dt.date(2026, 12, 3)), ("3 January", dt.date(2027, 1, 3)),
     ("2027-02-01", dt.date(2027, 2, 1)), ("in 3 months", dt.date(2027, 2, 20)), ("next week", dt.date(2026, 11, 23))],
)  # fmt: skip
def test_dates_in_plain_words(text: str, expected: dt.date):
    found = find_date(text, FRIDAY)
    assert found is not None and found.day == expected


def test_a_follow_up_needs_a_cue_so_past_dates_are_not_callbacks():
    assert find_follow_up("she wants a quote, call back Friday", FRIDAY) == dt.date(2026, 11, 27)
    assert find_follow_up("we met on Monday about the sink", FRIDAY) is None
    assert find_follow_up("will send the estimate by Wednesday", FRIDAY) == dt.date(2026, 11, 25)


def test_contact_details_in_one_line():
    line = "Dana Reyes, (555) 201-7788, dana@reyesplumbing.com, 14 Oak St"
    assert find_phone(line, "US") == ("(555) 201-7788", "+15552017788")
    assert find_address(line) == "14 Oak St"
    assert find_name(line) == "Dana Reyes"
    assert find_amount("kitchen remodel, about $8k") == 8000 and find_amount("2,400 dollars") == 2400
