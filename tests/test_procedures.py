from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import pytest

from backoffice.agent.procedure_check import load_checked
from backoffice.agent.procedures import (
    keyword_pattern,
    load_procedures,
    parse_procedure,
    procedure_dirs,
    route_event,
    route_message,
)
from backoffice.tools.book.settings import Settings

PROCEDURES = Path(str(files("backoffice.procedures")))

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


def test_the_shipped_core_procedure_loads_with_its_hard_stops_events_and_schedule():
    checked = load_checked(Settings())
    assert checked.problems == []
    crm = next(p for p in checked.procedures if p.name == "crm")
    assert crm.default and crm.events == ("inbound_email",) and set(crm.schemas) == {"crm.json", "opportunity.json"}
    assert {"send_message", "mark_opportunity_won", "create_quickbooks_customer", "create_contact_anyway",
            "merge_contacts"} <= crm.guarded_tools  # fmt: skip
    assert [str(entry) for entry in checked.schedule] == [
        "daily_digest: digest, every business day at 07:30",
        "weekly_pipeline: pipeline, weekly on mon at 07:30",
        "monthly_winloss: winloss, first business day of the month at 07:30",
    ]


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
        ("---\nname: x\nversion: 1\ntriggers: {keywords: [a]}\n---\nbody\n", 3, "unknown key 'version'"),
        ("---\nname: x\ntriggers: {keywords: [a]}\ntools: []\n---\nbody\n", 4, "leave it out to offer every tool"),
        ("---\nname: x\nschedule:\n  - name: d\n    report: digest\n---\n", 4, "each schedule entry is {name"),
        ("---\nname: x\nschedule:\n  - {name: d, report: digest, when: [7]}\n---\n", 4, "'when' must be words"),
        ("---\nname: x\n---\nbody\n", 1, "needs trigger keywords or events, 'default: true', or a schedule"),
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


# ---------------------------------------------------------------------------- what a file names must exist
@pytest.mark.parametrize(
    ("front", "line", "words"),
    [
        ("schedule:\n  - name: evening\n    report: digests\n    when: every day at 18:00\n", 5,
         "schedule 'evening': there is no report 'digests' (did you mean 'digest'?)"),
        ("schedule:\n  - name: evening\n    report: digest\n    when: every evening\n", 6,
         "'when: every evening' is not a schedule I know; write one of: every business day at {digest_time}"),
        ("schedule:\n  - name: evening\n    report: digest\n    when: every day at {closing_time}\n", 6,
         "{closing_time} is not a setting"),
        ("schedule:\n  - name: evening\n    report: digest\n    when: weekly on funday at 18:00\n", 6,
         "'funday' is not a day of the week"),
        ("triggers:\n  keywords: [invoice]\ntools:\n  - find_contacts\n  - send_mesage\n", 7,
         "there is no tool 'send_mesage' (did you mean 'send_message'?)"),
        ("triggers:\n  keywords: [invoice]\nhard_stops:\n  - rule: Ask first.\n    tools: [void_invoice]\n", 7,
         "there is no tool 'void_invoice'"),
        ("triggers:\n  keywords: [invoice]\n  events: [inbound_email, invoice_paid]\n", 5,
         "no handler for the event 'invoice_paid'; the events sent are inbound_email"),
    ],
)  # fmt: skip
def test_an_owner_file_naming_what_does_not_exist_is_reported_and_the_shipped_procedure_still_works(
    data_dir: Path, store, front: str, line: int, words: str
):
    from backoffice.agent.briefings.schedule import run_due
    from backoffice.agent.orchestrator import build

    path = data_dir / "procedures" / "mine.md"
    path.parent.mkdir(parents=True)
    path.write_text("---\nname: mine\n" + front + "---\nPolicy for invoices.\n")
    orch = build(store, approver=None, origin="ask")
    assert len(orch.problems) == 1 and orch.problems[0].startswith(f"{path}:{line}: "), orch.problems
    assert words in orch.problems[0]
    assert [p.name for p in route_message(orch.procedures, "any follow-ups today?").procedures] == ["crm"]
    assert orch.handle_message("any follow-ups today?").plain() == "No follow-ups due today. Nothing is overdue."
    friday = store.now().replace(hour=7, minute=31)
    assert [n.id for n in run_due(store, "daemon", friday)] == ["2026-11-20-digest"]


MOVED_AND_MISTYPED = """---
name: mine
schedule:
  - name: daily_digest
    report: digest
    when: every business day at 06:00
  - name: evening
    report: digests
    when: every day at 18:00
---
"""


def test_a_chat_and_doctor_show_the_problem_and_doctor_the_schedule_the_daemon_follows(cli, data_dir: Path):
    (data_dir / "procedures").mkdir(parents=True)
    (data_dir / "procedures" / "mine.md").write_text(MOVED_AND_MISTYPED)
    code, screen = cli("chat", stdin="quit\n")
    assert code == 0 and "Procedure file problem:" in screen and "mine.md:8: schedule 'evening'" in screen
    code, out = cli("--json", "doctor")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 1 and rows["Procedures"]["ok"] is False and "mine.md:8:" in rows["Procedures"]["note"]
    assert rows["Schedule"]["note"].splitlines() == [
        f"daily_digest: digest, every business day at 06:00 ({data_dir / 'procedures' / 'mine.md'}:4)",
        f"weekly_pipeline: pipeline, weekly on mon at 07:30 ({PROCEDURES / 'crm.md'}:19)",
        f"monthly_winloss: winloss, first business day of the month at 07:30 ({PROCEDURES / 'crm.md'}:22)",
    ]


def test_doctor_is_content_with_the_shipped_procedures(cli, store):
    code, out = cli("--json", "doctor")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["Procedures"]["ok"] is True
    assert rows["Procedures"]["note"] == "crm, measure, qualify: no problems"


def test_the_events_the_code_sends_are_the_ones_the_shipped_procedures_declare():
    from backoffice.agent.events import EVENT_HANDLERS

    procedures, _ = load_procedures(procedure_dirs())
    assert {e for p in procedures for e in p.events} == set(EVENT_HANDLERS)


def test_every_tool_that_needs_the_owner_has_its_rule_in_a_shipped_hard_stop():
    from backoffice.tools.catalog import TOOLS

    procedures, _ = load_procedures(procedure_dirs())
    consequential = {t.name for t in TOOLS if t.effect == "consequential"}
    assert consequential <= {t for p in procedures for t in p.guarded_tools}
