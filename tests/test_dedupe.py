"""Duplicates in the book: the scan and its reasons, and the merge — every link moved, the others
archived (never deleted), the choices logged, and nothing done without the owner's yes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backoffice.agent.gate.gate import Decision, Gate
from backoffice.agent.gate.pending import PendingStore
from backoffice.agent.orchestrator import build
from backoffice.tools.book.store import Store
from backoffice.tools.crm.duplicates import duplicate_clusters
from tests.conftest import add_contact, call, lines, records


class Answers:
    def __init__(self, *answers: str):
        self.answers = list(answers)
        self.shown: list[str] = []

    def decide(self, action: Any, tool: Any) -> Decision:
        self.shown.append(action.preview)
        return Decision(self.answers.pop(0) if self.answers else "later")  # type: ignore[arg-type]


def anyway(store: Store, **fields: Any) -> dict[str, Any]:
    """A second record for someone already in the book (what the owner approved once)."""
    return call(store, "create_contact_anyway", **fields)["contact"]


def twins(store: Store) -> tuple[dict[str, Any], dict[str, Any]]:
    """Dana Reyes with history, and 'D. Reyes' entered again from a form with history of her own."""
    dana = add_contact(store, name="Dana Reyes", phone="(850) 644-4200", address="14 Oak St")
    d = anyway(store, name="D. Reyes", phone="+1 850-644-4200", email="Dana@Example.com", address="14 Oak St")
    call(store, "log_interaction", type="phone_call", contact_id=dana["contact_id"], body="first call")
    call(store, "log_interaction", type="email_inbound", contact_id=d["contact_id"], body="sent photos")
    lead = call(store, "create_lead", title="Kitchen sink", contact_id=d["contact_id"])["lead"]
    call(store, "qualify_lead", lead_id=lead["lead_id"])
    job = call(store, "convert_lead", lead_id=lead["lead_id"])
    company = call(store, "create_company", name="Reyes Rentals", primary_contact_id=d["contact_id"])["company"]
    return dana, {
        **d,
        "lead_id": lead["lead_id"],
        "job_id": job["opportunity"]["opportunity_id"],
        "company_id": company["company_id"],
    }


def test_the_scan_finds_the_same_person_in_any_format_and_says_why(store: Store):
    dana = add_contact(store, name="Dana Reyes", phone="(850) 644-4200")
    d = anyway(store, name="Dana R", phone="+1 850-644-4200")
    lou = add_contact(store, name="Lou Park", email="Dana@Example.com")
    lou2 = anyway(store, name="Louis Park", email="dana@example.com")
    smiths = call(store, "create_company", name="Smith & Sons")["company"]
    smiths2 = call(store, "create_company", name="Smith and Sons Plumbing")["company"]
    ann = add_contact(store, name="Ann Smith", company_id=smiths["company_id"], phone="555-111-0001")
    ann2 = anyway(store, name="Ann Smith", company_id=smiths2["company_id"], phone="555-222-0002")
    jones = call(store, "create_company", name="Jones Hardware")["company"]
    add_contact(store, name="Bob Shaw", company_id=jones["company_id"])  # namesakes at different companies
    other = call(store, "create_company", name="Pay 'N Pak")["company"]
    anyway(store, name="Bob Shaw", company_id=other["company_id"])
    add_contact(store, name="Sam Lee", phone="555-301-2222")  # same name, different phones: not the same
    anyway(store, name="Sam Lee", phone="555-301-9999")

    clusters = {tuple(c.ids): c for c in duplicate_clusters(store)}
    assert set(clusters) == {
        (dana["contact_id"], d["contact_id"]),
        (lou["contact_id"], lou2["contact_id"]),
        (ann["contact_id"], ann2["contact_id"]),
    }
    assert "same phone (850) 644-4200" in clusters[(dana["contact_id"], d["contact_id"])].reasons[0][2]
    assert "same email dana@example.com" in clusters[(lou["contact_id"], lou2["contact_id"])].reasons[0][2]
    assert "same company" in clusters[(ann["contact_id"], ann2["contact_id"])].reasons[0][2]


def test_the_duplicates_command_lists_groups_with_reasons_and_the_merge_command(cli, store: Store):
    code, out = cli("duplicates")
    assert code == 0 and "No likely duplicates" in out
    dana, d = twins(store)
    code, out = cli("duplicates")
    assert code == 0 and "Group 1" in out and "same phone" in out and "same name" not in out
    assert f"backoffice merge {d['contact_id']} {dana['contact_id']}" in out  # keep the one with more history


def test_merge_moves_every_link_archives_the_other_and_logs_the_choices(store: Store, data_dir: Path):
    dana, d = twins(store)
    answers = Answers("yes")
    gate = Gate(store, PendingStore(data_dir), answers)
    outcome = gate.call("merge_contacts", {"keep": dana["contact_id"], "merge": [d["contact_id"]]})
    assert outcome.status == "ok", outcome.message
    preview = answers.shown[0]
    assert "1 lead, 1 job, primary contact of 1 company" in preview and "Archive:    " not in preview
    assert f"Archive: D. Reyes ({d['contact_id']})" in preview and "Company: 'Reyes Rentals'" in preview

    keep, other = dana["contact_id"], d["contact_id"]
    assert all(i["contact_id"] == keep for i in records(store, "interactions") if i.get("contact_id"))
    assert store.require("leads", d["lead_id"])["contact_id"] == keep
    assert store.require("opportunities", d["job_id"])["contact_id"] == keep
    assert store.require("companies", d["company_id"])["primary_contact_id"] == keep
    merged = store.require("contacts", other)  # archived, never deleted
    assert merged["archived"] is True and merged["merged_into"] == keep
    master = store.require("contacts", keep)
    assert master["emails"] == ["Dana@example.com"]  # filled from the other record
    assert master["first_name"] == "Dana" and master["address"] == "14 Oak St"
    assert len(store.linked("interactions", "contact_id", keep)) == 4  # two calls plus the lead's notes
    [event] = [e for e in store.events(keep) if e["action"] == "merge"]
    assert event["after"]["merged"] == [other] and event["after"]["kept"] == keep
    assert event["after"]["fields"]["emails"]["value"] == ["Dana@example.com"]
    assert event["after"]["moved"]["leads"] == [d["lead_id"]]
    assert event["actor"] == "owner"
    assert duplicate_clusters(store) == []
    found = call(store, "find_contacts", query="850-644-4200")["contacts"]
    assert [c["contact_id"] for c in found] == [keep]


def test_merge_never_runs_without_the_owners_yes(store: Store, data_dir: Path):
    dana, d = twins(store)
    with store.reading():
        before = {t: records(store, t) for t in ("contacts", "leads", "interactions")}
    args = {"keep": dana["contact_id"], "merge": [d["contact_id"]]}
    nobody = Gate(store, PendingStore(data_dir), None)
    waiting = nobody.call("merge_contacts", args)
    assert waiting.status == "pending" and "approve" in waiting.message
    said_no = Gate(store, PendingStore(data_dir), Answers("no")).call("merge_contacts", args)
    assert said_no.status == "declined"
    with store.reading():
        after = {t: records(store, t) for t in ("contacts", "leads", "interactions")}
    assert after == before


def test_merge_refuses_archived_self_and_unknown_contacts(store: Store, data_dir: Path):
    dana, d = twins(store)
    gate = Gate(store, PendingStore(data_dir), Answers("yes", "yes"))
    assert gate.call("merge_contacts", {"keep": dana["contact_id"], "merge": [dana["contact_id"]]}).status == "error"
    assert "no contact C-99" in gate.call("merge_contacts", {"keep": "C-1", "merge": ["C-99"]}).message
    assert gate.call("merge_contacts", {"keep": dana["contact_id"], "merge": [d["contact_id"]]}).status == "ok"
    again = Gate(store, PendingStore(data_dir), Answers("yes")).call(
        "merge_contacts", {"keep": d["contact_id"], "merge": [dana["contact_id"]]}
    )
    assert again.status == "error" and "archived (merged into" in again.message


def test_merge_command_asks_then_merges_and_keeps_a_chosen_field(cli, store: Store):
    dana, d = twins(store)
    call(store, "update_contact", contact_id=d["contact_id"], address="200 Pine Ave")
    code, out = cli("merge", dana["contact_id"], d["contact_id"], "--take", f"address={d['contact_id']}", stdin="no\n")
    assert code == 1 and "said no" in out
    assert store.require("contacts", d["contact_id"])["archived"] is False
    code, out = cli("merge", dana["contact_id"], d["contact_id"], "--take", f"address={d['contact_id']}", stdin="yes\n")
    assert code == 0 and "Merged D. Reyes" in out
    assert store.require("contacts", dana["contact_id"])["address"] == "200 Pine Ave"


def test_chat_finds_duplicates_and_merges_on_yes(store: Store, data_dir: Path):
    import io

    from rich.console import Console

    from backoffice.agent.chat.prompts import ChatApprover, LineReader

    dana, d = twins(store)
    stdin = io.StringIO("yes\n")
    console = Console(file=io.StringIO(), width=200)
    orch = build(store, ChatApprover(console, LineReader(stdin, console)), offline=True)
    reply = orch.handle_message("are there any duplicates?")
    text = reply.plain()
    assert "Likely duplicates" in text and "same phone (850) 644-4200" in text
    assert f"merge {dana['contact_id']} into {d['contact_id']}" in text  # D. Reyes has more history
    reply = orch.handle_message("merge Dana Reyes and D. Reyes")
    merged = f"Merged Dana Reyes ({dana['contact_id']}) into Dana Reyes ({d['contact_id']})"
    assert merged in reply.plain(), reply.plain()
    assert store.require("contacts", dana["contact_id"])["merged_into"] == d["contact_id"]
    assert store.require("contacts", d["contact_id"])["first_name"] == "Dana"  # the fuller first name kept


def test_chat_merge_is_not_done_when_the_owner_says_no(cli, store: Store):
    dana, d = twins(store)
    code, out = cli("chat", stdin=lines("merge D. Reyes into Dana Reyes", "no"))
    assert "Merge D. Reyes into Dana Reyes" in out and "said no" in out
    assert store.require("contacts", d["contact_id"])["archived"] is False
    assert dana["contact_id"] != d["contact_id"]
