"""Inbound email: real-world MIME shapes become one lead each; machines' mail becomes none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backoffice.agent.gate.pending import PendingStore
from backoffice.agent.inbound import handle_inbound
from backoffice.tools.book.store import Store
from backoffice.tools.mail.parse import html_to_text, parse_email, trim_reply

from .conftest import add_contact, call, lines, records

MAIL = Path(__file__).parent / "fixtures" / "mail"


def raw(name: str) -> bytes:
    return (MAIL / name).read_bytes()


def test_multipart_quoted_printable_with_an_encoded_name_and_a_signature_phone(store: Store):
    result = handle_inbound(store, raw("alternative.eml"))
    assert result.status == "lead"
    contact = store.require("contacts", result.contact_id)
    assert (contact["first_name"], contact["last_name"]) == ("María", "González")
    assert contact["emails"] == ["Maria.Gonzalez@example.com"] and contact["phones"] == ["+18506444200"]
    lead = store.require("leads", result.lead_id)
    assert (lead["source"], lead["status"], lead["pipeline_stage"]) == ("email", "new", "inquiry")
    assert lead["title"] == "Water heater leaking in the basement"
    [item] = store.linked("interactions", "lead_id", result.lead_id)
    assert item["type"] == "email_inbound" and item["message_id"] == "<CAF8x7Ykq1@mail.gmail.com>"
    # the plain part, decoded, without the signature
    assert item["body"].startswith("Hi,\n\nOur water heater started leaking this morning — there's a puddle")
    assert "Birch Ln" not in item["body"] and item["timestamp"].startswith("2026-11-23T15:12:01")


def test_html_only_is_converted_and_quoted_thread_dropped(store: Store):
    result = handle_inbound(store, raw("html_only.eml"))
    [item] = store.linked("interactions", "lead_id", result.lead_id)
    assert "We’re redoing our upstairs bathroom & need a plumber for the" in item["body"]
    assert "- Budget around $6k" in item["body"] and "color: red" not in item["body"]
    assert "please ignore" not in item["body"]


def test_latin1_body_attachment_and_a_phone_in_the_text(store: Store):
    result = handle_inbound(store, raw("latin1_attachment.eml"))
    contact = store.require("contacts", result.contact_id)
    assert contact["first_name"] == "René" and contact["phones"] == ["+15145550199"]
    [item] = store.linked("interactions", "lead_id", result.lead_id)
    assert "fuite sous l'évier de la cuisine" in item["body"] and item["body"].endswith("Attachments: sink.jpg")
    assert store.require("leads", result.lead_id)["title"] == "Fuite sous l'évier"


def test_missing_headers_still_make_one_lead_and_only_one(store: Store):
    first = handle_inbound(store, raw("no_headers.eml"))
    again = handle_inbound(store, raw("no_headers.eml"))
    assert first.status == "lead" and again.status == "duplicate"
    assert store.require("contacts", first.contact_id)["phones"] == ["+15553012222"]
    assert store.count("leads") == 1


@pytest.mark.parametrize(
    "name, why",
    [
        ("newsletter.eml", "bulk mail"),
        ("autoreply.eml", "automatic message"),
        ("bounce.eml", "bounce"),
    ],
)
def test_machines_mail_is_not_a_lead(store: Store, name: str, why: str):
    result = handle_inbound(store, raw(name))
    assert result.status == "skipped" and why in result.message
    assert store.count("leads") == 0 and store.count("contacts") == 0


def test_the_owners_own_mail_is_not_a_lead(data_dir: Path):
    from backoffice.tools.book.settings import Settings, save_settings

    save_settings(data_dir, Settings(owner_email="maria.gonzalez@EXAMPLE.com"))
    store = Store(data_dir)
    assert handle_inbound(store, raw("alternative.eml")).status == "lead"  # the local part differs in case
    save_settings(data_dir, Settings(owner_email="Maria.Gonzalez@example.com"))
    other = Store(data_dir)
    mail = raw("html_only.eml").replace(b'"Tom Becker" <tom@beckerhome.test>', b"Maria.Gonzalez@example.com")
    assert handle_inbound(other, mail).status == "skipped"
    store.close()
    other.close()


def test_polling_the_same_messages_again_creates_nothing(store: Store):
    names = sorted(p.name for p in MAIL.glob("*.eml"))
    first = [handle_inbound(store, raw(n)).status for n in names]
    before = {t: store.count(t) for t in ("contacts", "leads", "interactions")}
    second = [handle_inbound(store, raw(n)).status for n in names]
    assert first.count("lead") == 6 and first.count("skipped") == 3
    assert set(second) == {"duplicate", "skipped"}
    assert {t: store.count(t) for t in ("contacts", "leads", "interactions")} == before


def test_a_reply_on_a_known_thread_is_logged_on_the_open_lead(store: Store):
    c = add_contact(store, name="Linda Ortiz", phone="555-444-1212", email="linda@ortiz.test")
    lead = call(store, "create_lead", title="Sump pump", contact_id=c["contact_id"], source="phone_call")["lead"]
    call(
        store,
        "log_interaction",
        type="email_outbound",
        lead_id=lead["lead_id"],
        subject="Site visit for the sump pump",
        message_id="<bo-visit-offer@backoffice.local>",
    )
    result = handle_inbound(store, raw("cp1252_reply.eml"))
    assert result.status == "logged" and result.lead_id == lead["lead_id"]
    assert store.count("leads") == 1
    items = store.linked("interactions", "lead_id", lead["lead_id"])
    reply = next(i for i in items if i["type"] == "email_inbound")
    assert reply["body"] == "Thursday works – see you at 9."  # Windows-1252 dash; the quoted original dropped


def test_mail_from_a_known_contact_with_an_open_job_is_logged_on_the_job(store: Store):
    c = add_contact(store, name="Tom Becker", phone="555-444-1313", email="tom@beckerhome.test", address="9 Elm St")
    lead = call(store, "create_lead", title="Bath", contact_id=c["contact_id"])["lead"]
    call(store, "qualify_lead", lead_id=lead["lead_id"])
    job = call(store, "convert_lead", lead_id=lead["lead_id"])["opportunity"]
    result = handle_inbound(store, raw("html_only.eml"))
    assert result.status == "logged" and result.opportunity_id == job["opportunity_id"]
    assert store.count("leads") == 1


def test_instructions_in_an_email_create_one_lead_and_nothing_else(store: Store, data_dir: Path):
    c = add_contact(store, name="Dana Reyes", phone="555-201-7788", email="dana@example.com", address="14 Oak St")
    lead = call(store, "create_lead", title="Kitchen", contact_id=c["contact_id"])["lead"]
    call(store, "qualify_lead", lead_id=lead["lead_id"])
    job = call(store, "convert_lead", lead_id=lead["lead_id"])["opportunity"]
    before = {t: records(store, t) for t in ("contacts", "opportunities")}
    result = handle_inbound(store, raw("hostile.eml"))
    assert result.status == "lead" and store.count("leads") == 2
    after = {t: records(store, t) for t in ("contacts", "opportunities")}
    assert after["opportunities"] == before["opportunities"]  # nothing won
    assert store.require("opportunities", job["opportunity_id"])["stage"] == "estimating"
    assert len(after["contacts"]) == 2  # only Mallory was added
    assert PendingStore(data_dir).all() == []  # nothing asked for, nothing queued
    assert not (data_dir / "outbox").exists()  # nothing sent
    events = [e for e in store.events() if e["actor"] == "email"]
    assert events and {e["record_type"] for e in events} <= {"contact", "lead", "interaction"}


def test_inbound_command_reports_each_file_and_the_chat_tells_the_owner(cli, data_dir: Path):
    code, screen = cli("inbound", str(MAIL / "alternative.eml"), str(MAIL / "newsletter.eml"))
    assert code == 0
    assert "alternative.eml: New inquiry from María González" in screen
    assert "newsletter.eml: Not an inquiry: it is bulk mail" in screen
    code, screen = cli("--json", "inbound", str(MAIL / "alternative.eml"))
    assert json.loads(screen)[0]["status"] == "duplicate"
    code, screen = cli("inbound", str(MAIL / "nope.eml"))
    assert code == 1 and "No such file" in screen
    code, screen = cli("chat", stdin=lines("quit"))
    assert "Email from María González" in screen and "Our water heater started leaking" in screen
    code, screen = cli("chat", stdin=lines("quit"))
    assert "Email from María González" not in screen


def test_reply_trimming_and_html_conversion_units():
    text = "Yes please.\n\nOn Mon, Nov 23, 2026 at 4:00 PM Reyes Plumbing <o@r.test> wrote:\n> Could we come?\n"
    assert trim_reply(text) == "Yes please."
    assert trim_reply("Sounds good\n> old line\nThanks\n-- \nBob\n555-1212") == "Sounds good\nThanks"
    assert trim_reply("Fine.\n\nSent from my iPhone") == "Fine."
    assert html_to_text("<p>A&amp;B</p><script>x()</script><p>C</p>") == "A&B\n\nC"
    mail = parse_email(b"From: =?utf-8?b?w4lsaXNl?= <e@x.test>\r\nSubject: Re: Fwd: Quote\r\n\r\nHi")
    assert (mail.sender_name, mail.topic, mail.message_id.startswith("<no-id-")) == ("Élise", "Quote", True)
