"""Scenarios: a starting book, what the owner types (and what arrives meanwhile), and the book that
must result, in the spirit of tau2-bench and SOPBench. Both planners run the same scenarios.

A scenario file (``cases/*.yaml``):

    name: won_asks_quickbooks_once
    covers: Hard stop 4 and 5 — a win needs the owner's yes; QuickBooks is asked about once
    book: demo                       # demo (the sample business at 2026-11-25 08:30) or empty
    setup: [{tool, args}]            # tool calls run on the book first (as in the phrasing set)
    turns:
      - say: mark the boiler job won # an owner line in the chat; a list is several lines
      - say: [yes, no]               # answers to the questions asked (the gate's included)
      - email: forms/wix_new_submission.eml   # a file under tests/fixtures/mail, read as `backoffice inbound` does
      - cli: [approve, P-1]          # a command run between chat lines
    expect:
      records: [{table: opportunities, id: O-2, fields: {stage: won, close_date: today}}]
      counts: {contacts: 8}          # how many records a table holds
      events: [{record_id: O-2, action: won, actor: owner}]      # each must be in the event log
      no_events: [{action: quickbooks_linked}]                   # none may be
      follow_ups: {I-15: completed}  # follow-up status of interactions
      pending: [{tool: create_quickbooks_customer, status: rejected}]
      outbox: 1                      # messages saved to the outbox
      screen: ["Create Smith & Sons"]          # said on the screen (by either planner)
      once: ["Create Smith & Sons Property Management in QuickBooks"]  # said exactly once
    claude:                          # what the scripted Claude answers, in order (tests/fakes/messages_api.py)
      - {tool: mark_opportunity_won, args: {opportunity_id: O-2}}
      - {text: Marked won.}
      # also {tools: [[name, args], ...]}, {cut_off: {say, tool, args}}, {refusal: ""}, {paused: ""},
      # {empty: true}, {status: 529}

``run`` plays a scenario through the real chat machinery (the chat's line reader and approver, the
orchestrator, the gate), emails through ``agent.inbound`` and commands through the real entry point,
and ``check`` returns what differs from ``expect`` (nothing, when it passes).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
CASES = HERE / "cases"
MAIL = HERE.parent / "fixtures" / "mail"
NOW = "2026-11-25T08:30:00"
# every scenario writes and fsyncs a book: in memory when the machine has a RAM disk
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def load(path: Path) -> dict[str, Any]:
    scenario = yaml.safe_load(path.read_text(encoding="utf-8"))
    scenario.setdefault("name", path.stem)
    return dict(scenario)


def all_scenarios() -> list[dict[str, Any]]:
    return [load(p) for p in sorted(CASES.glob("*.yaml"))]


@contextlib.contextmanager
def pinned(environ: dict[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in environ}
    for key, value in environ.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# ---------------------------------------------------------------------------- Claude's side of a scenario
def claude_script(items: list[dict[str, Any]]) -> list[Any]:
    from tests.fakes import messages_api as m

    script: list[Any] = []
    for item in items:
        if "text" in item:
            script.append(m.text(str(item["text"])))
        elif "tool" in item:
            script.append(m.tool_use(item["tool"], item.get("args") or {}, item.get("say")))
        elif "tools" in item:
            script.append(m.tool_uses(*[(name, args) for name, args in item["tools"]]))
        elif "cut_off" in item:
            cut = item["cut_off"] or {}
            script.append(m.cut_off(cut.get("say", ""), cut.get("tool"), cut.get("args")))
        elif "refusal" in item:
            script.append(m.refusal(str(item["refusal"] or "")))
        elif "paused" in item:
            script.append(m.paused(str(item["paused"] or "Still working on it.")))
        elif "empty" in item:
            script.append(m.empty())
        elif "status" in item:
            script.append(m.Status(int(item["status"])))
        else:
            raise ValueError(f"unknown Claude script item {item!r}")
    return script


# ---------------------------------------------------------------------------- playing a scenario
class Lines:
    """The owner's lines for one stretch of chat, echoed like piped stdin."""

    def __init__(self, console: Any):
        self.lines: list[str] = []
        self.console = console
        self.interactive = False

    def read(self, prompt: str) -> str | None:
        if not self.lines:
            return None
        line = self.lines.pop(0)
        self.console.print(f"{prompt}{line}", markup=False, highlight=False)
        return line


@dataclass
class Played:
    scenario: dict[str, Any]
    planner: str
    screen: str
    data_dir: Path
    problems: list[str] = field(default_factory=list)
    api: Any = None

    @property
    def passed(self) -> bool:
        return not self.problems


_DEMO: dict[str, Path] = {}


def _demo_book() -> Path:
    """The sample business, built once per process and copied for each scenario."""
    from backoffice.tools.book.store import Store
    from backoffice.tools.demo import load_demo

    if "book" not in _DEMO or not _DEMO["book"].exists():
        where = Path(tempfile.mkdtemp(dir=SCRATCH)) / "demo"
        store = Store(where)
        load_demo(store)
        store.fold()
        store.close()
        _DEMO["book"] = where
        atexit.register(shutil.rmtree, where.parent, True)
    return _DEMO["book"]


def build_book(scenario: dict[str, Any], data: Path) -> None:
    from backoffice.tools.book.store import Store
    from backoffice.tools.catalog import get_tool

    if scenario.get("book", "demo") == "demo":
        shutil.copytree(_demo_book(), data)
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)  # as the product makes it: `check` reports a book others can read
    store = Store(data)
    try:
        for step in scenario.get("setup") or []:
            tool = get_tool(step["tool"])
            tool.func(store, tool.parse(step.get("args") or {}))
        if scenario.get("settings"):
            (data / "settings.json").write_text(json.dumps(scenario["settings"]))
            (data / "settings.json").chmod(0o600)
    finally:
        store.close()


def play(scenario: dict[str, Any], planner: str = "offline", client: Any = None, where: Path | None = None) -> Played:
    """Run ``scenario`` with the offline planner, or with Claude through ``client`` (an
    ``anthropic.Anthropic``: the scripted fake, or the real API in ``make eval``)."""
    from rich.console import Console

    from backoffice.agent.chat.loop import ChatApprover, take_line
    from backoffice.agent.chat.screen import render
    from backoffice.agent.cli import main
    from backoffice.agent.inbound import handle_inbound
    from backoffice.agent.orchestrator import build
    from backoffice.tools.book.store import Store
    from backoffice.tools.services import Services

    scratch = Path(tempfile.mkdtemp(dir=SCRATCH or where))
    data = scratch / "data"
    env = {"BACKOFFICE_NOW": NOW, "BACKOFFICE_DATA_DIR": str(data), "ANTHROPIC_API_KEY": None}
    with pinned(env):
        build_book(scenario, data)
        services = Services(anthropic=client) if client is not None else Services()
        out = io.StringIO()
        console = Console(file=out, width=200, color_system=None)
        store = Store(data, services=services)
        reader = Lines(console)
        holder: dict[str, Any] = {}
        shown = {"n": 0}

        def flush() -> None:
            shown["n"] = render(holder["orch"].current, console, shown["n"])

        orch = build(store, ChatApprover(console, reader, flush), origin="chat", offline=planner == "offline")
        holder["orch"] = orch
        try:
            for turn in scenario.get("turns") or []:
                if "say" in turn:
                    said = turn["say"]
                    reader.lines = [str(s) for s in (said if isinstance(said, list) else [said])]
                    while (line := reader.read("you> ")) is not None:
                        take_line(orch, console, line, shown)
                elif "email" in turn:
                    result = handle_inbound(store, (MAIL / turn["email"]).read_bytes())
                    console.print(f"[email {turn['email']}: {result.status}] {result.message}", markup=False)
                elif "cli" in turn:
                    capture = io.StringIO()
                    with contextlib.redirect_stdout(capture), contextlib.redirect_stderr(capture):
                        code = main([str(a) for a in turn["cli"]], services=services)
                    console.print(f"[backoffice {' '.join(map(str, turn['cli']))} -> {code}]\n{capture.getvalue()}",
                                  markup=False)  # fmt: skip
                else:
                    raise ValueError(f"unknown turn {turn!r}")
        finally:
            store.close()
        played = Played(scenario, planner, out.getvalue(), data)
        played.problems = check(scenario.get("expect") or {}, data, played.screen)
    return played


def cleanup(played: Played) -> None:
    shutil.rmtree(played.data_dir.parent, ignore_errors=True)


# ---------------------------------------------------------------------------- the end state
def check(expect: dict[str, Any], data: Path, screen: str) -> list[str]:
    from backoffice.agent.gate.pending import PendingStore
    from backoffice.tools.book.check import check_data_dir
    from backoffice.tools.book.store import Store

    problems: list[str] = []
    store = Store(data)
    try:
        today = store.today().isoformat()
        for want in expect.get("records") or []:
            doc = store.get(want["table"], want["id"])
            if doc is None:
                problems.append(f"{want['id']} is not in {want['table']}")
                continue
            for key, value in (want.get("fields") or {}).items():
                value = today if value == "today" else value
                got = doc.get(key)
                if isinstance(value, list) and isinstance(got, list):
                    if not set(map(str, value)) <= set(map(str, got)):
                        problems.append(f"{want['id']}.{key} is {got!r}, expected to hold {value!r}")
                elif str(got) != str(value) if value is not None else got is not None:
                    problems.append(f"{want['id']}.{key} is {got!r}, expected {value!r}")
        counts = store.counts()
        for table, n in (expect.get("counts") or {}).items():
            if counts.get(table) != n:
                problems.append(f"{table}: {counts.get(table)} records, expected {n}")
        events = store.events()
        for want in expect.get("events") or []:
            if not any(all(str(e.get(k)) == str(v) for k, v in want.items()) for e in events):
                problems.append(f"no event {want}")
        for unwanted in expect.get("no_events") or []:
            hits = [e for e in events if all(str(e.get(k)) == str(v) for k, v in unwanted.items())]
            if hits:
                problems.append(f"unexpected event {unwanted}: {hits[0]['action']} on {hits[0]['record_id']}")
        for rid, status in (expect.get("follow_ups") or {}).items():
            item = store.get("interactions", rid)
            if item is None or item["follow_up_status"] != status:
                problems.append(f"{rid} follow-up is {item and item['follow_up_status']}, expected {status}")
        if "pending" in expect:
            actions = PendingStore(data).all()
            want_actions = expect["pending"] or []
            for want in want_actions:
                if not any(all(str(getattr(a, k)) == str(v) for k, v in want.items()) for a in actions):
                    problems.append(f"no pending action {want}; there are {[(a.tool, a.status) for a in actions]}")
            if not want_actions and [a for a in actions if a.status == "pending"]:
                problems.append(
                    f"actions are waiting: {[(a.tool, a.status) for a in actions if a.status == 'pending']}"
                )
        if "outbox" in expect:
            sent = list((data / "outbox").glob("*.eml")) if (data / "outbox").exists() else []
            if len(sent) != expect["outbox"]:
                problems.append(f"{len(sent)} messages in the outbox, expected {expect['outbox']}")
        for text in expect.get("screen") or []:
            if text not in screen:
                problems.append(f"the screen never says {text!r}")
        for text in expect.get("not_screen") or []:
            if text in screen:
                problems.append(f"the screen says {text!r}")
        for text in expect.get("once") or []:
            if screen.count(text) != 1:
                problems.append(f"{text!r} is said {screen.count(text)} times, expected once")
    finally:
        store.close()
    broken = check_data_dir(data)
    if broken:
        problems.append(f"backoffice check fails: {broken[:3]}")
    return problems
