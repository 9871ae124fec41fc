"""The scenario suite (tests/scenarios/): each scenario's owner turns through the real chat, and the
book that must result, checked from the stores and the event log. The offline planner plays every
scenario; so does the Claude planner, against the strict fake Messages API answering with the
scenario's script (cut-off, refused, paused and empty turns included), and it must never send a
request the real API would refuse."""

from __future__ import annotations

from pathlib import Path

import anthropic
import pytest

from .fakes.messages_api import FakeMessagesAPI
from .scenarios.runner import all_scenarios, claude_script, cleanup, play

# the planners' understanding, played on the sample book the Store serves the same from either engine
pytestmark = pytest.mark.once

SCENARIOS = all_scenarios()


def test_there_are_at_least_thirty_scenarios_each_saying_what_it_covers():
    assert len(SCENARIOS) >= 30
    assert all(s.get("covers") and s.get("expect") for s in SCENARIOS)
    assert len({s["name"] for s in SCENARIOS}) == len(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_offline_planner_plays_the_scenario(scenario, tmp_path: Path):
    played = play(scenario, "offline", where=tmp_path)
    assert played.passed, "\n".join(played.problems) + "\n\n" + played.screen
    cleanup(played)


CLAUDE = [s for s in SCENARIOS if s.get("claude") is not None]


@pytest.mark.parametrize("scenario", CLAUDE, ids=[s["name"] for s in CLAUDE])
def test_claude_planner_plays_the_scenario_against_the_strict_fake(scenario, tmp_path: Path):
    with FakeMessagesAPI(claude_script(scenario["claude"])) as fake:
        client = anthropic.Anthropic(api_key="test-key", base_url=fake.base_url, max_retries=2, timeout=10.0)
        played = play(scenario, "claude", client=client, where=tmp_path)
    assert fake.refused == [], f"requests the real API would refuse: {fake.refused}"
    assert played.passed, "\n".join(played.problems) + "\n\n" + played.screen
    if scenario["claude"]:
        assert "offline planner is answering" not in played.screen  # the session stayed on Claude
    cleanup(played)


def test_make_eval_prints_pass_at_1_and_pass_at_k(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    from .fakes.messages_api import Forever, text
    from .scenarios import eval as scenario_eval

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert scenario_eval.main([]) == 2 and "ANTHROPIC_API_KEY is not set" in capsys.readouterr().out
    with FakeMessagesAPI([Forever(text("Everything is fine."))]) as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        assert scenario_eval.main(["--k", "2", "--only", "reports_change_nothing"]) == 0
    out = capsys.readouterr().out
    assert "reports_change_nothing" in out and "0/2  pass^1 0.00  pass^2 0" in out
    assert "overall: pass^1 0.00 · pass^2 0.00" in out
