"""QuickBooks through the real python-quickbooks and intuit-oauth clients, against a local fake."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from backoffice.agent.orchestrator import build
from backoffice.tools.accounting import quickbooks
from backoffice.tools.book.store import Store
from backoffice.tools.errors import NotConnected
from backoffice.tools.services import Services

from .conftest import add_contact, call, lines
from .fakes.quickbooks_api import FakeQuickBooks, serve


@pytest.fixture
def qbo(monkeypatch: pytest.MonkeyPatch, services: Services):
    with serve() as fake:
        services.quickbooks_discovery_url = f"{fake.url}/discovery"
        services.quickbooks_api_url = f"{fake.url}/v3"
        monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain http
        yield fake


def connect(data_dir: Path, access: str = "access-0", refresh: str = "refresh-0") -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    quickbooks.save_tokens(
        data_dir,
        {
            "client_id": "app-id",
            "client_secret": "app-secret",
            "environment": "sandbox",
            "realm_id": "9130",
            "access_token": access,
            "refresh_token": refresh,
            "access_expires_at": "2026-11-20T16:00:00+00:00",
        },
    )


def open_job(
    store: Store, name: str = "Dana Reyes", email: str = "dana@example.com", address: str = "14 Oak St"
) -> tuple[dict, dict]:
    """A contact with a Kitchen sink job in progress: (contact, job)."""
    c = add_contact(store, name=name, phone="555-201-7788", email=email, address=address)
    lead = call(store, "create_lead", title="Kitchen sink", contact_id=c["contact_id"])["lead"]
    call(store, "qualify_lead", lead_id=lead["lead_id"])
    return c, call(store, "convert_lead", lead_id=lead["lead_id"], amount=1800)["opportunity"]


def won_customer(store: Store, name: str = "Dana Reyes", email: str = "dana@example.com") -> str:
    c, job = open_job(store, name, email, address="14 Oak St, Springfield")
    result = call(store, "mark_opportunity_won", opportunity_id=job["opportunity_id"])
    assert result["quickbooks_needed"] == [{"contact_id": c["contact_id"], "name": name}]
    return str(c["contact_id"])


def sync(store: Store, contact_id: str):
    orch = build(store, None, origin="ask", offline=True)
    action = orch.gate.call("create_quickbooks_customer", {"contact_id": contact_id})
    assert action.status == "pending"  # never without the owner's yes
    return orch, action.action, orch.gate.execute(action.action.id, by="owner")


def test_a_new_customer_is_created_once_with_name_phone_email_and_address(store: Store, data_dir: Path, qbo):
    contact_id = won_customer(store)
    connect(data_dir)
    orch, action, outcome = sync(store, contact_id)
    assert outcome.status == "ok" and outcome.message == "Created Dana Reyes in QuickBooks (QuickBooks id 58)."
    [created] = qbo.customers
    assert created["DisplayName"] == "Dana Reyes" and created["GivenName"] == "Dana"
    assert created["PrimaryEmailAddr"] == {"Address": "dana@example.com"}
    assert created["PrimaryPhone"] == {"FreeFormNumber": "(555) 201-7788"}
    assert created["BillAddr"]["Line1"] == "14 Oak St, Springfield"
    assert store.require("contacts", contact_id)["quickbooks_customer_id"] == "58"
    [job] = store.linked("opportunities", "contact_id", contact_id)
    assert job["quickbooks_synced"] is True
    # asked again (a retry, a second approval): nothing more reaches QuickBooks
    assert orch.gate.execute(action.id, by="owner").status == "already"
    assert orch.gate.call("create_quickbooks_customer", {"contact_id": contact_id}).status == "already"
    assert len(qbo.creates()) == 1


def test_an_existing_customer_is_found_and_linked_not_duplicated(store: Store, data_dir: Path, qbo):
    qbo.customers.append({"Id": "7", "DisplayName": "D. Reyes", "PrimaryEmailAddr": {"Address": "DANA@example.com"}})
    contact_id = won_customer(store)
    connect(data_dir)
    _, _, outcome = sync(store, contact_id)
    assert outcome.message == "Linked Dana Reyes to the existing QuickBooks customer (QuickBooks id 7)."
    assert qbo.creates() == [] and store.require("contacts", contact_id)["quickbooks_customer_id"] == "7"
    queries = [body for method, path, body in qbo.requests if path.endswith("/query")]
    assert queries[0] == "SELECT * FROM Customer WHERE DisplayName = 'Dana Reyes' AND Active IN (true, false)"
    assert "PrimaryEmailAddr = 'dana@example.com'" in queries[1]


def test_a_name_with_a_quote_is_searched_safely(store: Store, data_dir: Path, qbo):
    qbo.customers.append({"Id": "9", "DisplayName": "Pat O'Brien"})
    contact_id = won_customer(store, name="Pat O'Brien", email="pat@obrien.test")
    connect(data_dir)
    _, _, outcome = sync(store, contact_id)
    assert "(QuickBooks id 9)" in outcome.message and qbo.creates() == []


def test_an_expired_access_token_is_refreshed_once_and_the_rotated_refresh_token_saved(
    store: Store, data_dir: Path, qbo: FakeQuickBooks
):
    contact_id = won_customer(store)
    connect(data_dir)
    qbo.expire_access_tokens()  # QuickBooks answers 401
    _, _, outcome = sync(store, contact_id)
    assert outcome.status == "ok" and len(qbo.customers) == 1
    saved = json.loads((data_dir / quickbooks.TOKEN).read_text())
    assert (saved["access_token"], saved["refresh_token"]) == ("access-1", "refresh-1")
    assert "refresh-0" in qbo.spent  # the old refresh token no longer works: it had to be saved
    assert stat.S_IMODE((data_dir / quickbooks.TOKEN).stat().st_mode) == 0o600


def test_a_revoked_connection_leaves_the_sync_waiting(store: Store, data_dir: Path, qbo: FakeQuickBooks):
    contact_id = won_customer(store)
    connect(data_dir)
    qbo.revoke()
    orch, action, outcome = sync(store, contact_id)
    assert outcome.status == "pending" and "backoffice quickbooks auth" in outcome.message
    assert orch.gate.pending.get(action.id).status == "pending" and qbo.creates() == []
    assert store.require("contacts", contact_id).get("quickbooks_customer_id") is None


def test_not_connected_keeps_the_sync_pending(store: Store, data_dir: Path):
    contact_id = won_customer(store)
    orch, action, outcome = sync(store, contact_id)
    assert outcome.status == "pending" and "QuickBooks is not connected yet" in outcome.message
    assert orch.gate.pending.get(action.id).status == "pending"


def test_a_duplicate_name_fault_becomes_a_plain_message(store: Store, data_dir: Path, qbo: FakeQuickBooks):
    qbo.other_names.add("Dana Reyes")  # a vendor of the same name
    contact_id = won_customer(store)
    connect(data_dir)
    orch, action, outcome = sync(store, contact_id)
    assert outcome.status == "error"
    assert "QuickBooks already has a customer, vendor or employee called Dana Reyes" in outcome.message
    assert store.require("contacts", contact_id).get("quickbooks_customer_id") is None


def test_winning_in_the_chat_asks_about_quickbooks_and_creates_on_yes(cli, store: Store, data_dir: Path, qbo):
    open_job(store)
    connect(data_dir)
    code, screen = cli("chat", stdin=lines("mark Kitchen sink won", "yes", "yes", "quit"))
    assert "Create Dana Reyes in QuickBooks" in screen and "Created Dana Reyes in QuickBooks" in screen
    assert len(qbo.customers) == 1


def test_approving_a_won_job_later_queues_the_quickbooks_question(cli, store: Store, data_dir: Path):
    open_job(store)
    code, screen = cli("ask", "mark Kitchen sink won")
    assert "P-1" in screen
    code, screen = cli("approve", "P-1")
    assert code == 0 and "P-2" in screen
    code, screen = cli("pending")
    assert "Create Dana Reyes in QuickBooks" in screen


def test_connecting_checks_the_pasted_address_and_saves_tokens_0600(
    data_dir: Path, qbo: FakeQuickBooks, cli, services: Services, store: Store
):
    app = {"client_id": "app-id", "client_secret": "s", "redirect_uri": "http://localhost/cb", "environment": "sandbox"}
    url, state = quickbooks.authorization_url(app, services)
    assert url.startswith(f"{qbo.url}/connect/oauth2?") and f"state={state}" in url
    with pytest.raises(NotConnected, match="different sign-in attempt"):
        quickbooks.finish_connect(
            data_dir, "http://localhost/cb?code=good-code&realmId=9130&state=x", state, app, services
        )
    with pytest.raises(NotConnected, match="no code and realmId"):
        quickbooks.finish_connect(data_dir, "http://localhost/cb?state=" + state, state, app, services)
    assert not (data_dir / quickbooks.TOKEN).exists()
    tokens = quickbooks.finish_connect(
        data_dir, f"http://localhost/cb?code=good-code&realmId=9130&state={state}", state, app, services
    )
    assert tokens["realm_id"] == "9130" and tokens["refresh_token"] == "refresh-1"
    assert stat.S_IMODE((data_dir / quickbooks.TOKEN).stat().st_mode) == 0o600
    code, screen = cli("quickbooks", "status")
    assert "QuickBooks company 9130 (sandbox)" in screen
    code, screen = cli("quickbooks", "auth")
    assert code == 1 and "--client-id and --client-secret" in screen
    keys = ("--client-id", "app-id", "--client-secret", "s", "--redirect-uri", "https://office.example/qbo")
    code, screen = cli("quickbooks", "auth", *keys, stdin="\n")
    assert "must list this exact redirect URI" in screen and "https://office.example/qbo" in screen


def test_doctor_reports_each_integration(cli, store, data_dir: Path, qbo: FakeQuickBooks):
    code, screen = cli("--json", "doctor")
    rows = {r["name"]: r for r in json.loads(screen)}
    assert code == 0 and rows["Gmail"]["configured"] is False and rows["QuickBooks"]["configured"] is False
    connect(data_dir)
    code, screen = cli("--json", "doctor")
    rows = {r["name"]: r for r in json.loads(screen)}
    assert rows["QuickBooks"]["ok"] is True and rows["QuickBooks"]["last_success"]
    qbo.revoke()
    code, screen = cli("doctor")
    assert code == 1 and "QuickBooks refused the saved sign-in" in screen
