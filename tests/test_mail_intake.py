"""The mail corpus (tests/fixtures/mail/MANIFEST.yaml), table-driven: every form, reply and automatic
notice read on a book holding the manifest's ``given`` records, and the book checked afterwards."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from backoffice.agent.briefings.notifications import Notifications
from backoffice.agent.gate.pending import PendingStore
from backoffice.agent.inbound import handle_inbound
from backoffice.tools.book.normalize import full_name, phone_e164
from backoffice.tools.book.store import Store

from .conftest import add_contact, call, lines

MAIL = Path(__file__).parent / "fixtures" / "mail"
MANIFEST = yaml.safe_load((MAIL / "MANIFEST.yaml").read_text(encoding="utf-8"))
ENTRIES = {e["file"]: e for e in MANIFEST["files"]}
SERVICES = {"wordpress", "wix forms", "jotform", "typeform", "formspree", "google forms", "hubspot", "netlify"}


def raw(name: str) -> bytes:
    if name == "hostile/body_5mb.eml" and not (MAIL / name).exists():
        spec = importlib.util.spec_from_file_location("make_fixtures", MAIL / "make_fixtures.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return bytes(module.FIXTURES[name]())
    return (MAIL / name).read_bytes()


def of_kind(*kinds: str) -> list[str]:
    return [e["file"] for e in MANIFEST["files"] if e["kind"] in kinds]


def given(store: Store, entry: dict[str, Any]) -> dict[str, str]:
    """The book the manifest says holds before the message arrives: name -> id of each record."""
    ids: dict[str, str] = {}
    book = entry.get("given") or {}
    if "read_first" in book:
        assert handle_inbound(store, raw(book["read_first"])).status == "lead"
    for c in book.get("contacts", []):
        found = add_contact(store, name=c["name"], email=c.get("email"), phone=c.get("phone"), address="1 Test St")
        ids[c["name"]] = found["contact_id"]
    for lead in book.get("leads", []):
        made = call(store, "create_lead", title=lead["title"], contact_id=ids[lead["contact"]], source="phone_call")
        ids[lead["title"]] = made["lead"]["lead_id"]
    for job in book.get("jobs", []):
        lead_id = call(store, "create_lead", title=job["title"], contact_id=ids[job["contact"]])["lead"]["lead_id"]
        call(store, "qualify_lead", lead_id=lead_id)
        ids[job["title"]] = call(store, "convert_lead", lead_id=lead_id)["opportunity"]["opportunity_id"]
    for n, sent in enumerate(book.get("sent", [])):
        link = {"lead_id": ids[sent["lead"]]} if "lead" in sent else {"contact_id": _by_email(store, sent["to"])}
        call(
            store,
            "log_interaction",
            type="email_outbound",
            subject=sent["subject"],
            message_id=sent.get("message_id") or f"<bo-given-{n}@backoffice.local>",
            **link,
        )
    return ids


def _by_email(store: Store, email: str) -> str:
    [contact] = store.contacts_by_email(email)
    return str(contact["contact_id"])


@pytest.mark.parametrize("name", of_kind("form"))
def test_a_web_form_is_a_lead_for_the_visitor_named_in_its_fields(store: Store, name: str):
    expect = ENTRIES[name]["expect"]
    person = expect["person"]
    result = handle_inbound(store, raw(name))
    assert result.status == "lead", result.message
    lead = store.require("leads", result.lead_id)
    contact = store.require("contacts", lead["contact_id"])
    assert full_name(contact) == person["name"]
    assert full_name(contact).lower() not in SERVICES
    assert contact["emails"] == ([person["email"]] if person.get("email") else [])
    assert contact["phones"] == ([person["phone"]] if person.get("phone") else [])
    assert lead["source"] == "web_form"
    if "address" in person:  # the street and the town, whatever the builder did with the lines
        street, town = person["address"].split(", ")[0], person["address"].split(", ")[-2]
        assert street in contact["address"] and town in contact["address"] and "Map It" not in contact["address"]
    if "estimated_value" in expect:
        assert lead["estimated_value"] == expect["estimated_value"]
    [item] = store.linked("interactions", "lead_id", lead["lead_id"])
    assert item["contact_id"] == contact["contact_id"] and item["message_id"] == result.message_id
    assert person["name"] in item["body"] or (person.get("phone") or "")[-4:] in item["body"]
    assert item["body"].count(":") >= 2, "the form's labelled text is kept"
    # the same notification read again: nothing new
    assert handle_inbound(store, raw(name)).status == "duplicate"
    assert (store.count("contacts"), store.count("leads")) == (1, 1)


def test_three_forms_through_one_wordpress_sender_are_three_people_and_drafts_greet_them(store: Store, cli):
    names = [
        "forms/cf7_shower_valve_leak.eml",
        "forms/cf7_kitchen_remodel_tel.eml",
        "forms/gravity_text_water_heater.eml",
    ]
    results = [handle_inbound(store, raw(n)) for n in names]
    assert [r.status for r in results] == ["lead"] * 3
    people = sorted(full_name(c) for c in store.scan("contacts"))
    assert people == ["Dwayne O'Connell", "Lan Nguyễn", "Priya Raman"]
    draft = call(store, "draft_follow_up", lead_id=results[0].lead_id)
    assert draft["body"].startswith("Hi Priya,") and draft["to"] == "priya.raman@example.com"
    code, screen = cli("ask", "follow up on the shower valve lead")
    assert "email to Priya Raman" in screen
    [action] = PendingStore(store.directory).open()
    assert "Hi Priya," in action.preview and "WordPress" not in action.preview
    assert "To: Priya Raman <priya.raman@example.com>" in action.preview


@pytest.mark.parametrize("name", of_kind("auto"))
def test_automatic_notices_are_skipped_with_a_reason(store: Store, name: str):
    entry = ENTRIES[name]
    given(store, entry)
    before = {t: store.count(t) for t in ("contacts", "leads", "interactions")}
    phones_before = {c["contact_id"]: c["phones"] for c in store.scan("contacts")}
    result = handle_inbound(store, raw(name))
    assert result.status == "skipped" and result.message.startswith("Not an inquiry: it ")
    assert {t: store.count(t) for t in ("contacts", "leads", "interactions")} == before
    assert {c["contact_id"]: c["phones"] for c in store.scan("contacts")} == phones_before


@pytest.mark.parametrize("name", of_kind("reply"))
def test_a_reply_is_logged_on_the_work_it_answers(store: Store, name: str):
    entry = ENTRIES[name]
    expect = entry["expect"]
    ids = given(store, entry)
    leads_before = store.count("leads")
    result = handle_inbound(store, raw(name))
    assert result.status == "logged", result.message
    assert store.count("leads") == leads_before  # no new lead
    titles = [t for t, i in ids.items() if i.startswith(("L-", "O-")) and t in expect["belongs_to"]]
    if titles:
        assert ids[titles[0]] in (result.lead_id, result.opportunity_id)
    else:
        assert entry["given"]["read_first"] and result.lead_id == "L-1"  # the lead the form made
    contact = store.require("contacts", result.contact_id)
    if expect.get("adds_email"):
        assert expect["adds_email"] in contact["emails"] and len(contact["emails"]) == 2
    if expect.get("adds_phone"):
        assert expect["adds_phone"] in contact["phones"]
    if "must_not" in expect:  # the spouse: his address and number go on no one
        everyone = [x for c in store.scan("contacts") for x in c["emails"] + c["phones"]]
        assert "mdelgado77@example.net" not in everyone and "+15125550186" not in everyone
        [item] = [i for i in store.linked("interactions", "lead_id", result.lead_id) if i["type"] == "email_inbound"]
        assert "Forwarded by Mark Delgado" in item["body"]
    if expect.get("text_starts"):
        [item] = [i for i in store.scan("interactions") if i.get("message_id") == result.message_id]
        assert item["body"].startswith(expect["text_starts"])


def test_a_known_customer_from_a_new_address_is_not_a_new_lead_through_the_cli(store: Store, cli):
    entry = ENTRIES["replies/second_address_signature_phone.eml"]
    given(store, entry)
    code, screen = cli("inbound", str(MAIL / "replies/second_address_signature_phone.eml"))
    assert code == 0 and "wrote about Deck railing and stair repair" in screen
    assert "Added to Karen Whitfield: kwhitfield@whitfieldmoss.example" in screen
    karen = store.require("contacts", "C-1")
    assert karen["emails"] == ["karen.whitfield@example.com", "kwhitfield@whitfieldmoss.example"]
    assert karen["phones"] == ["+15125550134"]  # her office line in the signature is not hers to keep
    assert store.count("contacts") == 1 and store.count("leads") == 1


def test_a_customer_signing_with_his_full_name_from_a_new_address_goes_on_his_open_lead(store: Store, cli, tmp_path):
    # Found by a new owner: "Greg H <ghall1970@…>" signing "Greg Hall" with his phone opened a
    # second lead beside his open one.
    greg = add_contact(store, name="Greg Hall", phone="708-555-3321", email="greg.hall@example.com")
    call(store, "create_lead", title="Basement floor drain", contact_id=greg["contact_id"])
    mail = tmp_path / "reply.eml"
    mail.write_bytes(
        b"From: Greg H <ghall1970@gmail.com>\r\nTo: office@myplumbing.example\r\nSubject: Re: drain\r\n"
        b"Date: Fri, 20 Nov 2026 09:02:00 -0500\r\nMessage-ID: <greg3@gmail.com>\r\n"
        b"Content-Type: text/plain; charset=UTF-8\r\n\r\n"
        b"Got your voicemail. Drain is worse now, water on the floor. Call me at 708-555-3321 anytime.\r\n"
        b"Greg Hall\r\n"
    )
    code, screen = cli("inbound", str(mail))
    assert code == 0 and "Basement floor drain" in screen
    assert store.count("leads") == 1 and store.count("contacts") == 1
    [logged] = [i for i in store.scan("interactions") if i.get("message_id")]
    assert logged["lead_id"] == "L-1" and logged["contact_id"] == greg["contact_id"]
    assert "ghall1970@gmail.com" in store.require("contacts", greg["contact_id"])["emails"]


# ---------------------------------------------------------------------------- identity on every route
def test_an_email_from_a_namesake_at_another_address_is_parked_and_the_owner_asked(store: Store, cli, data_dir):
    add_contact(store, name="Marcus Chen", email="marcus@chenbuild.example", phone="512-555-0111")
    mail = (
        b"From: Marcus Chen <mchen.home@example.net>\r\nTo: office@reyesplumbing.example\r\n"
        b"Subject: Leaky outdoor spigot\r\nMessage-ID: <mc-1@example.net>\r\n\r\nThe spigot by the garage drips.\r\n"
    )
    path = data_dir.parent / "chen.eml"
    path.write_bytes(mail)
    code, screen = cli("inbound", str(path))
    assert code == 0 and "may be someone already in the book: Marcus Chen (C-1" in screen
    assert store.count("contacts") == 1  # no second, empty Marcus Chen
    lead = store.require("leads", "L-1")
    assert lead.get("contact_id") is None and lead["email"] == "mchen.home@example.net"
    code, screen = cli("pending")
    assert "Put L-1 on Marcus Chen" in screen and "Add Marcus Chen as a separate contact" in screen
    code, screen = cli("approve", "P-1")
    assert code == 0
    chen = store.require("contacts", "C-1")
    assert store.require("leads", "L-1")["contact_id"] == "C-1"
    assert chen["emails"] == ["marcus@chenbuild.example", "mchen.home@example.net"]
    code, screen = cli("approve", "P-2")  # the other answer no longer applies, and says why
    assert "already belongs to Marcus Chen (C-1)" in screen and store.count("contacts") == 1


def test_an_inquiry_in_the_chat_naming_a_customer_links_to_them(store: Store, cli):
    add_contact(store, name="Dana Reyes", phone="555-201-7788", email="dana@reyesplumbing.com")
    code, screen = cli("chat", stdin=lines("new inquiry from Dana Reyes - kitchen sink clogged", "no", "quit"))
    assert "Linked to existing contact C-1" in screen
    assert store.count("contacts") == 1 and store.require("leads", "L-1")["contact_id"] == "C-1"


def test_create_contact_with_an_initial_finds_the_customer_the_duplicate_scan_would(store: Store):
    add_contact(store, name="Dana Reyes", phone="555-201-7788")
    result = call(store, "create_contact", name="D. Reyes")
    assert result["created"] is False and result["duplicates"][0]["contact_id"] == "C-1"
    assert "similar name (initial)" in result["message"] and store.count("contacts") == 1


# ---------------------------------------------------------------------------- hostile mail
CONTAINED = {
    "hostile/nested_multipart_2000.eml",
    "hostile/missing_from.eml",
    "hostile/from_display_name_only.eml",
    "hostile/just_crlf.eml",
    "hostile/two_from_headers.eml",
}


@pytest.mark.parametrize("name", of_kind("hostile"))
def test_hostile_mail_never_raises_and_is_bounded(store: Store, name: str):
    started = time.monotonic()
    result = handle_inbound(store, raw(name))
    assert time.monotonic() - started < 10
    if name in CONTAINED:
        assert result.status == "failed" and store.count("leads") == 0
        assert Notifications(store.directory).all()  # the owner is told (a file, or a row in the database)
    else:
        assert result.status in ("lead", "logged", "skipped"), result.message
        assert store.count("leads") <= 1 and store.count("contacts") <= 1
    for record in store.scan("interactions") + store.scan("contacts") + store.scan("leads"):
        text = repr(record)
        assert "\\x00" not in text and "\\ud" not in text
        assert len(record.get("body") or "") <= 25_000 and len(record.get("subject") or "") <= 300
    assert handle_inbound(store, raw(name)).status in ("duplicate", "skipped", "failed")


def test_a_5mb_body_is_cut_with_a_note_and_the_phone_found(store: Store):
    result = handle_inbound(store, raw("hostile/body_5mb.eml"))
    assert result.status == "lead"
    contact = store.require("contacts", result.contact_id)
    assert full_name(contact) == "Pat Moreno" and contact["phones"] == ["+15125550163"]
    [item] = store.linked("interactions", "lead_id", result.lead_id)
    assert len(item["body"]) < 25_000 and "only the first" in item["body"]


def test_a_smuggled_reply_to_and_an_ip_address_are_not_trusted(store: Store):
    result = handle_inbound(store, raw("hostile/bare_cr_header_injection.eml"))
    contact = store.require("contacts", result.contact_id)
    assert contact["emails"] == ["cr.trick@attacker.example"]
    everyone = [e for c in store.scan("contacts") for e in c["emails"]]
    assert "harvest@attacker.example" not in everyone and "everyone@attacker.example" not in everyone
    elementor = handle_inbound(store, raw("forms/elementor_first_last_tel.eml"))
    tomas = store.require("contacts", elementor.contact_id)
    assert tomas["phones"] == ["+15125550145"] and phone_e164("198.51.100.77") not in tomas["phones"]


def test_one_bad_file_in_the_inbox_folder_never_stops_the_rest(store: Store, data_dir: Path, cli):
    from backoffice.agent.daemon import POLLERS

    inbox = data_dir / "inbox"
    inbox.mkdir()
    names = [
        "a_" + "nested_multipart_2000.eml",
        "b_from_name_encoded_crlf.eml",
        "c_date_year_9999.eml",
        "d_unknown_charset.eml",
        "e_missing_from.eml",
        "f_header_line_100kb.eml",
    ]
    for n in names:
        (inbox / n).write_bytes(raw("hostile/" + n[2:]))
    (inbox / "z_good.eml").write_bytes(raw("alternative.eml"))
    poll = next(p for p in POLLERS if p.name == "inbox folder").start(store)
    assert poll is not None
    summary = poll()
    assert "set aside" in summary and "new lead(s)" in summary
    assert sorted(p.name for p in (inbox / "failed").glob("*.eml")) == [names[0], names[4]]
    assert "nested too deeply" in (inbox / "failed" / (names[0] + ".reason")).read_text()
    assert (inbox / "done" / "z_good.eml").exists() and not list(inbox.glob("*.eml"))
    code, screen = cli("chat", stdin=lines("quit"))
    assert "Email set aside" in screen and "Wendell Price" in screen  # the set-aside text is readable
    code, screen = cli("doctor")
    assert "2 message(s) set aside" in screen and code == 1


# ---------------------------------------------------------------------------- escape codes never reach the screen
def test_terminal_escape_codes_in_mail_are_shown_inert_everywhere(store: Store, cli, data_dir: Path):
    path = MAIL / "hostile/terminal_escapes.eml"
    code, inbound_screen = cli("inbound", str(path))
    assert code == 0
    lead = store.require("leads", "L-1")
    contact = store.require("contacts", lead["contact_id"])
    [item] = store.linked("interactions", "lead_id", "L-1")
    assert "\x1b[2J" in item["subject"]  # the book keeps what arrived; only showing it is made safe
    from backoffice.agent.orchestrator import build

    orch = build(store, None, origin="ask", offline=True)
    orch.gate.call(
        "send_message", {"contact_id": contact["contact_id"], "subject": "Re: " + item["subject"], "body": item["body"]}
    )
    screens = {
        "inbound": inbound_screen,
        "chat notifications": cli("chat", stdin=lines("quit"))[1],
        "pending table": cli("pending")[1],
        "approval panel": cli("approve", "P-1", stdin="no\n")[1],
        "contacts table": cli("ask", "find sam.ortega@attacker.example")[1],
    }
    for where, screen in screens.items():
        for code_ in ("\x1b", "\x07", "\x9b"):
            assert code_ not in screen, f"{code_!r} reached the screen in the {where}"
    assert "␛[2J" in screens["inbound"] or "␛]0;" in screens["inbound"]
    assert "␛[8m" in screens["approval panel"] and "␛]8;;https://pay.attacker.example" in screens["approval panel"]
    assert "␛[2J" in screens["chat notifications"] and "␛]52;c;" in screens["chat notifications"]
    assert "sam.ortega@attacker.example" in screens["contacts table"]


def test_the_same_reply_read_by_20_processes_at_once_is_recorded_once(store: Store, data_dir: Path):
    import os
    import subprocess
    import sys

    entry = ENTRIES["replies/threaded_gmail_quoted.eml"]
    ids = given(store, entry)
    env = {**os.environ, "BACKOFFICE_DATA_DIR": str(data_dir)}
    path = str(MAIL / entry["file"])
    with store.transaction():  # hold the book while they start, so all 20 reach it at the same moment
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "backoffice", "inbound", path],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(20)
        ]
        waiting_for(data_dir / ".lock", 20, store.database_url)
    store.close()
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0] * 20, outputs
    said = [out.decode() for out, _ in outputs]
    assert sum("logged on it" in s for s in said) == 1 and sum("Already handled" in s for s in said) == 19
    again = Store(data_dir)
    replies = [
        i
        for i in again.linked("interactions", "lead_id", ids["Water heater replacement"])
        if i["type"] == "email_inbound"
    ]
    assert len(replies) == 1 and again.count("leads") == 1
    again.close()


def waiting_for(lock: Path, count: int, database_url: str | None = None, limit: float = 180.0) -> None:
    """Until ``count`` processes are blocked on ``lock`` (Linux /proc/locks lists each waiter with ->),
    or, for a book in PostgreSQL, on the book's row lock (the server lists them as not granted)."""
    deadline = time.monotonic() + limit
    if database_url:
        import psycopg

        waiting = 0
        with psycopg.connect(database_url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute("SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted").fetchone()
                waiting = int(row[0]) if row else 0
                if waiting >= count:
                    return
                time.sleep(0.2)
        raise AssertionError(f"only {waiting} of {count} processes reached the book's lock")
    inode = f":{lock.stat().st_ino} "
    while time.monotonic() < deadline:
        waiting = [line for line in Path("/proc/locks").read_text().splitlines() if "->" in line and inode in line]
        if len(waiting) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"only {len(waiting)} of {count} processes reached the lock")
