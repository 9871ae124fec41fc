"""How a job ends. A loss keeps its reason and who got the work, closed jobs can still be found, and
what is drafted afterwards fits a lost job. A win asks about QuickBooks once, and says at once when
QuickBooks is not connected. Friday 2026-11-20."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backoffice.tools.book.store import Store
from backoffice.tools.errors import MissingInformation

from .conftest import add_contact, call, lines, records
from .fakes.quickbooks_api import serve
from .test_quickbooks import connect


def book(data_dir: Path) -> Store:
    data_dir.mkdir(parents=True, exist_ok=True)
    return Store(data_dir)


def reyes_job(store: Store) -> str:
    c = add_contact(store, name="Dana Reyes", phone="555-201-7788", email="dana@example.com", address="14 Oak St")
    call(store, "create_lead", title="Kitchen remodel", contact_id=c["contact_id"], estimated_value=8000)
    call(store, "qualify_lead", lead_id="L-1")
    return str(call(store, "convert_lead", lead_id="L-1")["opportunity"]["opportunity_id"])


# ---------------------------------------------------------------------------- losses
def test_a_loss_records_the_reason_and_the_competitor(cli, data_dir: Path):
    store = book(data_dir)
    job = reyes_job(store)
    result = call(store, "mark_opportunity_lost", opportunity_id=job, reason="price", competitor=" Acme  Plumbing ",
                  note="went with a cheaper guy")  # fmt: skip
    assert result["message"].startswith("Marked Kitchen remodel lost (price, to Acme Plumbing).")
    saved = store.require("opportunities", job)
    assert (saved["stage"], saved["lost_reason"], saved["competitor"]) == ("lost", "price", "Acme Plumbing")
    assert saved["lost_note"] == "went with a cheaper guy" and saved["close_date"] == "2026-11-20"
    lost = [e for e in store.events(job) if e["action"] == "lost"][-1]
    assert lost["before"]["competitor"] is None and lost["after"]["competitor"] == "Acme Plumbing"
    store.close()
    code, screen = cli("winloss", "--month", "2026-11")
    assert "Why jobs were lost: price 1" in screen and "Lost to: Acme Plumbing 1" in screen
    code, screen = cli("--json", "winloss", "--month", "2026-11")
    assert json.loads(screen)["lost_to"] == {"Acme Plumbing": 1}


def test_naming_a_competitor_alone_means_the_reason_is_competition(store: Store):
    job = reyes_job(store)
    call(store, "mark_opportunity_lost", opportunity_id=job, competitor="Acme Plumbing")
    assert store.require("opportunities", job)["lost_reason"] == "competition"


def test_a_loss_without_any_reason_is_refused_and_changes_nothing(store: Store):
    job = reyes_job(store)
    events = len(store.events())
    with pytest.raises(MissingInformation, match="Why was Kitchen remodel lost"):
        call(store, "mark_opportunity_lost", opportunity_id=job)
    assert store.require("opportunities", job)["stage"] == "estimating" and len(store.events()) == events


def test_losing_a_lost_job_again_adds_the_competitor_and_keeps_the_rest(store: Store):
    job = reyes_job(store)
    call(store, "mark_opportunity_lost", opportunity_id=job, reason="price")
    again = call(store, "mark_opportunity_lost", opportunity_id=job, reason="timing", competitor="Acme Plumbing")
    assert again["already"] is True and "already marked lost to Acme Plumbing on Fri Nov 20 (price)" in again["message"]
    saved = store.require("opportunities", job)
    assert (saved["lost_reason"], saved["competitor"]) == ("price", "Acme Plumbing")
    assert store.events(job)[-1]["action"] == "loss_details"


def test_closed_jobs_are_found_when_the_request_is_about_them(store: Store):
    job = reyes_job(store)
    call(store, "mark_opportunity_lost", opportunity_id=job, reason="price")
    found = call(store, "find_opportunities", query="Reyes")["opportunities"]
    assert [(o["opportunity_id"], o["stage"]) for o in found] == [(job, "lost")]
    assert call(store, "find_opportunities", query="Reyes", open_only=True)["opportunities"] == []
    assert [o["opportunity_id"] for o in call(store, "find_opportunities", stage=["lost"])["opportunities"]] == [job]
    assert call(store, "find_opportunities", query="Reyes", stage=["won"])["opportunities"] == []


def test_the_follow_up_drafted_after_a_loss_is_a_check_back(store: Store):
    job = reyes_job(store)
    call(store, "mark_opportunity_lost", opportunity_id=job, reason="competition", competitor="Acme Plumbing")
    for args in ({"opportunity_id": job}, {"contact_id": "C-1"}):  # the job, or the reminder on the person
        draft = call(store, "draft_follow_up", **args)
        assert draft["stage"] == "lost" and draft["opportunity_id"] == job
        assert draft["body"].startswith("Hi Dana,") and "wanted to check in" in draft["body"]
        assert "the kitchen remodel" in draft["body"] and draft["subject"] == "Kitchen remodel — checking in"
        assert "getting in touch" not in draft["body"] and "take a look" not in draft["body"]


def test_after_a_loss_in_the_chat_the_reminder_is_set_on_the_person(cli, data_dir: Path):
    store = book(data_dir)
    reyes_job(store)
    store.close()
    code, screen = cli("chat", stdin=lines("we lost the Reyes job, price", "yes"))
    assert "Marked Kitchen remodel lost (price)" in screen
    store = book(data_dir)
    [reminder] = [i for i in records(store, "interactions") if i["follow_up_status"] == "pending"]
    assert reminder["contact_id"] == "C-1" and reminder.get("lead_id") is None
    draft = call(store, "draft_follow_up", contact_id="C-1")
    assert draft["stage"] == "lost"


# ---------------------------------------------------------------------------- wins and QuickBooks
def test_a_win_approved_later_says_at_once_that_quickbooks_is_not_connected(cli, data_dir: Path, services,
                                                                              monkeypatch):  # fmt: skip
    store = book(data_dir)
    reyes_job(store)
    store.close()
    code, screen = cli("ask", "mark the Reyes job won")
    assert code == 0 and "P-1" in screen
    code, screen = cli("approve", "P-1")
    assert code == 0 and "Marked Kitchen remodel won." in screen
    assert "QuickBooks is not connected yet: connect it with" in screen and "backoffice quickbooks auth" in screen
    assert "'Create Dana Reyes in QuickBooks' waits as P-2" in screen
    store = book(data_dir)
    assert store.require("opportunities", "O-1")["stage"] == "won"
    assert store.require("contacts", "C-1")["lifecycle_stage"] == "customer"
    assert store.require("contacts", "C-1").get("quickbooks_customer_id") is None
    store.close()
    code, screen = cli("--json", "pending")
    assert [(a["id"], a["tool"]) for a in json.loads(screen)] == [("P-2", "create_quickbooks_customer")]
    with serve() as fake:
        services.quickbooks_discovery_url = f"{fake.url}/discovery"
        services.quickbooks_api_url = f"{fake.url}/v3"
        connect(data_dir)
        monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain http
        code, screen = cli("approve", "P-2")
        assert code == 0 and "Created Dana Reyes in QuickBooks" in screen and len(fake.customers) == 1
    assert book(data_dir).require("contacts", "C-1")["quickbooks_customer_id"] == "58"


def test_a_win_in_the_chat_never_shows_a_quickbooks_card_that_cannot_work(cli, data_dir: Path):
    store = book(data_dir)
    reyes_job(store)
    store.close()
    code, screen = cli("chat", stdin=lines("mark the Reyes job won", "yes"))
    assert screen.count("Go ahead? [yes/no]") == 1  # the win itself, and nothing else
    assert "QuickBooks is not connected yet" in screen and "waits as P-2" in screen
    code, screen = cli("--json", "pending")
    assert [a["id"] for a in json.loads(screen)] == ["P-2"]


def test_a_win_with_quickbooks_connected_asks_once_and_creates_once(cli, data_dir: Path, services, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    store = book(data_dir)
    reyes_job(store)
    store.close()
    with serve() as fake:
        services.quickbooks_discovery_url = f"{fake.url}/discovery"
        services.quickbooks_api_url = f"{fake.url}/v3"
        connect(data_dir)
        cli("ask", "mark the Reyes job won")
        code, screen = cli("approve", "P-1")
        assert code == 0 and "Saved for the owner's approval as P-2: Create Dana Reyes in QuickBooks" in screen
        code, screen = cli("approve", "P-2")
        assert code == 0 and "Created Dana Reyes in QuickBooks" in screen
        code, screen = cli("approve", "P-2")  # a second yes does nothing more
        assert len(fake.customers) == 1
