"""Follow-up drafts fit where the lead or job stands; sending never happens twice."""

from __future__ import annotations

import pytest

from backoffice.tools.errors import MissingInformation

from .conftest import add_contact, call


def lead_for(store, **contact):
    dana = add_contact(store, name="Dana Reyes", phone="555-201-7788", **contact)
    return call(store, "create_lead", title="Leaky faucet at 12 Main", contact_id=dana["contact_id"])["lead"]


def test_a_fresh_inquiry_gets_an_offer_to_visit_on_the_next_business_day(store):
    lead = lead_for(store, email="dana@example.com")
    draft = call(store, "draft_follow_up", lead_id=lead["lead_id"])
    assert draft["stage"] == "inquiry" and draft["to"] == "dana@example.com"
    assert draft["body"].startswith("Hi Dana,")
    assert "the leaky faucet at 12 Main" in draft["body"] and "Would Monday work" in draft["body"]  # Friday today
    assert draft["message"] == "No touchpoint logged yet."


def test_after_an_estimate_the_draft_asks_about_it_and_names_the_day_it_went(store):
    lead = lead_for(store, email="dana@example.com")
    call(store, "log_interaction", lead_id=lead["lead_id"], type="email_outbound", outcome="sent_proposal",
         subject="Your estimate", timestamp="2026-11-16T09:00:00-05:00")  # fmt: skip
    draft = call(store, "draft_follow_up", lead_id=lead["lead_id"])
    assert draft["stage"] == "estimate_sent"
    assert "estimate for the leaky faucet at 12 Main I sent you on November 16" in draft["body"]
    assert draft["last_touchpoint"].startswith("Mon Nov 16: email outbound — Your estimate")


def test_once_accepted_the_draft_says_they_are_on_the_schedule_list(store):
    lead = lead_for(store, email="dana@example.com")
    call(store, "log_interaction", lead_id=lead["lead_id"], type="phone_call", outcome="accepted_proposal", body="Yes!")
    draft = call(store, "draft_follow_up", contact_id=lead["contact_id"])
    assert draft["stage"] == "accepted" and "on our list to be scheduled" in draft["body"]


def test_without_an_email_the_draft_says_so_and_sending_is_refused(store):
    lead = lead_for(store)
    draft = call(store, "draft_follow_up", lead_id=lead["lead_id"])
    assert draft["to"] is None and "no email address on file" in draft["message"]
    with pytest.raises(MissingInformation, match="no email address"):
        call(store, "send_message", contact_id=lead["contact_id"], subject="Hi", body="Hello")


def test_the_same_message_sent_twice_in_a_day_goes_out_once(store, data_dir):
    lead = lead_for(store, email="dana@example.com")
    args = {"contact_id": lead["contact_id"], "subject": "Hi", "body": "Hello", "lead_id": lead["lead_id"]}
    first = call(store, "send_message", **args)
    second = call(store, "send_message", **args)
    assert first["sent"] is False and "Not sent" in first["message"]
    assert second["already"] is True
    [eml] = list((data_dir / "outbox").glob("*.eml"))
    text = eml.read_text()
    assert "To: Dana Reyes <dana@example.com>" in text and "Subject: Hi" in text
    # saved, not sent: the lead is not marked as worked by a message nobody received
    assert store.require("leads", lead["lead_id"])["status"] == "new"
