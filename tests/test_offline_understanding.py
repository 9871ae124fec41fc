"""What the offline planner reads in a line (dates, amounts, phones, yes/no, shorthand) and what it
is declared to understand (procedures/*.requests.yaml), including a request taught by a new file."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from backoffice.agent.planners.offline import OfflinePlanner
from backoffice.agent.planners.offline.understand import (
    find_address,
    find_amount,
    find_amounts,
    find_competitor,
    find_date,
    find_follow_up,
    find_name,
    find_phone,
    lost_reason,
    yes_no,
)

from .conftest import add_contact, lines, records

FRIDAY = dt.date(2026, 11, 20)
WEDNESDAY = dt.date(2026, 11, 25)
PLANNER = OfflinePlanner()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("call back Friday", dt.date(2026, 11, 27)), ("tomorrow", dt.date(2026, 11, 21)),
     ("next tuesday", dt.date(2026, 11, 24)), ("in 2 weeks", dt.date(2026, 12, 4)),
     ("on 12/3", dt.date(2026, 12, 3)), ("Dec 3rd", dt.date(2026, 12, 3)), ("3 January", dt.date(2027, 1, 3)),
     ("2027-02-01", dt.date(2027, 2, 1)), ("in 3 months", dt.date(2027, 2, 20)), ("next week", dt.date(2026, 11, 23)),
     ("end of month", dt.date(2026, 11, 30)), ("by the 3rd", dt.date(2026, 12, 3)), ("the 28th", dt.date(2026, 11, 28)),
     ("end of next month", dt.date(2026, 12, 31)), ("in 90 days", dt.date(2027, 2, 18)),
     ("last fri", dt.date(2026, 11, 13)), ("yesterday", dt.date(2026, 11, 19))],
)  # fmt: skip
def test_dates_in_the_words_owners_use(text: str, expected: dt.date):
    found = find_date(PLANNER.normalise(text), FRIDAY)
    assert found is not None and found.day == expected


def test_a_date_like_12_3_follows_the_businesss_region():
    assert find_date("12/3", FRIDAY, "US").day == dt.date(2026, 12, 3)
    assert find_date("12/3", FRIDAY, "GB").day == dt.date(2027, 3, 12)
    assert find_date("31/12", FRIDAY, "AU").day == dt.date(2026, 12, 31)
    assert find_date("31/12", FRIDAY, "US") is None  # no 31st month: nothing is guessed


def test_a_follow_up_needs_a_cue_and_a_day_still_to_come():
    assert find_follow_up("she wants a quote, call back Friday", FRIDAY) == dt.date(2026, 11, 27)
    assert find_follow_up("we met on Monday about the sink", FRIDAY) is None
    assert find_follow_up("will send the estimate by Wednesday", FRIDAY) == dt.date(2026, 11, 25)
    assert find_follow_up("said call him in the spring", FRIDAY) is None  # no day, so none is invented
    norm = PLANNER.normalise("call w/ joe re boilers - wants 2 bldgs now 3rd in jan. call back 12/8")
    assert find_follow_up(norm, WEDNESDAY) == dt.date(2026, 12, 8)


@pytest.mark.parametrize(
    ("text", "value"),
    [("about 15k", 15000), ("$8,500", 8500), ("budget 300 bucks", 300), ("~4500", 4500), ("1.2k drain", 1200),
     ("worth about 1500", 1500), ("convert linda, 1200 for pump + install", 1200), ("qualify + est sent 3.5k", 3500),
     ("about 3.8k", 3800), ("change the amount to 2,650", 2650)],
)  # fmt: skip
def test_money_as_owners_write_it(text: str, value: float):
    assert find_amount(text) == value


@pytest.mark.parametrize("text", ["all 3 bldgs signed", "went out to 410 main today", "call 555-123-4567",
                                  "follow up in 2 weeks", "the 8am walkthru", "call back 12/8"])  # fmt: skip
def test_counts_times_phones_and_streets_are_not_money(text: str):
    assert find_amounts(text) == []


def test_a_negative_or_absurd_amount_is_a_problem_never_a_value():
    for text in ("$-5k", "-$5k", "minus 5k", "$" + "9" * 400, "$250,000,000"):
        [amount] = find_amounts(text)
        assert amount.value is None and amount.problem


def test_phones_are_whole_numbers_found_by_the_phone_library():
    line = "new customer: Pete Alvarez 555 318 2210 pete.alvarez@example.com 17 Hillside Ave"
    assert find_phone(line, "US") == ("555 318 2210", "+15553182210")
    assert find_phone("change his number to 555-0199", "US") is None  # no area code: not a whole number
    assert find_address(line) == "17 Hillside Ave"
    assert find_name("Dana Reyes, (555) 201-7788, dana@reyesplumbing.com, 14 Oak St") == "Dana Reyes"


def test_yes_and_no_as_typed():
    assert yes_no("yep add them to quickbooks") is True and yes_no("sure") is True
    assert yes_no("no its a diff guy, his son. add him anyway") is False and yes_no("nah") is False
    assert yes_no("what's our pipeline?") is None


def test_competitors_and_loss_reasons():
    text = "went with a cheaper guy, Acme Plumbing"
    assert find_competitor(text) == "Acme Plumbing" and lost_reason(text, "Acme Plumbing") == "competition"
    assert find_competitor("we lost smith and sons to budget pipes, they were 400 cheaper") == "Budget Pipes"
    assert find_competitor("marcus went w another plumber") is None  # names nobody
    assert lost_reason("never made a decision", None) == "no_decision"


def test_shorthand_and_typos_are_made_regular_but_names_and_stems_are_left_alone():
    assert PLANNER.normalise("folow up w marcos re kitchen") == "follow up with marcos about kitchen"
    assert PLANNER.normalise("wat's our pipline") == "what is our pipeline"
    assert PLANNER.normalise("add angela marino ph 5552349876").startswith("add angela marino phone")
    assert PLANNER.normalise("disqualify L-7") == "disqualify l-7"
    assert PLANNER.normalise("tom's follow-up") == "toms follow up"


# ---------------------------------------------------------------------------- what is declared
def test_every_declared_example_is_read_as_its_request():
    misread = []
    for request in PLANNER.understanding.requests:
        for example in request.examples:
            found, _, _ = PLANNER.understanding.classify(PLANNER.normalise(example))
            if found is None or found.name != request.name:
                misread.append(f"{example!r} -> {found.name if found else None}, declared under {request.name}")
    assert misread == []


def test_every_question_a_flow_asks_by_name_is_declared_with_its_words():
    source = "\n".join(p.read_text() for p in Path(PLANNER.__class__.__module__.replace(".", "/")).parent.glob("*.py")
                       if p.exists())  # fmt: skip
    if not source:
        import backoffice.agent.planners.offline as pkg

        source = "\n".join(p.read_text() for p in Path(pkg.__file__).parent.glob("*.py"))
    asked = set(re.findall(r'self\.need\("([a-z_]+)", \w+, "([a-z_]+)"(?:, "[a-z_]+")?\)', source))
    missing = [f"{r}.{s}" for r, s in asked
               if not (PLANNER.understanding.get(r) and PLANNER.understanding.get(r).slots.get(s))]  # fmt: skip
    assert asked and missing == []


VISITS = """---
name: visits
triggers:
  keywords: [visit]
---
Site visits: book them on the lead, with the day as a follow-up.
"""
VISIT_REQUESTS = r"""requests:
  - name: book_visit
    group: Site visits
    help: book a site visit on a lead
    examples: ["book a site visit for the fan lead on friday"]
    cues:
      - {pattern: '\bbook (?:a |the )?site visit\b', weight: 40}
    slots:
      lead: {kind: lead, ask: "Which lead is the visit for?"}
      when: {kind: date, ask: "Which day?"}
    calls:
      - tool: update_lead
        args: {lead_id: "{lead}", pipeline_stage: scheduled_visit}
      - tool: log_interaction
        args: {type: note, lead_id: "{lead}", subject: "Site visit", body: "Site visit booked.",
               follow_up_date: "{when}"}
    done: "Site visit booked for {when}."
"""


def test_a_new_procedure_file_teaches_the_offline_planner_a_request(cli, data_dir: Path):
    from backoffice.tools.book.store import Store

    store = Store(data_dir)
    tom = add_contact(store, name="Tom Becker", phone="555-880-1234")
    from .conftest import call

    call(store, "create_lead", title="Bathroom fan at 88 Oak St", contact_id=tom["contact_id"])
    store.close()
    (data_dir / "procedures").mkdir(parents=True)
    (data_dir / "procedures" / "visits.md").write_text(VISITS)
    (data_dir / "procedures" / "visits.requests.yaml").write_text(VISIT_REQUESTS)
    code, screen = cli("chat", stdin=lines("book a site visit for the fan lead", "friday", "help"))
    assert code == 0 and "Which day?" in screen and "Site visit booked for 2026-11-27." in screen
    assert "book a site visit on a lead" in screen  # help lists what the file taught
    store = Store(data_dir)
    assert store.require("leads", "L-1")["pipeline_stage"] == "scheduled_visit"
    [note] = records(store, "interactions")
    assert note["follow_up_date"] == "2026-11-27" and note["lead_id"] == "L-1"


def test_a_broken_requests_file_is_reported_and_the_rest_keeps_working(cli, data_dir: Path):
    (data_dir / "procedures").mkdir(parents=True)
    (data_dir / "procedures" / "visits.md").write_text(VISITS)
    (data_dir / "procedures" / "visits.requests.yaml").write_text(
        "requests:\n  - name: book_visit\n    cues: ['\\bbook\\b']\n    calls: [{tool: delete_everything}]\n"
    )
    code, screen = cli("chat", stdin=lines("what's our pipeline?"))
    assert "visits.requests.yaml: request book_visit: calls: unknown tool 'delete_everything'" in screen
    assert "Pipeline" in screen
