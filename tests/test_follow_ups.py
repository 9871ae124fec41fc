"""Follow-ups end: done, cancelled, moved, or answered by the call that was promised. Once closed
they leave the digest; the digest names each one by id so the owner can. Friday 2026-11-20."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from backoffice.tools.book import clock
from backoffice.tools.book.store import Store
from backoffice.tools.errors import BadInput, IllegalTransition, ToolArgumentError

from .conftest import add_contact, call, lines

WED = dt.date(2026, 11, 18)


def book(data_dir: Path) -> Store:
    data_dir.mkdir(parents=True, exist_ok=True)
    return Store(data_dir)


def promised_callback(store: Store, due: dt.date = WED) -> dict:
    """Dana's lead, and a callback promised on Monday for ``due`` (I-1)."""
    with clock.frozen(dt.datetime(2026, 11, 16, 9, tzinfo=store.tz)):
        dana = add_contact(store, name="Dana Reyes", phone="555-201-7788")
        call(store, "create_lead", title="Kitchen sink", contact_id=dana["contact_id"])
        logged = call(store, "log_interaction", type="phone_call", lead_id="L-1", subject="Call back re: quote",
                      body="Wants a quote; call back Wednesday", follow_up_date=due.isoformat())  # fmt: skip
        return logged["interaction"]


def due_ids(cli) -> list[str]:
    code, screen = cli("--json", "digest")
    assert code == 0
    return [r["interaction_id"] for r in json.loads(screen)["follow_ups"]]


def test_the_digest_names_each_follow_up_by_id(cli, data_dir: Path):
    store = book(data_dir)
    promised_callback(store)
    store.close()
    code, screen = cli("digest")
    row = next(line for line in screen.splitlines() if "Call back re: quote" in line)
    assert "I-1" in row and "overdue 2 d" in row


def test_logging_the_promised_call_in_the_chat_closes_the_follow_up(cli, data_dir: Path):
    store = book(data_dir)
    promised_callback(store)
    store.close()
    assert due_ids(cli) == ["I-1"]
    code, screen = cli("chat", stdin=lines("log a call with Dana — went through the quote, she is thinking it over"))
    assert "Logged the call with Dana Reyes on the lead Kitchen sink (L-1)." in screen
    assert due_ids(cli) == []  # no longer piling up as overdue
    store = book(data_dir)
    answered = store.require("interactions", "I-1")
    assert answered["follow_up_status"] == "completed"
    [closed] = [e for e in store.events("I-1") if e["action"] == "follow_up_completed"]
    assert closed["before"] == {"follow_up_status": "pending"} and closed["after"] == {"follow_up_status": "completed"}


def test_the_tool_says_which_follow_up_the_call_answered(store: Store):
    promised_callback(store)
    done = call(store, "log_interaction", type="phone_call", lead_id="L-1", body="Went through the quote")
    said = "That answers follow-up I-1 (Dana Reyes: Call back re: quote, due Wed Nov 18): marked done."
    assert said in done["message"]
    assert done["closed_follow_up"]["interaction_id"] == "I-1"


def test_a_voicemail_leaves_the_promise_standing(store: Store):
    promised_callback(store)
    done = call(store, "log_interaction", type="phone_call", lead_id="L-1", body="No answer", outcome="left_voicemail")
    assert done["closed_follow_up"] is None and store.require("interactions", "I-1")["follow_up_status"] == "pending"


def test_only_the_oldest_due_follow_up_on_the_same_work_is_closed(store: Store):
    promised_callback(store)  # I-1, lead L-1, due Wednesday
    call(store, "log_interaction", contact_id="C-1", lead_id="L-1", body="Send photos", follow_up_date="2026-11-19")
    call(store, "create_lead", title="Water softener", contact_id="C-1")  # L-2
    call(store, "log_interaction", lead_id="L-2", body="Softener callback", follow_up_date="2026-11-17")  # I-3
    call(store, "log_interaction", lead_id="L-1", body="Next week", follow_up_date="2026-11-27")  # I-4, not due yet
    done = call(store, "log_interaction", type="phone_call", lead_id="L-1", body="Talked")
    assert done["closed_follow_up"]["interaction_id"] == "I-1"  # not I-3: that one is another lead's
    status = {i: store.require("interactions", i)["follow_up_status"] for i in ("I-1", "I-2", "I-3", "I-4")}
    assert status == {"I-1": "completed", "I-2": "pending", "I-3": "pending", "I-4": "pending"}


def test_a_reminder_on_the_person_is_answered_by_a_call_with_them(store: Store):
    add_contact(store, name="Dana Reyes", phone="555-201-7788")
    call(store, "log_interaction", contact_id="C-1", subject="Check back about the re-pipe",
         follow_up_date="2026-11-20", about_contact_only=True)  # fmt: skip
    done = call(store, "log_interaction", type="phone_call", contact_id="C-1", body="Caught up")
    assert done["closed_follow_up"]["interaction_id"] == "I-1"


def test_a_planner_may_choose_the_follow_up_or_close_none(store: Store):
    promised_callback(store)
    call(store, "log_interaction", lead_id="L-1", body="Next week", follow_up_date="2026-11-27")  # I-2
    kept = call(store, "log_interaction", type="phone_call", lead_id="L-1", body="Other topic", closes_follow_up="none")
    assert kept["closed_follow_up"] is None and store.require("interactions", "I-1")["follow_up_status"] == "pending"
    chosen = call(store, "log_interaction", type="note", lead_id="L-1", body="Sorted early", closes_follow_up="I-2")
    assert chosen["closed_follow_up"]["interaction_id"] == "I-2"
    assert store.require("interactions", "I-2")["follow_up_status"] == "completed"


def test_a_follow_up_of_someone_else_is_not_closed_by_this_call(store: Store):
    promised_callback(store)
    sam = add_contact(store, name="Sam Lee", phone="555-301-2222")
    count = store.count("interactions")
    with pytest.raises(BadInput, match="I-1.*Dana Reyes"):
        call(store, "log_interaction", type="phone_call", contact_id=sam["contact_id"], closes_follow_up="I-1")
    assert store.count("interactions") == count
    assert store.require("interactions", "I-1")["follow_up_status"] == "pending"


@pytest.mark.parametrize("tool, status", [("complete_follow_up", "completed"), ("cancel_follow_up", "canceled")])
def test_completing_or_cancelling_takes_it_off_the_digest_and_is_logged(cli, data_dir: Path, tool: str, status: str):
    store = book(data_dir)
    promised_callback(store)
    result = call(store, tool, interaction_id="I-1", note="She called us first")
    assert result["message"] == f"Follow-up I-1 (Dana Reyes: Call back re: quote, due Wed Nov 18) marked {status}."
    item = store.require("interactions", "I-1")
    assert item["follow_up_status"] == status and "She called us first" in item["body"]
    assert store.events("I-1")[-1]["action"] == f"follow_up_{status}"
    store.close()
    assert due_ids(cli) == []
    with pytest.raises(IllegalTransition, match=f"is {status}, not pending"):
        call(book(data_dir), "complete_follow_up", interaction_id="I-1")


def test_rescheduling_moves_it_to_the_new_day(cli, data_dir: Path):
    store = book(data_dir)
    promised_callback(store)
    result = call(store, "reschedule_follow_up", interaction_id="I-1", follow_up_date="2026-11-24",
                  note="She is away until Tuesday")  # fmt: skip
    assert result["message"] == "Follow-up I-1 (Dana Reyes: Call back re: quote) moved from Wed Nov 18 to Tue Nov 24."
    moved = [e for e in store.events("I-1") if e["action"] == "follow_up_rescheduled"][-1]
    assert moved["before"]["follow_up_date"] == "2026-11-18" and moved["after"]["follow_up_date"] == "2026-11-24"
    store.close()
    assert due_ids(cli) == []  # not due on Friday any more
    code, screen = cli("--json", "digest", "--date", "2026-11-24")
    [row] = json.loads(screen)["follow_ups"]
    assert (row["interaction_id"], row["overdue_days"]) == ("I-1", 0)


def test_a_follow_up_cannot_be_moved_into_the_past_or_off_a_closed_one(store: Store):
    promised_callback(store)
    with pytest.raises(BadInput, match="is in the past"):
        call(store, "reschedule_follow_up", interaction_id="I-1", follow_up_date="2026-11-19")
    assert store.require("interactions", "I-1")["follow_up_date"] == "2026-11-18"
    call(store, "cancel_follow_up", interaction_id="I-1")
    with pytest.raises(IllegalTransition, match="only a pending follow-up can be rescheduled"):
        call(store, "reschedule_follow_up", interaction_id="I-1", follow_up_date="2026-11-30")
    with pytest.raises(ToolArgumentError, match="follow_up_date"):
        call(store, "reschedule_follow_up", interaction_id="I-1")
