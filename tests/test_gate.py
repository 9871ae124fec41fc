"""The hard stops, enforced in code: consequential calls wait for the owner, once, whatever the planner does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backoffice.agent.gate.gate import Decision, Gate
from backoffice.agent.gate.pending import PendingStore
from backoffice.tools.book.settings import Settings, save_settings
from backoffice.tools.book.store import Store

from .conftest import add_contact, call


class Owner:
    """A scripted owner: answers the gate's questions in order and remembers what was shown."""

    def __init__(self, *answers: str | Decision):
        self.answers = list(answers)
        self.shown: list[str] = []

    def decide(self, action, tool) -> Decision:
        self.shown.append(action.preview)
        answer = self.answers.pop(0) if self.answers else "later"
        return answer if isinstance(answer, Decision) else Decision(answer)  # type: ignore[arg-type]


def job(store: Store, name: str = "Dana Reyes", **contact: Any) -> dict[str, Any]:
    c = add_contact(store, name=name, phone=contact.pop("phone", "555-201-7788"), address="14 Oak St",
                    email=contact.pop("email", "dana@reyesplumbing.com"))  # fmt: skip
    lead = call(store, "create_lead", title="Kitchen sink", contact_id=c["contact_id"], estimated_value=900)["lead"]
    call(store, "qualify_lead", lead_id=lead["lead_id"])
    return call(store, "convert_lead", lead_id=lead["lead_id"])["opportunity"]


def gate(store: Store, owner: Owner | None = None, **kw: Any) -> Gate:
    return Gate(store, PendingStore(store.directory), owner, **kw)


def test_winning_without_an_owner_present_only_leaves_a_pending_action(store: Store):
    opp = job(store)
    outcome = gate(store).call("mark_opportunity_won", {"opportunity_id": opp["opportunity_id"]})
    assert outcome.status == "pending" and outcome.action is not None
    assert store.require("opportunities", opp["opportunity_id"])["stage"] == "estimating"
    assert "backoffice approve P-1" in outcome.message
    assert [a.title for a in PendingStore(store.directory).open()] == ["Mark the job 'Kitchen sink' (O-1) won"]


def test_the_owner_saying_yes_runs_it_and_no_leaves_everything_alone(store: Store):
    opp = job(store)
    no = gate(store, Owner("no")).call("mark_opportunity_won", {"opportunity_id": opp["opportunity_id"]})
    assert no.status == "declined" and store.require("opportunities", "O-1")["stage"] == "estimating"
    owner = Owner("yes")
    yes = gate(store, owner).call("mark_opportunity_won", {"opportunity_id": opp["opportunity_id"], "amount": 950})
    assert yes.status == "ok"
    won = store.require("opportunities", "O-1")
    assert won["stage"] == "won" and won["amount"] == 950
    assert "$950" in owner.shown[0] and "becomes a customer" in owner.shown[0]
    assert [e["actor"] for e in store.events("O-1") if e["action"] == "won"] == ["owner"]


def test_a_declined_call_repeated_by_the_planner_is_not_asked_again(store: Store):
    opp = job(store)
    owner = Owner("no", "yes")
    g = gate(store, owner)
    g.call("mark_opportunity_won", {"opportunity_id": opp["opportunity_id"]})
    again = g.call("mark_opportunity_won", {"opportunity_id": opp["opportunity_id"]})
    assert again.status == "declined" and len(owner.shown) == 1
    assert store.require("opportunities", "O-1")["stage"] == "estimating"


def test_approving_twice_or_a_planner_retry_never_sends_twice(store: Store, data_dir: Path):
    c = add_contact(store, email="dana@example.com")
    args = {"contact_id": c["contact_id"], "subject": "Your quote", "body": "Hi Dana, the quote is attached."}
    first = gate(store).call("send_message", args)
    assert first.status == "pending" and not (data_dir / "outbox").exists()
    g = gate(store)
    assert g.execute("P-1", by="owner").status == "ok"
    assert g.execute("P-1", by="owner").status == "already"
    retry = gate(store, Owner("yes")).call("send_message", args)
    assert retry.status == "already"
    assert len(list((data_dir / "outbox").glob("*.eml"))) == 1
    logged = [i for i in store.scan("interactions") if i.get("message_id")]
    assert len(logged) == 1 and "not sent" in logged[0]["subject"].lower()


def test_pending_actions_survive_a_restart_and_can_be_rejected(store: Store, data_dir: Path):
    opp = job(store)
    gate(store).call("mark_opportunity_won", {"opportunity_id": opp["opportunity_id"]})
    store.close()
    reopened = Store(data_dir)
    g = gate(reopened)
    assert [a.id for a in g.pending.open()] == ["P-1"]
    assert g.reject("P-1").status == "declined"
    assert g.execute("P-1", by="owner").status == "declined"
    assert reopened.require("opportunities", "O-1")["stage"] == "estimating"
    reopened.close()


def test_unknown_tools_and_bad_arguments_are_errors_and_change_nothing(store: Store):
    c = add_contact(store)
    g = gate(store, Owner("yes"))
    assert "no tool called 'delete_contact'" in g.call("delete_contact", {"contact_id": c["contact_id"]}).message
    bad = g.call("log_interaction", {"contact_id": c["contact_id"], "type": "telepathy"})
    assert bad.status == "error" and "type" in bad.message
    extra = g.call("mark_opportunity_won", {"opportunity_id": "O-1", "force": True})
    assert extra.status == "error" and "force is not an argument" in extra.message
    assert store.count("interactions") == 0 and PendingStore(store.directory).all() == []


def test_editing_a_draft_sends_the_edited_text(store: Store, data_dir: Path):
    c = add_contact(store, email="dana@example.com")
    owner = Owner("edit", "yes")
    owner.answers[0] = Decision("edit", {"contact_id": c["contact_id"], "subject": "Quote", "body": "Edited text.\n"})
    out = gate(store, owner).call("send_message", {"contact_id": c["contact_id"], "subject": "Quote", "body": "Draft"})
    assert out.status == "ok"
    assert "Edited text." in owner.shown[1] and "Draft" in owner.shown[0]
    eml = next((data_dir / "outbox").glob("*.eml")).read_text()
    assert "Edited text." in eml and "Draft" not in eml


def test_auto_send_covers_follow_ups_on_open_leads_only(store: Store, data_dir: Path):
    save_settings(data_dir, Settings(auto_send_follow_ups=True))
    store.close()
    store = Store(data_dir)
    c = add_contact(store, email="dana@example.com")
    lead = call(store, "create_lead", title="Leaky tap", contact_id=c["contact_id"])["lead"]
    g = gate(store)  # nobody at the keyboard
    follow_up = {"contact_id": c["contact_id"], "subject": "Checking in", "body": "Hi", "lead_id": lead["lead_id"],
                 "purpose": "follow_up"}  # fmt: skip
    assert g.call("send_message", follow_up).status == "ok"
    other = {**follow_up, "purpose": "other", "body": "Special offer"}
    assert g.call("send_message", other).status == "pending"
    no_lead = {k: v for k, v in follow_up.items() if k != "lead_id"} | {"body": "Hello again"}
    assert g.call("send_message", no_lead).status == "pending"
    opp = job(store, name="Sam Lee", phone="555-301-2222", email="sam@example.com")
    assert g.call("mark_opportunity_won", {"opportunity_id": opp["opportunity_id"]}).status == "pending"
    assert store.require("opportunities", opp["opportunity_id"])["stage"] != "won"
    store.close()


def test_a_duplicate_contact_needs_the_owner_and_shows_the_match(store: Store):
    add_contact(store, phone="555-201-7788")
    owner = Owner("yes")
    outcome = gate(store, owner).call("create_contact_anyway", {"name": "Dana R", "phone": "(555) 201-7788"})
    assert outcome.status == "ok"
    assert "Already in the book: Dana Reyes (C-1)" in owner.shown[0]
    assert store.count("contacts") == 2
