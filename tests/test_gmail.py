"""Gmail through google-api-python-client's own test hook (HttpMockSequence): no network."""

from __future__ import annotations

import base64
import datetime as dt
import json
import stat
from email import message_from_bytes
from pathlib import Path

import pytest
from googleapiclient.http import HttpMockSequence

from backoffice.agent.orchestrator import build
from backoffice.tools.book.store import Store
from backoffice.tools.mail import gmail_account
from backoffice.tools.services import Services

from .conftest import add_contact, call

MAIL = Path(__file__).parent / "fixtures" / "mail"
OK = {"status": "200"}


def connect(data_dir: Path, token: str = "old-token") -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / gmail_account.TOKEN).write_text(
        json.dumps(
            {
                "token": token,
                "refresh_token": "refresh-1",
                "client_id": "cid.apps.googleusercontent.com",
                "client_secret": "secret",
                "scopes": gmail_account.SCOPES,
                "expiry": "2099-01-01T00:00:00Z",
            }
        )
    )
    gmail_account.save_state(data_dir, {"email": "office@reyesplumbing.test"})


@pytest.fixture
def http(services: Services):
    """Script Gmail's answers: http(responses) installs them and returns the mock to inspect."""

    def install(responses: list[tuple[dict[str, str], str]]) -> HttpMockSequence:
        seq = HttpMockSequence(list(responses))
        services.gmail_http = lambda: seq
        return seq

    return install


def _job_with_email(store: Store) -> str:
    c = add_contact(store, name="Dana Reyes", phone="555-201-7788", email="dana@example.com", address="14 Oak St")
    return call(store, "create_lead", title="Kitchen sink", contact_id=c["contact_id"])["lead"]["lead_id"]


def _send_args(lead_id: str) -> dict[str, str]:
    return {
        "contact_id": "C-1",
        "lead_id": lead_id,
        "subject": "Kitchen sink — following up",
        "body": "Hi Dana, can we come by Monday?",
        "thread_id": "thread-77",
        "in_reply_to": "<CAF8x7Ykq1@mail.gmail.com>",
    }


def test_an_approved_message_goes_out_through_gmail_once_in_the_thread(store: Store, data_dir: Path, http):
    lead_id = _job_with_email(store)
    connect(data_dir)
    seq = http(
        [
            (OK, json.dumps({})),  # rfc822msgid search: not sent before
            (OK, json.dumps({})),  # nor anything in Sent to Dana carrying our X-Backoffice-Id
            (OK, json.dumps({"id": "gm-1", "threadId": "thread-77"})),
        ]
    )
    orch = build(store, None, origin="ask", offline=True)
    waiting = orch.gate.call("send_message", _send_args(lead_id))
    assert waiting.status == "pending" and seq.request_sequence == []  # nothing leaves before the yes
    done = orch.gate.execute(waiting.action.id, by="owner")
    assert done.status == "ok" and "Sent to Dana Reyes <dana@example.com>" in done.message
    uri, method, body, _ = seq.request_sequence[2]
    assert method == "POST" and uri.startswith("https://gmail.googleapis.com/gmail/v1/users/me/messages/send")
    sent = json.loads(body)
    assert sent["threadId"] == "thread-77"
    mime = base64.urlsafe_b64decode(sent["raw"]).decode()
    assert "In-Reply-To: <CAF8x7Ykq1@mail.gmail.com>" in mime and "can we come by Monday?" in mime
    [out] = [i for i in store.linked("interactions", "lead_id", lead_id) if i["type"] == "email_outbound"]
    assert out["message_id"].startswith("<bo-") and out["thread_id"] == "thread-77"
    # approving again, or the planner retrying: no second request to Gmail
    assert orch.gate.execute(waiting.action.id, by="owner").status == "already"
    assert orch.gate.call("send_message", _send_args(lead_id)).status == "already"
    assert len(seq.request_sequence) == 3


def test_a_send_that_went_out_before_a_crash_is_not_sent_again(store: Store, data_dir: Path, http):
    lead_id = _job_with_email(store)
    connect(data_dir)
    seq = http([(OK, json.dumps({"messages": [{"id": "gm-earlier", "threadId": "t"}]}))])
    orch = build(store, None, origin="ask", offline=True)
    action = orch.gate.call("send_message", _send_args(lead_id)).action
    assert orch.gate.execute(action.id, by="owner").status == "ok"
    assert len(seq.request_sequence) == 1 and "rfc822msgid" in seq.request_sequence[0][0]
    assert any(i["type"] == "email_outbound" for i in store.linked("interactions", "lead_id", lead_id))


def test_an_expired_token_is_refreshed_and_saved_with_0600(store: Store, data_dir: Path, http):
    lead_id = _job_with_email(store)
    connect(data_dir)
    seq = http(
        [
            ({"status": "401"}, json.dumps({"error": {"code": 401}})),
            (OK, json.dumps({"access_token": "new-token", "expires_in": 3600})),  # the refresh
            (OK, json.dumps({})),
            (OK, json.dumps({})),
            (OK, json.dumps({"id": "gm-2", "threadId": "thread-77"})),
        ]
    )
    orch = build(store, None, origin="ask", offline=True)
    action = orch.gate.call("send_message", _send_args(lead_id)).action
    assert orch.gate.execute(action.id, by="owner").status == "ok"
    assert seq.request_sequence[1][0] == "https://oauth2.googleapis.com/token"
    body = seq.request_sequence[1][2]
    assert "refresh_token=refresh-1" in (body.decode() if isinstance(body, bytes) else body)
    saved = json.loads((data_dir / gmail_account.TOKEN).read_text())
    assert saved["token"] == "new-token" and saved["refresh_token"] == "refresh-1"
    assert stat.S_IMODE((data_dir / gmail_account.TOKEN).stat().st_mode) == 0o600


def test_a_revoked_sign_in_leaves_the_message_waiting_and_says_what_to_do(store: Store, data_dir: Path, http):
    lead_id = _job_with_email(store)
    connect(data_dir)
    http(
        [
            ({"status": "401"}, "{}"),
            ({"status": "400"}, json.dumps({"error": "invalid_grant", "error_description": "Token has been revoked."})),
        ]
    )
    orch = build(store, None, origin="ask", offline=True)
    action = orch.gate.call("send_message", _send_args(lead_id)).action
    outcome = orch.gate.execute(action.id, by="owner")
    assert outcome.status == "pending" and "backoffice gmail auth" in outcome.message
    assert orch.gate.pending.get(action.id).status == "pending"
    assert not any(i["type"] == "email_outbound" for i in store.linked("interactions", "lead_id", lead_id))
    # reconnected: the same action goes out
    http([(OK, "{}"), (OK, "{}"), (OK, json.dumps({"id": "gm-3"}))])
    assert orch.gate.execute(action.id, by="owner").status == "ok"


def _listed(*ids: str) -> tuple[dict[str, str], str]:
    return OK, json.dumps({"messages": [{"id": i, "threadId": f"t-{i}"} for i in ids]})


def _message(gid: str, name: str) -> tuple[dict[str, str], str]:
    encoded = base64.urlsafe_b64encode((MAIL / name).read_bytes()).decode()
    return OK, json.dumps({"id": gid, "threadId": f"t-{gid}", "raw": encoded})


def test_polling_makes_leads_once_and_skips_what_it_has_read(cli, store: Store, data_dir: Path, http):
    connect(data_dir)
    seq = http(
        [
            (OK, json.dumps({"emailAddress": "office@reyesplumbing.test", "historyId": "100"})),
            _listed("a", "b", "c"),
            _message("a", "alternative.eml"),
            _message("b", "newsletter.eml"),
            _message("c", "html_only.eml"),
        ]
    )
    code, screen = cli("gmail", "poll")
    assert code == 0 and "2 new lead(s), 1 skipped" in screen
    assert "newer_than%3A2d" in seq.request_sequence[1][0]  # a first look reads only recent mail
    lead = store.require("leads", "L-1")
    [item] = store.linked("interactions", "lead_id", "L-1")
    assert lead["source"] == "email" and item["thread_id"] == "t-a"
    assert gmail_account.load_state(data_dir)["history_id"] == "100"
    # the next poll asks what arrived since history 100: one message already read, one new
    seq = http([_history("120", ["a", "d"]), _message("d", "alternative.eml")])
    code, screen = cli("gmail", "poll")
    assert "1 already seen" in screen and store.count("leads") == 2
    assert "history?startHistoryId=100" in seq.request_sequence[0][0]
    assert gmail_account.load_state(data_dir)["history_id"] == "120"
    code, screen = cli("gmail", "status")
    assert "office@reyesplumbing.test" in screen and "2026-11-20T10:00:00" in screen


def _history(newest: str, ids: list[str], token: str | None = None, labels: list[str] | None = None):
    page = {
        "history": [
            {
                "id": newest,
                "messagesAdded": [{"message": {"id": i, "threadId": f"t-{i}", "labelIds": labels or ["INBOX"]}}],
            }
            for i in ids
        ],
        "historyId": newest,
    }
    if token:
        page["nextPageToken"] = token
    return OK, json.dumps(page)


def test_history_sync_reads_archived_mail_and_every_page_across_restarts(cli, store: Store, data_dir: Path, http):
    """Mail archived between polls is still read (history, not an inbox search); a long absence is
    read page after page, with no cap; what we sent ourselves and drafts are not read."""
    connect(data_dir)
    gmail_account.save_state(data_dir, {"email": "office@reyesplumbing.test", "history_id": "500"})
    pages = [_history(str(501 + n), [f"m{n}"], token=f"p{n + 1}" if n < 6 else None) for n in range(7)]
    seq = http(
        [
            pages[0],
            *pages[1:],
            _message("m0", "alternative.eml"),
            _message("m1", "html_only.eml"),
            *[_message(f"m{n}", "newsletter.eml") for n in range(2, 7)],
        ]
    )
    code, screen = cli("gmail", "poll")
    assert code == 0 and "2 new lead(s), 5 skipped" in screen
    history_calls = [u for u, *_ in seq.request_sequence if "/history" in u]
    assert len(history_calls) == 7 and "pageToken=p6" in history_calls[-1]  # seven pages, none dropped
    assert gmail_account.load_state(data_dir)["history_id"] == "507"
    # a restart (new process, same data dir) goes on from 507; our own sent mail is not read
    seq = http([_history("508", ["sent-1"], labels=["SENT"])])
    code, screen = cli("gmail", "poll")
    assert "No new mail" in screen and len(seq.request_sequence) == 1
    assert "startHistoryId=507" in seq.request_sequence[0][0]


def test_expired_history_falls_back_to_a_full_sync_since_the_last_good_poll(cli, store: Store, data_dir: Path, http):
    connect(data_dir)
    gmail_account.save_state(
        data_dir, {"email": "office@reyesplumbing.test", "history_id": "9", "last_success": "2026-11-12T08:00:00"}
    )
    seq = http(
        [
            ({"status": "404"}, json.dumps({"error": {"code": 404, "message": "Requested entity was not found."}})),
            (OK, json.dumps({"emailAddress": "office@reyesplumbing.test", "historyId": "7000"})),
            (OK, json.dumps({"messages": [{"id": "x1", "threadId": "t-x1"}], "nextPageToken": "n2"})),
            _listed("x2"),
            _message("x1", "alternative.eml"),
            _message("x2", "html_only.eml"),
        ]
    )
    code, screen = cli("gmail", "poll")
    assert code == 0 and "2 new lead(s)" in screen
    listed = [u for u, *_ in seq.request_sequence if "/messages?" in u]
    assert "after%3A" in listed[0] and "pageToken=n2" in listed[1]  # the inbox since the last good poll, every page
    state = gmail_account.load_state(data_dir)
    assert state["history_id"] == "7000" and state["sync"] == "full"


def test_reads_retry_rate_limits_and_server_errors_but_a_send_is_never_retried(
    store: Store, data_dir: Path, http, services: Services
):
    waits: list[float] = []
    services.gmail_sleep = waits.append
    connect(data_dir)
    gmail_account.save_state(data_dir, {"email": "office@reyesplumbing.test", "history_id": "40"})
    rate_limited = json.dumps({"error": {"code": 429, "message": "Too many requests"}})
    http(
        [
            ({"status": "429"}, rate_limited),
            ({"status": "503"}, "{}"),
            _history("41", ["r1"]),
            ({"status": "500"}, "{}"),
            _message("r1", "alternative.eml"),
        ]
    )
    from backoffice.agent.inbound import poll_gmail

    assert poll_gmail(store) == {"lead": 1}
    assert len(waits) == 3  # three retries, each after a back-off
    # a send answered 503 is not sent again: the owner is told, the action stays for a later approval
    lead_id = store.require("leads", "L-1")["lead_id"]
    seq = http([(OK, "{}"), (OK, "{}"), ({"status": "503"}, "{}"), (OK, json.dumps({"id": "never"}))])
    orch = build(store, None, origin="ask", offline=True)
    args = {"contact_id": "C-1", "lead_id": lead_id, "subject": "Water heater", "body": "Can we come Monday?"}
    action = orch.gate.call("send_message", args).action
    outcome = orch.gate.execute(action.id, by="owner")
    sends = [r for r in seq.request_sequence if r[1] == "POST"]
    assert outcome.status == "error" and "503" in outcome.message and len(sends) == 1
    assert not [i for i in store.linked("interactions", "lead_id", lead_id) if i["type"] == "email_outbound"]


def test_a_send_gmail_gave_its_own_message_id_is_found_by_our_header(store: Store, data_dir: Path, http):
    """Gmail may replace the Message-ID we set: the sent message is then found by X-Backoffice-Id."""
    lead_id = _job_with_email(store)
    connect(data_dir)
    orch = build(store, None, origin="ask", offline=True)
    action = orch.gate.call("send_message", _send_args(lead_id)).action
    from backoffice.tools.crm.messages import SendMessageInput, message_id_for

    ours = message_id_for(store, SendMessageInput.model_validate(_send_args(lead_id)))
    header = {"payload": {"headers": [{"name": "X-Backoffice-Id", "value": ours}]}}
    seq = http(
        [
            (OK, "{}"),  # rfc822msgid finds nothing: Gmail replaced the id
            (OK, json.dumps({"messages": [{"id": "other"}, {"id": "gm-ours"}]})),
            (OK, json.dumps({"payload": {"headers": [{"name": "X-Backoffice-Id", "value": "<bo-else@x>"}]}})),
            (OK, json.dumps(header)),
        ]
    )
    outcome = orch.gate.execute(action.id, by="owner")
    assert outcome.status == "ok" and not [r for r in seq.request_sequence if r[1] == "POST"]
    assert "in%3Asent" in seq.request_sequence[1][0] and "dana%40example.com" in seq.request_sequence[1][0]


def test_status_and_sends_without_gmail(cli, store: Store, data_dir: Path):
    code, screen = cli("gmail", "status")
    assert "Gmail is not connected" in screen
    lead_id = _job_with_email(store)
    orch = build(store, None, origin="ask", offline=True)
    action = orch.gate.call("send_message", _send_args(lead_id)).action
    outcome = orch.gate.execute(action.id, by="owner")
    assert outcome.status == "ok" and "Not sent" in outcome.message and list((data_dir / "outbox").glob("*.eml"))


def test_doctor_warns_before_a_testing_mode_sign_in_ends_and_when_mail_is_set_aside(
    cli, store: Store, data_dir: Path, http
):
    connect(data_dir)
    gmail_account.save_state(
        data_dir, {"email": "office@reyesplumbing.test", "connected_at": "2026-11-14T10:00:00", "last_success": None}
    )
    http([(OK, json.dumps({"emailAddress": "office@reyesplumbing.test"}))])
    code, screen = cli("--json", "doctor")
    rows = {r["name"]: r for r in json.loads(screen)}
    assert code == 1 and rows["Gmail"]["ok"] is False
    assert "2026-11-21" in rows["Gmail"]["note"] and "--published" in rows["Gmail"]["note"]
    # declared published: no warning
    gmail_account.save_state(data_dir, {**gmail_account.load_state(data_dir), "published": True})
    http([(OK, json.dumps({"emailAddress": "office@reyesplumbing.test"}))])
    code, screen = cli("--json", "doctor")
    rows = {r["name"]: r for r in json.loads(screen)}
    assert rows["Gmail"]["ok"] is True and rows["Mail intake"]["ok"] is True
    # a message Gmail handed us that cannot be read: set aside, counted, and status is not healthy
    gmail_account.save_state(data_dir, {**gmail_account.load_state(data_dir), "history_id": "5"})
    http([_history("6", ["bad"]), _message("bad", "hostile/two_from_headers.eml")])
    code, screen = cli("gmail", "poll")
    assert code == 0 and "1 set aside" in screen
    assert (data_dir / "inbox" / "failed" / "gmail-bad.eml.reason").exists()
    assert gmail_account.load_state(data_dir)["history_id"] == "6"  # the rest of the mail goes on
    code, screen = cli("gmail", "status")
    assert code == 1 and "1 message(s) could not be read" in screen
    http([(OK, json.dumps({"emailAddress": "office@reyesplumbing.test"}))])
    code, screen = cli("--json", "doctor")
    rows = {r["name"]: r for r in json.loads(screen)}
    assert code == 1 and rows["Mail intake"]["ok"] is False and "1 message(s) set aside" in rows["Mail intake"]["note"]


def test_gmail_auth_takes_a_fixed_port_for_a_headless_server(cli, data_dir: Path, monkeypatch, http):
    import google_auth_oauthlib.flow as oauth_flow
    from google.oauth2.credentials import Credentials

    ports: list[int] = []

    class Flow:
        def run_local_server(self, port: int, open_browser: bool) -> Credentials:
            ports.append(port)
            return Credentials(
                "tok",
                refresh_token="r",
                client_id="c",
                client_secret="s",
                token_uri="https://oauth2.googleapis.com/token",
                scopes=gmail_account.SCOPES,
                expiry=dt.datetime(2099, 1, 1),
            )

    monkeypatch.setattr(oauth_flow.InstalledAppFlow, "from_client_secrets_file", lambda *a, **k: Flow())
    secrets = data_dir.parent / "client.json"
    secrets.write_text("{}")
    http([(OK, json.dumps({"emailAddress": "office@reyesplumbing.test", "historyId": "1"}))])
    code, screen = cli("gmail", "auth", "--client-secrets", str(secrets), "--no-browser", "--port", "8765")
    assert code == 0, screen
    assert ports == [8765] and "ssh -L 8765:localhost:8765" in screen
    assert "ends this sign-in after 7 days" in screen
    code, screen = cli("gmail", "auth", "--client-secrets", str(secrets), "--port", "70000")
    assert code == 1 and "not a port number" in screen and ports == [8765]


EARLIER = "<CAuxamYz4B8fUhS-wZbp1kAhbmSnokGssvE-li5ti1=@mail.gmail.com>"


def test_a_reply_to_the_customer_keeps_their_subject_and_the_whole_references_chain(store: Store, data_dir: Path, http):
    from .test_mail_intake import ENTRIES, given, raw

    entry = ENTRIES["replies/threaded_gmail_quoted.eml"]
    ids = given(store, entry)
    from backoffice.agent.inbound import handle_inbound

    theirs = handle_inbound(store, raw(entry["file"]))
    assert theirs.status == "logged"
    draft = call(store, "draft_follow_up", lead_id=ids["Water heater replacement"])
    assert draft["subject"] == "Re: Your water heater estimate" and draft["in_reply_to"] == theirs.message_id
    connect(data_dir)
    seq = http([(OK, "{}"), (OK, "{}"), (OK, json.dumps({"id": "gm-9", "threadId": "t"}))])
    orch = build(store, None, origin="ask", offline=True)
    args = {k: draft[k] for k in ("contact_id", "subject", "body", "lead_id", "in_reply_to", "thread_id") if draft[k]}
    action = orch.gate.call("send_message", args).action
    assert orch.gate.execute(action.id, by="owner").status == "ok"
    mime = base64.urlsafe_b64decode(json.loads(seq.request_sequence[2][2])["raw"]).decode()
    sent = message_from_bytes(mime.encode())
    assert sent["Subject"] == "Re: Your water heater estimate" and sent["In-Reply-To"] == theirs.message_id
    chain = " ".join(str(sent["References"]).split())
    # their own chain (an earlier message we never had, then ours), then their message
    assert chain == f"{EARLIER} <bo-3f2a9c1e7d4b@backoffice.local> {theirs.message_id}"
