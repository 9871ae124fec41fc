"""Pending actions are data from disk, read as untrusted: what the owner approves is what runs,
an entry that does not fit is refused, and a run cut short is finished or dropped, never repeated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backoffice.agent.gate.gate import Gate
from backoffice.agent.gate.pending import PendingStore, fingerprint
from backoffice.tools.book import keeping
from backoffice.tools.book.store import Store

from .conftest import add_contact, call


def job(store: Store) -> dict[str, Any]:
    c = add_contact(store, name="Joe Smith", phone="555-201-7788", address="14 Oak St", email="joe@example.com")
    lead = call(store, "create_lead", title="Boiler service", contact_id=c["contact_id"], estimated_value=900)["lead"]
    call(store, "qualify_lead", lead_id=lead["lead_id"])
    return call(store, "convert_lead", lead_id=lead["lead_id"])["opportunity"]


def entries(data_dir: Path) -> list[dict[str, Any]]:
    return list(keeping.slot(data_dir, "pending").load()["actions"])


def kept(data_dir: Path) -> bytes:
    """What is stored: pending.json's bytes, or the database row's object as JSON."""
    slot = keeping.slot(data_dir, "pending")
    if isinstance(slot, keeping.FileSlot):
        return slot.path.read_bytes()
    return json.dumps(slot.load(), sort_keys=True).encode()


def rewrite(data_dir: Path, change: Any) -> bytes:
    """Edit pending.json (or its row in the database) by hand, as someone with access could."""
    slot = keeping.slot(data_dir, "pending")
    state = slot.load()
    change(state)
    if isinstance(slot, keeping.FileSlot):
        slot.path.write_bytes(json.dumps(state, indent=1).encode())
    else:
        with slot.locked():
            slot.save(state)
    return kept(data_dir)


# ---------------------------------------------------------------------------- what runs is what is shown
def test_a_thank_you_note_that_is_really_a_win_shows_the_win_and_does_not_run_under_the_false_text(
    cli, store: Store, data_dir: Path
):
    opp = job(store)
    c = store.require("contacts", "C-1")
    Gate(store, PendingStore(data_dir)).call(
        "send_message", {"contact_id": c["contact_id"], "subject": "Thanks", "body": "Thank you, Joe!"}
    )
    won_args = {"opportunity_id": opp["opportunity_id"], "amount": 1.0}

    def tamper(state: dict[str, Any]) -> None:  # keeps the thank-you words, swaps the call (fingerprint fixed up)
        entry = state["actions"][0]
        entry.update(
            tool="mark_opportunity_won", args=won_args, fingerprint=fingerprint("mark_opportunity_won", won_args)
        )

    rewrite(data_dir, tamper)
    code, listed = cli("pending")
    assert "Mark the job 'Boiler service' (O-1) won" in listed and "Send an email" not in listed
    code, screen = cli("approve", "P-1")
    assert code == 1 and "was not run" in screen
    assert "Mark the job 'Boiler service' (O-1) won" in screen and "$1" in screen  # the real call, shown
    assert "Thank you, Joe" not in screen
    assert store.require("opportunities", "O-1")["stage"] == "estimating"
    code, screen = cli("approve", "P-1")  # now approved with the true description in front of the owner
    assert code == 0 and store.require("opportunities", "O-1")["stage"] == "won"


@pytest.mark.parametrize(
    "tamper, says",
    [
        (lambda e: e.update(tool="delete_everything"), "no tool called 'delete_everything'"),
        (lambda e: e["args"].update(force=True), "force is not an argument"),
        (lambda e: e["args"].update(amount="lots"), "amount"),
        (lambda e: e["args"].update(amount=5.0), "fingerprint does not match"),
    ],
)
def test_an_entry_that_does_not_fit_its_tool_is_refused_and_left_as_it_is(
    cli, store: Store, data_dir: Path, tamper: Any, says: str
):
    opp = job(store)
    Gate(store, PendingStore(data_dir)).call("mark_opportunity_won", {"opportunity_id": opp["opportunity_id"]})
    raw = rewrite(data_dir, lambda state: tamper(state["actions"][0]))
    code, screen = cli("approve", "P-1")
    assert code == 1 and says in screen and "Traceback" not in screen
    assert store.require("opportunities", "O-1")["stage"] == "estimating"
    assert kept(data_dir) == raw
    code, listed = cli("pending")
    assert "cannot be run" in listed
    code, report = cli("check")
    assert code == 1 and "P-1 can never run" in report


@pytest.mark.parametrize(
    "content, says",
    [
        (b"[]", "holds a list"),
        (b'{"next": 1, "actions": "none"}', "actions"),
        (b'{"next": 1, "actions": [{"id": "P-1"}]}', "action 1 (P-1).tool"),
        (b'{"next": 1, "actions": [], "extra": 1}', "extra"),
        (b'{"next": 1, "actions": []}\x00', "not valid JSON"),
    ],
)
@pytest.mark.files_only  # bytes in pending.json; test_pgbook puts a row that does not fit in the database
def test_a_pending_file_that_does_not_fit_its_schema_is_never_shown_as_nothing_waiting(
    cli, store: Store, data_dir: Path, content: bytes, says: str
):
    opp = job(store)
    (data_dir / "pending.json").write_bytes(content)
    code, screen = cli("pending")
    assert code == 1 and "pending.json" in screen and says in screen and "Nothing is waiting" not in screen
    code, screen = cli("ask", "mark the boiler service job won")
    assert "pending.json" in screen and store.require("opportunities", opp["opportunity_id"])["stage"] == "estimating"
    assert (data_dir / "pending.json").read_bytes() == content


# ---------------------------------------------------------------------------- interrupted runs
DEAD = {"pid": 2**22 + 7, "token": "0123456789abcdef", "started": None, "at": "2026-11-20T09:59:00-05:00"}


def left_running(data_dir: Path, host: str | None = None) -> None:
    """P-1 as a process killed mid-run leaves it: running, claimed by a pid that is gone."""
    import socket

    def stuck(state: dict[str, Any]) -> None:
        state["actions"][0].update(status="running", claim={**DEAD, "host": host or socket.gethostname()})

    rewrite(data_dir, stuck)


def test_an_action_whose_process_died_is_listed_and_runs_once_when_approved(cli, store: Store, data_dir: Path):
    opp = job(store)
    Gate(store, PendingStore(data_dir)).call("mark_opportunity_won", {"opportunity_id": opp["opportunity_id"]})
    left_running(data_dir)
    code, listed = cli("pending")
    assert "interrupted" in listed and "P-1" in listed
    code, screen = cli("approve", "P-1")
    assert code == 0 and store.require("opportunities", "O-1")["stage"] == "won", screen
    assert [a["status"] for a in entries(data_dir)][0] == "done"
    assert "found interrupted" in entries(data_dir)[0]["history"][-1]


def test_an_interrupted_run_that_got_into_the_book_is_settled_not_repeated(cli, store: Store, data_dir: Path):
    opp = job(store)
    gate = Gate(store, PendingStore(data_dir))
    gate.call("mark_opportunity_won", {"opportunity_id": opp["opportunity_id"]})
    with store.transaction():  # the run committed, then its process died before saying "done"
        call(store, "mark_opportunity_won", opportunity_id=opp["opportunity_id"])
        store.note_approved("P-1", DEAD["token"], "mark_opportunity_won")
    left_running(data_dir)
    events = len(store.events())
    code, screen = cli("reject", "P-1")
    assert "had been carried out before it was interrupted" in screen
    assert entries(data_dir)[0]["status"] == "done" and len(store.events()) == events


def test_an_interrupted_run_that_never_committed_can_be_dropped(cli, store: Store, data_dir: Path):
    opp = job(store)
    Gate(store, PendingStore(data_dir)).call("mark_opportunity_won", {"opportunity_id": opp["opportunity_id"]})
    left_running(data_dir)
    code, screen = cli("reject", "P-1")
    assert code == 0 and "Rejected P-1" in screen
    assert entries(data_dir)[0]["status"] == "rejected" and store.require("opportunities", "O-1")["stage"] != "won"


def test_a_run_still_going_or_on_another_machine_is_not_taken_over(cli, store: Store, data_dir: Path):
    opp = job(store)
    Gate(store, PendingStore(data_dir)).call("mark_opportunity_won", {"opportunity_id": opp["opportunity_id"]})
    left_running(data_dir, host="the-office-laptop")
    code, screen = cli("approve", "P-1")
    assert code == 1 and "being carried out right now" in screen and "the-office-laptop" in screen
    assert cli("reject", "P-1")[0] == 1
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:  # a live process on this machine
        from backoffice.agent.gate.claims import start_time

        def alive(state: dict[str, Any]) -> None:
            import socket

            state["actions"][0]["claim"] = {**DEAD, "pid": sleeper.pid, "host": socket.gethostname(),
                                            "started": start_time(sleeper.pid)}  # fmt: skip

        rewrite(data_dir, alive)
        assert "being carried out right now" in cli("approve", "P-1")[1]
    finally:
        sleeper.kill()
        sleeper.wait()
    assert store.require("opportunities", "O-1")["stage"] == "estimating"


def test_a_send_cut_short_is_sent_once_when_approved_again_the_next_day(
    cli, store: Store, data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    c = add_contact(store, name="Joe Smith", email="joe@example.com")
    args = {"contact_id": c["contact_id"], "subject": "Your quote", "body": "Hi Joe, here it is."}
    Gate(store, PendingStore(data_dir)).call("send_message", args)
    monkeypatch.setenv("BACKOFFICE_NOW", "2026-11-20T10:05:00")
    assert cli("approve", "P-1")[0] == 0
    outbox = sorted((data_dir / "outbox").glob("*.eml"))
    assert len(outbox) == 1
    # as if the process had died after saving the message, before the action was marked done
    left_running(data_dir)
    rewrite(data_dir, lambda s: s["actions"][0]["claim"].update(as_of="2026-11-20T10:05:00-05:00"))
    monkeypatch.setenv("BACKOFFICE_NOW", "2026-11-21T09:00:00")
    code, screen = cli("approve", "P-1")
    assert code == 0, screen
    assert sorted((data_dir / "outbox").glob("*.eml")) == outbox
    assert len([i for i in store.scan("interactions") if i.get("message_id")]) == 1


def test_ctrl_c_during_a_run_leaves_an_action_that_can_be_approved_again(store: Store, data_dir: Path, monkeypatch):
    opp = job(store)
    gate = Gate(store, PendingStore(data_dir))
    gate.call("mark_opportunity_won", {"opportunity_id": opp["opportunity_id"]})
    real = Store.insert

    def interrupted(s: Store, table: str, fields: dict[str, Any], action: str = "created") -> dict[str, Any]:
        if table == "interactions":  # the job is already marked won in this transaction: Ctrl-C now
            raise KeyboardInterrupt
        return real(s, table, fields, action)

    monkeypatch.setattr(Store, "insert", interrupted)
    with pytest.raises(KeyboardInterrupt):
        gate.execute("P-1", by="owner")
    assert store.require("opportunities", "O-1")["stage"] == "estimating"  # the run's transaction rolled back
    assert entries(data_dir)[0]["status"] == "failed"
    monkeypatch.setattr(Store, "insert", real)
    assert gate.execute("P-1", by="owner").status == "ok"
    assert store.require("opportunities", "O-1")["stage"] == "won"


def test_a_send_cut_short_by_ctrl_c_is_not_sent_again_the_next_day(
    cli, store: Store, data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    from backoffice.tools.crm import messages

    c = add_contact(store, name="Joe Smith", email="joe@example.com")
    gate = Gate(store, PendingStore(data_dir))
    gate.call("send_message", {"contact_id": c["contact_id"], "subject": "Your quote", "body": "Hi Joe."})
    real = messages.add_interaction

    def stopped(*args: Any, **kwargs: Any) -> Any:  # the message is saved; Ctrl-C before it is logged
        raise KeyboardInterrupt

    monkeypatch.setattr(messages, "add_interaction", stopped)
    with pytest.raises(KeyboardInterrupt):
        gate.execute("P-1", by="owner")
    monkeypatch.setattr(messages, "add_interaction", real)
    saved = sorted((data_dir / "outbox").glob("*.eml"))
    assert len(saved) == 1 and entries(data_dir)[0]["status"] == "failed"
    monkeypatch.setenv("BACKOFFICE_NOW", "2026-11-23T09:00:00")  # Monday
    code, screen = cli("approve", "P-1")
    assert code == 0, screen
    assert sorted((data_dir / "outbox").glob("*.eml")) == saved  # the same message, not a second one
    assert len([i for i in store.scan("interactions") if i.get("message_id")]) == 1
