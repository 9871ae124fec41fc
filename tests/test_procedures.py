from __future__ import annotations

from pathlib import Path

import pytest

from backoffice.agent.procedures import (
    keyword_pattern,
    load_procedures,
    parse_procedure,
    procedure_dirs,
    route_event,
    route_message,
)

GOOD = """---
name: {name}
triggers:
  keywords: [{keywords}]
  events: [{events}]
requires:
  schemas: [crm.json]
hard_stops:
  - rule: never do the risky thing without asking
    tools: [{guarded}]
---
Policy text for {name}.
"""


def write(directory: Path, filename: str, name: str = "extra", keywords: str = "invoice", events: str = "tick",
          guarded: str = "log_interaction") -> Path:  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    path.write_text(GOOD.format(name=name, keywords=keywords, events=events, guarded=guarded))
    return path


def test_the_shipped_core_procedure_loads_with_its_hard_stops():
    procedures, problems = load_procedures(procedure_dirs())
    assert problems == []
    crm = next(p for p in procedures if p.name == "crm")
    assert crm.default and "new_inquiry" in crm.events and set(crm.schemas) == {"crm.json", "opportunity.json"}
    assert {"send_message", "mark_opportunity_won", "create_quickbooks_customer", "create_contact_anyway",
            "merge_contacts"} <= crm.guarded_tools  # fmt: skip
    assert {s["name"] for s in crm.schedule} == {"daily_digest", "weekly_pipeline", "monthly_winloss"}
    assert "never as" in crm.body or "never" in crm.body.lower()


@pytest.mark.parametrize(
    "text",
    ["Follow up on the Oak St lead", "any follow-ups today?", "FOLLOWUPS please", "following up with Dana",
     "show me the leads", "what's our Pipeline", "a new Inquiry came in", "she called back"],
)  # fmt: skip
def test_messages_route_to_the_crm_procedure_by_keyword_and_inflection(text: str):
    procedures, _ = load_procedures(procedure_dirs())
    route = route_message(procedures, text)
    assert [p.name for p in route.procedures] == ["crm"] and not route.fallback


def test_keywords_match_whole_words_only():
    assert not keyword_pattern("lead").search("misleading")
    assert not keyword_pattern("won").search("wonderful")
    assert keyword_pattern("follow up").search("Follow-ups due")


def test_a_message_matching_nothing_gets_the_default_procedure():
    procedures, _ = load_procedures(procedure_dirs())
    route = route_message(procedures, "good morning")
    assert route.fallback and [p.name for p in route.procedures] == ["crm"]


def test_a_dropped_in_procedure_is_routed_by_its_own_keywords_and_events(tmp_path: Path):
    extra = tmp_path / "more"
    write(extra, "invoices.md", name="invoicing", keywords="invoice, overdue payment", events="invoice_due")
    procedures, problems = load_procedures([*procedure_dirs(), extra])
    assert problems == []
    assert [p.name for p in route_message(procedures, "which Invoices are unpaid?").procedures] == ["invoicing"]
    both = route_message(procedures, "invoice the Reyes job")
    assert {p.name for p in both.procedures} == {"invoicing", "crm"}
    assert [p.name for p in route_event(procedures, "invoice_due").procedures] == ["invoicing"]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("name: x\n", 1, "must start with a '---'"),
        ("---\nname: x\ntriggers: {keywords: [a]}\n", 1, "never closed"),
        ("---\nname: x\ntriggers:\n  keywords: [a\n---\nbody\n", 4, "not valid YAML"),
        ("---\nname: Bad Name\ntriggers: {keywords: [a]}\n---\nbody\n", 2, "'name' is required"),
        ("---\nname: x\ntriggers: {keywords: [a]}\nrequires:\n  schemas: [nope.json]\n---\nbody\n", 5, "nope.json"),
        ("---\nname: x\ntriggers: {keywords: [a]}\nhard_stop: []\n---\nbody\n", 4, "unknown key 'hard_stop'"),
        ("---\nname: x\ntriggers: {keywords: [a]}\n---\n\n", 4, "no body"),
        ("---\nname: x\ntriggers:\n  keywords: lead\n---\nbody\n", 4, "must be a list"),
    ],
)
def test_malformed_procedure_files_are_reported_with_file_and_line(tmp_path: Path, text: str, line: int, words: str):
    path = tmp_path / "broken.md"
    path.write_text(text)
    procedures, problems = load_procedures([tmp_path])
    assert procedures == []
    assert len(problems) == 1 and problems[0].startswith(f"{path}:{line}:") and words in problems[0], problems


def test_a_broken_procedure_does_not_stop_the_chat(cli, data_dir: Path):
    (data_dir / "procedures").mkdir(parents=True)
    (data_dir / "procedures" / "mine.md").write_text("---\nname: mine\ntriggers:\n  keywords: [a\n---\nx\n")
    code, screen = cli("chat", stdin="what's our pipeline?\n")
    assert code == 0 and "Traceback" not in screen
    assert "Procedure file problem" in screen and "mine.md:4" in screen
    assert "New leads this week: 0" in screen


def test_a_tool_named_by_a_hard_stop_needs_the_owner_even_if_the_tool_is_an_ordinary_write(data_dir: Path, store):
    from backoffice.agent.orchestrator import build

    write(data_dir / "procedures", "careful.md", name="careful", guarded="update_contact")
    orch = build(store, approver=None, origin="ask")
    assert "update_contact" in orch.gate.guarded
    parsed = parse_procedure(data_dir / "procedures" / "careful.md")
    assert parsed.guarded_tools == {"update_contact"}
