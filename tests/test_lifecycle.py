"""Leads and opportunities through their state machines, and the events every change leaves."""

from __future__ import annotations

import pytest

from backoffice.tools import catalog
from backoffice.tools.book.filebook import FileBook, Transaction
from backoffice.tools.book.index import Index
from backoffice.tools.book.states import LEAD_TRANSITIONS, OPPORTUNITY_TRANSITIONS
from backoffice.tools.book.store import Store
from backoffice.tools.errors import IllegalTransition, MissingInformation, ToolArgumentError

from .conftest import add_contact, call


def _lead(store: Store, **contact: str) -> dict:
    contact.setdefault("name", "Dana Reyes")
    contact.setdefault("phone", "555-201-7788")
    contact.setdefault("address", "14 Oak St")
    c = add_contact(store, **contact)
    return call(store, "create_lead", title="Water heater", contact_id=c["contact_id"], estimated_value=1200)["lead"]


def _job(store: Store) -> dict:
    lead = _lead(store)
    call(store, "qualify_lead", lead_id=lead["lead_id"])
    return call(store, "convert_lead", lead_id=lead["lead_id"])["opportunity"]


def test_converting_an_unqualified_lead_is_refused_and_names_the_allowed_moves(store: Store):
    lead = _lead(store)
    with pytest.raises(IllegalTransition) as err:
        call(store, "convert_lead", lead_id=lead["lead_id"])
    assert "From new it can become: disqualified, qualified, working" in str(err.value)
    assert store.count("opportunities") == 0


def test_convert_lists_what_the_contact_is_missing_and_changes_nothing(store: Store):
    c = add_contact(store, name="Sam Lee")
    lead = call(store, "create_lead", title="Sump pump", contact_id=c["contact_id"])["lead"]
    call(store, "qualify_lead", lead_id=lead["lead_id"])
    with pytest.raises(MissingInformation) as err:
        call(store, "convert_lead", lead_id=lead["lead_id"])
    assert err.value.missing == ["phone", "service address"]
    assert store.get("leads", lead["lead_id"])["status"] == "qualified"
    assert store.count("opportunities") == 0


def test_convert_creates_the_opportunity_and_links_the_lead(store: Store):
    opp = _job(store)
    lead = store.get("leads", "L-1")
    assert lead["status"] == "converted" and lead["converted_opportunity_id"] == opp["opportunity_id"]
    assert opp["stage"] == "estimating" and opp["amount"] == 1200 and opp["contact_id"] == "C-1"


@pytest.mark.parametrize("current", ["disqualified", "converted"])
def test_final_lead_states_refuse_every_change(store: Store, current: str):
    lead = _lead(store)
    if current == "disqualified":
        call(store, "disqualify_lead", lead_id=lead["lead_id"], reason="budget")
    else:
        call(store, "qualify_lead", lead_id=lead["lead_id"])
        call(store, "convert_lead", lead_id=lead["lead_id"])
    for action, args in [
        ("qualify_lead", {}),
        ("disqualify_lead", {"reason": "timing"}),
        ("convert_lead", {}),
        ("update_lead", {"status": "working"}),
        ("update_lead", {"title": "x"}),
    ]:
        with pytest.raises(IllegalTransition):
            call(store, action, lead_id=lead["lead_id"], **args)
    assert store.get("leads", lead["lead_id"])["status"] == current


def test_disqualify_needs_a_reason_from_the_list(store: Store):
    lead = _lead(store)
    with pytest.raises(ToolArgumentError, match="reason"):
        call(store, "disqualify_lead", lead_id=lead["lead_id"])
    with pytest.raises(ToolArgumentError, match="reason"):
        call(store, "disqualify_lead", lead_id=lead["lead_id"], reason="too far")
    call(store, "disqualify_lead", lead_id=lead["lead_id"], reason="outside_scope")
    assert store.get("leads", lead["lead_id"])["disqualification_reason"] == "outside_scope"


def test_won_and_lost_are_final(store: Store):
    opp = _job(store)
    call(store, "mark_opportunity_won", opportunity_id=opp["opportunity_id"])
    with pytest.raises(IllegalTransition, match="final"):
        call(store, "mark_opportunity_lost", opportunity_id=opp["opportunity_id"], reason="price")
    with pytest.raises(IllegalTransition):
        call(store, "update_opportunity", opportunity_id=opp["opportunity_id"], stage="estimating")
    again = call(store, "mark_opportunity_won", opportunity_id=opp["opportunity_id"])
    assert again["already"] is True  # winning twice changes nothing


def test_winning_a_lost_job_is_refused(store: Store):
    opp = _job(store)
    call(store, "mark_opportunity_lost", opportunity_id=opp["opportunity_id"], reason="competition")
    with pytest.raises(IllegalTransition, match="lost, which is final"):
        call(store, "mark_opportunity_won", opportunity_id=opp["opportunity_id"])
    assert store.get("opportunities", opp["opportunity_id"])["stage"] == "lost"


def test_winning_makes_the_contact_a_customer_and_asks_about_quickbooks(store: Store):
    opp = _job(store)
    result = call(store, "mark_opportunity_won", opportunity_id=opp["opportunity_id"], amount=1350)
    assert store.get("contacts", "C-1")["lifecycle_stage"] == "customer"
    assert result["quickbooks_needed"] == [{"contact_id": "C-1", "name": "Dana Reyes"}]
    assert "QuickBooks" in result["message"]
    saved = store.get("opportunities", opp["opportunity_id"])
    assert saved["close_date"] == "2026-11-20" and saved["amount"] == 1350


def test_every_transition_in_the_machines_is_reachable_or_final():
    assert LEAD_TRANSITIONS["converted"] == frozenset() and LEAD_TRANSITIONS["disqualified"] == frozenset()
    assert OPPORTUNITY_TRANSITIONS["won"] == frozenset() and OPPORTUNITY_TRANSITIONS["lost"] == frozenset()


def test_nothing_exposes_a_delete():
    for name in catalog.all_tools():
        assert not any(word in name for word in ("delete", "remove", "purge", "drop", "destroy")), name
    for cls in (Store, FileBook, Transaction, Index):
        assert not [m for m in dir(cls) if any(w in m.lower() for w in ("delete", "remove", "purge", "drop"))], cls


def test_events_are_written_for_create_update_and_each_state_change(store: Store):
    opp = _job(store)
    call(store, "update_contact", contact_id="C-1", address="15 Oak St")
    call(store, "mark_opportunity_won", opportunity_id=opp["opportunity_id"])
    lead_events = [(e["action"], e["actor"]) for e in store.events("L-1")]
    assert lead_events == [("created", "owner"), ("qualified", "owner"), ("converted", "owner")]
    qualified = store.events("L-1")[1]
    assert qualified["before"] == {"status": "new", "pipeline_stage": "inquiry"}
    assert qualified["after"]["status"] == "qualified"
    contact_events = [e["action"] for e in store.events("C-1")]
    assert contact_events == ["created", "updated", "became_customer"]
    assert store.events("C-1")[1]["before"] == {"address": "14 Oak St"}
    assert [e["action"] for e in store.events(opp["opportunity_id"])] == ["created", "won"]
    with store.acting_as("scheduler"):
        call(store, "log_interaction", contact_id="C-1", body="auto")
    assert store.events()[-1]["actor"] == "scheduler" and store.events()[-1]["record_type"] == "interaction"


def test_logging_a_call_on_a_new_lead_marks_it_working_and_a_date_makes_a_pending_follow_up(store: Store):
    lead = _lead(store)
    result = call(
        store,
        "log_interaction",
        type="phone_call",
        lead_id=lead["lead_id"],
        body="Wants a quote",
        follow_up_date="2026-11-27",
    )
    item = result["interaction"]
    assert item["follow_up_status"] == "pending" and item["contact_id"] == "C-1"
    assert store.get("leads", lead["lead_id"])["status"] == "working"
    call(store, "complete_follow_up", interaction_id=item["interaction_id"])
    with pytest.raises(IllegalTransition, match="only a pending follow-up"):
        call(store, "cancel_follow_up", interaction_id=item["interaction_id"])


def test_interaction_needs_a_link(store: Store):
    with pytest.raises(ToolArgumentError, match="at least one of contact_id, lead_id, opportunity_id"):
        call(store, "log_interaction", body="orphan")


def test_record_inquiry_links_an_existing_contact_and_is_idempotent_by_source_ref(store: Store):
    add_contact(store, phone="555-201-7788", email="dana@example.com")
    first = call(
        store,
        "record_inquiry",
        email="DANA@example.com",
        description="Dripping tap",
        source="email",
        source_ref="<msg-1@example.com>",
    )
    assert first["new_contact"] is False and first["contact"]["contact_id"] == "C-1"
    again = call(
        store,
        "record_inquiry",
        email="dana@example.com",
        description="Dripping tap",
        source="email",
        source_ref="<msg-1@example.com>",
    )
    assert again["created"] is False
    assert store.count("leads") == 1 and store.count("interactions") == 1
    lead = store.get("leads", "L-1")
    assert (lead["status"], lead["pipeline_stage"], lead["source"]) == ("new", "inquiry", "email")


def test_a_lead_may_be_just_a_url_or_a_note(store: Store):
    lead = call(store, "create_lead", url="https://example.com/rfq/123")["lead"]
    assert lead["title"] == "https://example.com/rfq/123"
    note = call(store, "create_lead", notes="Guy at the hardware store wants a quote")["lead"]
    assert note["title"].startswith("Guy at the hardware store")


def test_a_closed_job_keeps_taking_notes(store: Store):
    opp = _job(store)
    call(store, "mark_opportunity_won", opportunity_id=opp["opportunity_id"])
    call(store, "update_opportunity", opportunity_id=opp["opportunity_id"], notes="Paid in full")
    assert store.get("opportunities", opp["opportunity_id"])["notes"] == "Paid in full"


def test_a_phoned_in_inquiry_stays_new_until_someone_works_it(store):
    result = call(store, "record_inquiry", name="Sam Lee", phone="555-301-2222", description="Water heater leaking",
                  source="phone_call")  # fmt: skip
    lead_id = result["lead"]["lead_id"]
    assert store.require("leads", lead_id)["status"] == "new"
    call(store, "log_interaction", lead_id=lead_id, type="phone_call", body="Called him back")
    assert store.require("leads", lead_id)["status"] == "working"
