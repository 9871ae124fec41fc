"""Everyday corrections: every field an owner would fix is editable through the tools, checked like
any write, refused whole when a part is wrong, and in the event log with before and after. And the
reads that go with them: a record's whole history, and the open leads listed. Friday 2026-11-20."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backoffice.tools.book.store import Store
from backoffice.tools.errors import IllegalTransition, InvalidRecord, NotFound, ToolArgumentError

from .conftest import add_contact, call


def dana(store: Store, **fields) -> dict:
    fields = {"name": "Dana Reyes", "phone": "555-201-7788", "email": "dana@example.com", "address": "14 Oak St",
              **fields}  # fmt: skip
    return add_contact(store, **fields)


def last_event(store: Store, record_id: str) -> dict:
    return store.events(record_id)[-1]


# ---------------------------------------------------------------------------- contacts
def test_phones_can_be_added_made_primary_and_taken_off(store: Store):
    dana(store)
    call(store, "update_contact", contact_id="C-1", add_phone="(555) 201-9000")
    assert store.require("contacts", "C-1")["phones"] == ["+15552017788", "+15552019000"]
    call(store, "update_contact", contact_id="C-1", phone="555.201.9000")  # the mobile becomes primary
    assert store.require("contacts", "C-1")["phones"] == ["+15552019000", "+15552017788"]
    result = call(store, "update_contact", contact_id="C-1", remove_phone="555-201-7788")  # the wrong one
    assert store.require("contacts", "C-1")["phones"] == ["+15552019000"]
    assert result["changed"] == ["phones"] and result["message"] == "Updated Dana Reyes: phones."
    event = last_event(store, "C-1")
    assert event["before"] == {"phones": ["+15552019000", "+15552017788"]}
    assert event["after"] == {"phones": ["+15552019000"]}
    assert store.contacts_by_phone("555-201-7788") == []  # the index follows


def test_emails_can_be_added_made_primary_and_taken_off(store: Store):
    dana(store)
    call(store, "update_contact", contact_id="C-1", email="Dana.Reyes@Work.example")
    assert store.require("contacts", "C-1")["emails"] == ["Dana.Reyes@work.example", "dana@example.com"]
    call(store, "update_contact", contact_id="C-1", remove_email="DANA@example.com", add_email="d@home.example")
    assert store.require("contacts", "C-1")["emails"] == ["Dana.Reyes@work.example", "d@home.example"]
    assert [c["contact_id"] for c in store.contacts_by_email("d@home.example")] == ["C-1"]


@pytest.mark.parametrize(
    "args, words",
    [
        ({"phone": "call me"}, "phone 'call me' is not a phone number"),
        ({"add_email": "dana at example"}, "email 'dana at example' is not an email address"),
        ({"remove_phone": "555-000-1111"}, "phone '555-000-1111' is not on this contact (on file: +15552017788)"),
        ({"remove_email": "x@example.com"}, "email 'x@example.com' is not on this contact"),
        ({"remove_tags": ["vip"]}, "it has no tag 'vip' (its tags: none)"),
        ({"name": "  "}, "name is empty"),
        ({"address": "15 Oak St", "company_id": "CO-9"}, "There is no company CO-9"),
    ],
)
def test_a_bad_correction_is_refused_whole_and_changes_nothing(store: Store, args: dict, words: str):
    dana(store)
    before, events = store.require("contacts", "C-1"), len(store.events())
    with pytest.raises((InvalidRecord, NotFound)) as err:
        call(store, "update_contact", contact_id="C-1", **args)
    assert words in str(err.value)
    assert store.require("contacts", "C-1") == before and len(store.events()) == events


def test_a_contact_cannot_lose_everything_that_identifies_them(store: Store):
    assert call(store, "create_contact", phone="555-201-7788")["created"]
    with pytest.raises(InvalidRecord, match="needs at least a name, a phone or an email"):
        call(store, "update_contact", contact_id="C-1", remove_phone="+1 555 201 7788")
    assert store.require("contacts", "C-1")["phones"] == ["+15552017788"]


def test_name_address_tags_and_archiving_are_editable_with_before_and_after(store: Store):
    dana(store, tags=["plumbing"])
    call(store, "update_contact", contact_id="C-1", name="Dana Reyes-Ortiz", address="15 Oak St")
    saved = store.require("contacts", "C-1")
    assert (saved["first_name"], saved["last_name"], saved["address"]) == ("Dana", "Reyes-Ortiz", "15 Oak St")
    assert last_event(store, "C-1")["before"] == {"last_name": "Reyes", "address": "14 Oak St"}
    call(store, "update_contact", contact_id="C-1", add_tags=["VIP", "maintenance contract"], remove_tags=["Plumbing"])
    assert store.require("contacts", "C-1")["tags"] == ["VIP", "maintenance contract"]
    call(store, "update_contact", contact_id="C-1", add_tags=["vip"])  # already there, in another case
    assert store.require("contacts", "C-1")["tags"] == ["VIP", "maintenance contract"]
    call(store, "update_contact", contact_id="C-1", archived=True)
    assert call(store, "find_contacts", query="Dana")["contacts"] == []
    call(store, "update_contact", contact_id="C-1", archived=False)
    assert [c["contact_id"] for c in call(store, "find_contacts", query="Dana")["contacts"]] == ["C-1"]
    assert [e["after"] for e in store.events("C-1")[-2:]] == [{"archived": True}, {"archived": False}]


# ---------------------------------------------------------------------------- leads
def test_every_lead_field_an_owner_corrects_is_editable(cli, store: Store):
    c = dana(store)
    call(store, "create_lead", title="Kitchen", contact_id=c["contact_id"], source="phone_call", estimated_value=800)
    result = call(store, "update_lead", lead_id="L-1", title="Kitchen sink at 14 Oak St", description="Clogged",
                  source="referral", estimated_value=1250, expected_close_date="2026-11-10",
                  add_tags=["urgent"])  # fmt: skip
    assert result["changed"] == ["description", "estimated_value", "expected_close_date", "source", "tags", "title"]
    lead = store.require("leads", "L-1")
    assert (lead["title"], lead["source"], lead["estimated_value"]) == ("Kitchen sink at 14 Oak St", "referral", 1250)
    event = last_event(store, "L-1")
    assert event["before"]["estimated_value"] == 800 and event["after"]["estimated_value"] == 1250
    assert event["before"]["source"] == "phone_call" and event["after"]["expected_close_date"] == "2026-11-10"
    call(store, "update_lead", lead_id="L-1", remove_tags=["urgent"])
    assert store.require("leads", "L-1")["tags"] == []
    code, screen = cli("--json", "pipeline")
    [late] = json.loads(screen)["past_expected_close"]
    assert (late["id"], late["expected_close_date"]) == ("L-1", "2026-11-10")
    with pytest.raises(ToolArgumentError, match="source"):
        call(store, "update_lead", lead_id="L-1", source="carrier pigeon")


def test_a_closed_lead_keeps_its_history_but_takes_notes_and_tags(store: Store):
    c = dana(store)
    call(store, "create_lead", title="Pool", contact_id=c["contact_id"])
    call(store, "disqualify_lead", lead_id="L-1", reason="outside_scope")
    call(store, "update_lead", lead_id="L-1", add_tags=["pool"], notes="Referred to PoolCo")
    with pytest.raises(IllegalTransition, match="only its notes and tags can change"):
        call(store, "update_lead", lead_id="L-1", estimated_value=100)


def test_with_no_query_find_leads_lists_the_open_leads(store: Store):
    c = dana(store)
    for title in ("Kitchen sink", "Water softener", "Pool"):
        call(store, "create_lead", title=title, contact_id=c["contact_id"])
    call(store, "qualify_lead", lead_id="L-2", pipeline_stage="estimate_sent")
    call(store, "disqualify_lead", lead_id="L-3", reason="outside_scope")
    listed = call(store, "find_leads")
    assert [lead["lead_id"] for lead in listed["leads"]] == ["L-1", "L-2"] and listed["total"] == 2
    out = call(store, "find_leads", pipeline_stage=["estimate_sent"])
    assert [lead["lead_id"] for lead in out["leads"]] == ["L-2"]
    closed = call(store, "find_leads", status=["disqualified"])
    assert [lead["lead_id"] for lead in closed["leads"]] == ["L-3"]
    assert call(store, "find_leads", limit=1)["total"] == 2


# ---------------------------------------------------------------------------- jobs
def a_job(store: Store) -> str:
    c = dana(store)
    call(store, "create_lead", title="Kitchen sink", contact_id=c["contact_id"], estimated_value=900)
    call(store, "qualify_lead", lead_id="L-1")
    return str(call(store, "convert_lead", lead_id="L-1")["opportunity"]["opportunity_id"])


def test_a_job_reaches_proposal_sent_with_its_date_and_feeds_the_pipeline(cli, store: Store):
    job = a_job(store)
    call(store, "update_opportunity", opportunity_id=job, stage="scheduled", needs_site_visit=True)
    result = call(store, "update_opportunity", opportunity_id=job, stage="proposal_sent", amount=2150,
                  expected_close_date="2026-11-18", competitor="Acme Plumbing")  # fmt: skip
    assert result["changed"] == ["amount", "competitor", "expected_close_date", "proposal_sent_date", "stage"]
    saved = store.require("opportunities", job)
    assert (saved["stage"], saved["proposal_sent_date"], saved["amount"]) == ("proposal_sent", "2026-11-20", 2150)
    assert saved["competitor"] == "Acme Plumbing" and saved["needs_site_visit"] is True
    moved = last_event(store, job)
    assert moved["action"] == "stage_changed" and moved["before"]["stage"] == "scheduled"
    code, screen = cli("pipeline")
    assert "Proposals out: 1 (total value: $2,150)" in screen
    assert "Past their expected close date" in screen and "2026-11-18" in screen
    with pytest.raises(ToolArgumentError, match="amount: cannot be negative"):
        call(store, "update_opportunity", opportunity_id=job, amount=-5000)
    assert store.require("opportunities", job)["amount"] == 2150


def test_a_closed_job_takes_a_competitor_and_notes_only(store: Store):
    job = a_job(store)
    call(store, "mark_opportunity_lost", opportunity_id=job, reason="price")
    call(store, "update_opportunity", opportunity_id=job, competitor="Budget Pipes", notes="Half our price")
    assert store.require("opportunities", job)["competitor"] == "Budget Pipes"
    with pytest.raises(IllegalTransition, match="only its notes, competitors and class can change"):
        call(store, "update_opportunity", opportunity_id=job, amount=100)


# ---------------------------------------------------------------------------- history
def test_a_timeline_shows_interactions_and_changes_oldest_first(store: Store):
    job = a_job(store)
    walked = call(store, "log_interaction", type="phone_call", opportunity_id=job, body="Walked the site",
                  follow_up_date="2026-11-23")["interaction"]  # fmt: skip
    call(store, "update_contact", contact_id="C-1", phone="555-201-9000")
    call(store, "update_opportunity", opportunity_id=job, stage="proposal_sent")
    call(store, "complete_follow_up", interaction_id=walked["interaction_id"])
    for record_id in ("C-1", "L-1", job):
        result = call(store, "timeline", record_id=record_id)
        texts = [e["text"] for e in result["timeline"]]
        ats = [e["at"] for e in result["timeline"]]
        assert ats == sorted(ats), record_id
        assert any("Walked the site" in t for t in texts), record_id
        assert any("stage: estimating → proposal_sent" in t for t in texts), record_id
        assert any("follow up status: pending → completed" in t for t in texts), record_id
    contact_texts = [e["text"] for e in call(store, "timeline", record_id="C-1")["timeline"]]
    assert contact_texts[0] == "contact added"
    assert any("phones: +15552017788 → +15552019000" in t for t in contact_texts)
    lead_texts = [e["text"] for e in call(store, "timeline", record_id="L-1")["timeline"]]
    assert lead_texts[0] == "lead opened" and any("status: new → qualified" in t for t in lead_texts)
    same = call(store, "timeline", record_id="L-1")["timeline"]
    assert call(store, "lead_timeline", lead_id="L-1")["timeline"] == same
    with pytest.raises(NotFound, match="not a contact, lead or job id"):
        call(store, "timeline", record_id="I-1")


def test_every_tool_parameter_is_described_for_the_model():
    from backoffice.tools.catalog import all_tools

    mine = ("log_interaction", "complete_follow_up", "cancel_follow_up", "reschedule_follow_up", "update_contact",
            "create_lead", "find_leads", "update_lead", "qualify_lead", "disqualify_lead", "convert_lead",
            "find_opportunities", "update_opportunity", "mark_opportunity_won", "mark_opportunity_lost",
            "draft_follow_up", "timeline", "lead_timeline", "last_touchpoint", "newest_customers", "follow_ups_due",
            "stale_leads", "morning_digest", "pipeline_summary", "winloss_summary")  # fmt: skip
    tools = all_tools()
    bare = [f"{name}.{p}" for name in mine
            for p, spec in tools[name].definition()["input_schema"]["properties"].items()
            if not spec.get("description")]  # fmt: skip
    assert bare == []


def test_the_open_leads_listing_is_what_the_json_export_holds(cli, data_dir: Path):
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(data_dir)
    c = dana(store)
    call(store, "create_lead", title="Kitchen sink", contact_id=c["contact_id"])
    store.close()
    code, screen = cli("--json", "export", "leads", "-")
    [row] = json.loads(screen)
    assert row["lead_id"] == "L-1" and call(Store(data_dir), "find_leads")["leads"][0]["lead_id"] == "L-1"


def test_a_phone_another_contact_already_has_is_added_and_the_owner_told(store: Store):
    dana(store)
    add_contact(store, name="Sam Lee", phone="555-301-2222")
    result = call(store, "update_contact", contact_id="C-1", add_phone="(555) 301-2222")
    assert "Sam Lee (C-2) has that phone (+15553012222) too." in result["message"]
    assert store.require("contacts", "C-1")["phones"] == ["+15552017788", "+15553012222"]


def test_an_amount_that_cannot_be_read_is_asked_for_once_and_changes_nothing_until_answered(cli, data_dir, monkeypatch):
    # A new owner saw "What should the amount be?" followed by "What should it be?".
    from .test_offline_chat import demo, reopen

    demo(data_dir, monkeypatch)
    code, screen = cli("chat", stdin="bump the sump pump lead to $1e9\n")
    assert screen.count("?") - screen.split("you> bump")[0].count("?") == 1 and "could not read an amount" in screen
    assert reopen(data_dir).require("leads", "L-5").get("estimated_value") is None


def test_how_a_customer_heard_about_us_can_be_set_later(cli, data_dir, monkeypatch):
    # A new owner could not say where Mike came from once he was added.
    from .test_offline_chat import demo, events, reopen

    demo(data_dir, monkeypatch)
    code, screen = cli("chat", stdin="source for marcus is yelp\nray heard about us from nextdoor\n")
    store = reopen(data_dir)
    assert store.require("contacts", "C-4")["source"] == "Yelp"
    assert store.require("contacts", "C-3")["source"] == "Nextdoor"
    assert any(e.get("after", {}).get("source") == "Yelp" for e in events(data_dir, "C-4"))


def test_a_rival_quoting_and_where_a_lead_came_from_are_said_in_the_chat(cli, data_dir, monkeypatch):
    from .test_offline_chat import demo, events, reopen

    demo(data_dir, monkeypatch)
    cli("chat", stdin="acme plumbing is also quoting the kitchen remodel\n"
                      "we are up against budget pipes on the boiler job\n"
                      "the sump pump lead came from google ads\n")  # fmt: skip
    store = reopen(data_dir)
    assert "Acme Plumbing" in store.require("leads", "L-4")["competitors"]
    assert "Budget Pipes" in store.require("opportunities", "O-2")["competitors"]
    assert store.require("leads", "L-5")["source_detail"] == "Google Ads"
    assert any("Acme Plumbing" in (e.get("after") or {}).get("competitors", []) for e in events(data_dir, "L-4"))
