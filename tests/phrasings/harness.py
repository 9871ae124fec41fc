"""Run every owner phrasing through a planner on the sample book and score what reached the gate.

    python tests/phrasings/harness.py [--only ID-PREFIX] [--show failed|all] [--planner offline]

Each case starts from a fresh copy of the sample book (``backoffice demo`` at 2026-11-25 08:30,
America/New_York), runs its ``setup`` calls, then types its ``say`` lines into the real chat
machinery (``LineReader``, ``ChatApprover``, the orchestrator and its gate), and records every call
that reaches the gate: the tool, the arguments, and what the gate made of it.

Scoring (README.md has the matching rules for arguments):

- **handled**: the expectation, or one of its ``also_ok`` alternatives, is met, and no tool of
  ``not_tools`` was called (a consequential tool counts as called when it is proposed);
- **wrong write**: a write that ran and matches no expected call of any alternative. Asking is
  never a wrong write: a consequential call is a question to the owner, and the simulated owner
  below says no to one that nobody asked for, so it changes nothing. Such proposals are counted
  apart as **unasked proposals**.

The simulated owner answers the gate with the case's next ``say`` line when there is one (the
same reader as the chat, so "yes" and "no" work as typed); once the lines run out it says yes to a
call the case expects and no to any other, as an owner would who asked for exactly that.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
CASES = HERE / "owner_phrasings.yaml"
NOW = "2026-11-25T08:30:00"
REFS = {"contact": "contact_id", "lead": "lead_id", "job": "opportunity_id", "company": "company_id"}
FREE_TEXT = {"name", "address", "title", "source", "note", "append_note", "owner", "competitor", "query"}
NOT_CAUGHT = "I didn't catch that"
# a book per case is written and fsynced: in memory when the machine has a RAM disk
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def pinned_clock() -> contextlib.AbstractContextManager[None]:
    """The sample book's Wednesday, and the offline planner (no API key)."""
    from tests.scenarios.runner import pinned

    return pinned({"BACKOFFICE_NOW": NOW, "ANTHROPIC_API_KEY": None})


def load_cases(path: Path = CASES) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8")))


# ---------------------------------------------------------------------------- what happened
@dataclass
class Call:
    tool: str
    args: dict[str, Any]
    effect: str
    status: str  # ok | error | pending | declined | already
    result: dict[str, Any] | None = None

    @property
    def happened(self) -> bool:
        """A read or write that ran, or a consequential call that was put to the owner."""
        if self.effect == "consequential":
            return self.status in ("ok", "pending", "declined", "already")
        return self.status == "ok"

    @property
    def wrote(self) -> bool:
        return self.effect != "read" and self.status == "ok"

    def __str__(self) -> str:
        shown = {k: v for k, v in self.args.items() if v not in (None, "", [], {})}
        return f"{self.tool}({json.dumps(shown, default=str)[1:-1]}) -> {self.status}"


@dataclass
class Result:
    case: dict[str, Any]
    calls: list[Call]
    screen: str
    last_reply: str
    handled: bool = False
    wrong: list[Call] = field(default_factory=list)
    unasked: list[Call] = field(default_factory=list)
    why: str = ""

    @property
    def id(self) -> str:
        return str(self.case["id"])


# ---------------------------------------------------------------------------- comparing arguments
class Book:
    """Names in the expectations resolved to ids in the case's book, and the tools' defaults."""

    def __init__(self, store: Any):
        from backoffice.tools.book.normalize import full_name

        self.store = store
        with store.reading():
            self.contacts = {
                full_name(d).lower(): d["contact_id"] for d in store.scan("contacts") if not d.get("archived")
            }
            self.leads = {d["title"].lower(): d for d in store.scan("leads")}
            self.jobs = {d["name"].lower(): d for d in store.scan("opportunities")}
            self.companies = {d["name"].lower(): d["company_id"] for d in store.scan("companies")}

    def ref(self, kind: str, name: Any) -> str | None:
        name = str(name).lower()
        if kind == "contact":
            return self.contacts.get(name)
        if kind == "lead":
            return (self.leads.get(name) or {}).get("lead_id")
        if kind == "job":
            return (self.jobs.get(name) or {}).get("opportunity_id")
        return self.companies.get(name)

    def owner_of(self, table: str, record_id: str | None) -> str | None:
        if not record_id:
            return None
        with contextlib.suppress(Exception):
            doc = self.store.get(table, record_id)
            return doc.get("contact_id") if doc else None
        return None


def _phone(value: Any) -> str | None:
    from backoffice.tools.book.normalize import phone_e164

    return phone_e164(str(value), "US") if value else None


def _tag(value: Any) -> str:
    return re.sub(r"[\s\-]+", "_", str(value).strip().lower())


def _same_date(expected: Any, actual: Any) -> bool:
    if actual in (None, ""):
        return False
    text = str(actual)
    return text[:10] == str(expected)[:10]


def arg_matches(book: Book, tool: str, key: str, expected: Any, args: dict[str, Any]) -> bool:
    from backoffice.tools.book.normalize import split_name
    from backoffice.tools.catalog import get_tool

    model = get_tool(tool).input_model
    if key in REFS:
        want = book.ref(key, expected)
        field_name = REFS[key]
        got = args.get(field_name)
        if got and want and str(got).upper() == want:
            return True
        if tool == "log_interaction" and key == "contact" and want:
            return want in (
                book.owner_of("leads", args.get("lead_id")),
                book.owner_of("opportunities", args.get("opportunity_id")),
            )
        return False
    if key in ("first_name", "last_name") and tool in ("create_contact", "record_inquiry", "create_contact_anyway"):
        first, last = args.get("first_name"), args.get("last_name")
        if not (first or last) and args.get("name"):
            first, last = split_name(str(args["name"]))
        got = first if key == "first_name" else last
        return bool(got) and str(expected).lower() in str(got).lower()
    got = args.get(key)
    if got is None and key in model.model_fields:
        default = model.model_fields[key].get_default(call_default_factory=True)
        if default is not None and str(default) == str(expected):
            return True
        if key in ("as_of", "on") and str(expected) == NOW[:10]:
            return True
    if got is None:
        return False
    if key in ("phone", "main_phone"):
        return _phone(got) == _phone(expected)
    if key == "email":
        return str(got).strip().lower() == str(expected).strip().lower()
    if key in ("add_tags", "tags"):
        return {_tag(t) for t in expected} <= {_tag(t) for t in got}
    if key == "merge":
        return {str(x).upper() for x in expected} == {str(x).upper() for x in got}
    if key == "timestamp":
        return _same_date(expected, got)
    if isinstance(expected, dt.date):
        return _same_date(expected.isoformat(), got)
    if isinstance(expected, bool) or isinstance(got, bool):
        return bool(got) == bool(expected)
    if isinstance(expected, int | float):
        try:
            return abs(float(got) - float(expected)) < 0.005
        except (TypeError, ValueError):
            return False
    if key in FREE_TEXT or key == "name":
        return str(expected).lower() in str(got).lower()
    return str(got).lower() == str(expected).lower()


def call_matches(book: Book, want: dict[str, Any], call: Call) -> bool:
    if call.tool != want.get("tool"):
        return False
    return all(arg_matches(book, call.tool, k, v, call.args) for k, v in (want.get("args") or {}).items())


def expected_calls(alternative: dict[str, Any]) -> list[dict[str, Any]]:
    if "tools" in alternative:
        return list(alternative["tools"])
    if "tool" in alternative:
        return [{"tool": alternative["tool"], "args": alternative.get("args") or {}}]
    return []


# ---------------------------------------------------------------------------- judging
def asked(reply_text: str) -> bool:
    """The assistant's last message puts a question to the owner."""
    if NOT_CAUGHT in reply_text:
        return False
    return "?" in reply_text


def report_given(book: Book, kind: str, text: str) -> bool:
    """A read request no tool covers, answered in the reply itself."""
    low = text.lower()
    if kind == "pending_approvals":
        return "approval" in low
    store = book.store
    if kind == "open_leads":
        with store.reading():
            open_ids = [d["lead_id"] for d in store.scan("leads", status=("new", "working", "qualified"))]
        return bool(open_ids) and all(i.lower() in low for i in open_ids)
    if kind in ("job_timeline", "contact_timeline"):
        from backoffice.tools.reports.activity import summary

        link = "opportunity_id" if kind == "job_timeline" else "contact_id"
        table = "opportunities" if kind == "job_timeline" else "contacts"
        target = None
        with store.reading():
            for doc in store.scan(table):
                rid = doc[link]
                items = [i for i in store.linked("interactions", link, rid) if i["type"] != "system"]
                if items and all(summary(i).lower()[:30] in low for i in items):
                    target = rid
        return target is not None
    return False


def alternative_met(book: Book, alt: dict[str, Any], result: Result) -> str | None:
    """None when met, else why not."""
    calls = [c for c in result.calls if c.happened]
    writes = [c for c in calls if c.effect != "read"]
    if alt.get("asks"):
        if any(c.wrote for c in calls):
            return "asks expected, but it wrote"
        if not asked(result.last_reply) and not any(c.effect == "consequential" for c in writes):
            return "asks expected, but no question was put"
        return None
    if alt.get("writes") == "none" and "tool" not in alt and "tools" not in alt:
        if writes:
            return f"no writes expected, got {writes[0]}"
        if "report" in alt and not report_given(book, alt["report"], result.screen):
            return f"the {alt['report']} report was not given"
        if NOT_CAUGHT in result.screen and "report" in alt:
            return "not understood"
        return None
    wanted = expected_calls(alt)
    used: set[int] = set()
    for want in wanted:
        hit = next((i for i, c in enumerate(calls) if i not in used and call_matches(book, want, c)), None)
        if hit is None:
            near = [str(c) for c in calls if c.tool == want["tool"]]
            return f"missing {want['tool']} {want.get('args') or {}}" + (f"; got {near[0]}" if near else "")
        used.add(hit)
        if want.get("mentions") or alt.get("mentions"):
            blob = (json.dumps(calls[hit].result, default=str) + result.screen).lower()
            for word in want.get("mentions") or alt.get("mentions") or []:
                if str(word).lower() not in blob:
                    return f"{want['tool']} answer does not mention {word!r}"
    if alt.get("writes") == "none" and writes:
        return f"no writes expected, got {writes[0]}"
    return None


def judge(book: Book, result: Result) -> None:
    case = result.case
    alternatives = [case["expect"], *(case.get("also_ok") or [])]
    every_expected = [w for alt in alternatives for w in expected_calls(alt)]
    forbidden = set(case.get("not_tools") or [])
    why = []
    for alt in alternatives:
        problem = alternative_met(book, alt, result)
        if problem is None:
            break
        why.append(problem)
    else:
        result.why = why[0]
    called = {c.tool for c in result.calls if c.happened}
    if forbidden & called:
        result.why = f"called {sorted(forbidden & called)}, which it must not"
    result.handled = not result.why
    for c in result.calls:
        if c.effect == "read":
            continue
        expected = any(call_matches(book, w, c) for w in every_expected) or answered_follow_up(book, c, result.calls)
        if c.wrote and not expected:
            result.wrong.append(c)
        elif c.effect == "consequential" and c.status in ("declined", "pending") and not expected:
            result.unasked.append(c)


def answered_follow_up(book: Book, call: Call, calls: list[Call]) -> bool:
    """Issue 13: logging the promised call closes the follow-up it answers. Closing a callback that
    was due (today or overdue) for the person whose call, text, visit or email was just logged is
    right whether or not the case lists it, so it is never a wrong write."""
    if call.tool != "complete_follow_up":
        return False
    item = book.store.get("interactions", str(call.args.get("interaction_id")))
    if not item or not item.get("follow_up_date") or item["follow_up_date"] > NOW[:10]:
        return False
    touches = [c for c in calls if c.tool == "log_interaction" and c.wrote
               and c.args.get("type") in ("phone_call", "sms", "meeting", "email_outbound")]  # fmt: skip
    owners = {c.args.get("contact_id") for c in touches}
    owners |= {book.owner_of("leads", c.args.get("lead_id")) for c in touches}
    return item.get("contact_id") in owners


# ---------------------------------------------------------------------------- running a case
class ScriptedLines:
    """The owner's lines, one at a time, echoed like piped stdin in the chat."""

    def __init__(self, lines: list[str], console: Any):
        self.lines, self.console, self.interactive = list(lines), console, False

    def read(self, prompt: str) -> str | None:
        if not self.lines:
            return None
        line = self.lines.pop(0)
        self.console.print(f"{prompt}{line}", markup=False, highlight=False)
        return line


def simulated_owner(book: Book, case: dict[str, Any], reader: ScriptedLines, console: Any, flush: Any) -> Any:
    from backoffice.agent.chat.loop import ChatApprover
    from backoffice.agent.gate.gate import Decision

    alternatives = [case["expect"], *(case.get("also_ok") or [])]
    wanted = [w for alt in alternatives for w in expected_calls(alt)]

    class Owner(ChatApprover):
        def decide(self, action: Any, tool: Any) -> Any:
            if reader.lines:
                return super().decide(action, tool)
            self.before_asking()
            probe = Call(action.tool, dict(action.args), "consequential", "pending")
            yes = any(call_matches(book, w, probe) for w in wanted)
            console.print(f"[simulated owner: {'yes' if yes else 'no'} to {action.title}]", markup=False)
            return Decision("yes" if yes else "no")

    return Owner(console, reader, flush)


def run_case(case: dict[str, Any], demo: Path, planner: str = "offline") -> Result:
    from rich.console import Console

    from backoffice.agent.chat.loop import take_line
    from backoffice.agent.chat.screen import render
    from backoffice.agent.orchestrator import build
    from backoffice.tools.book.store import Store
    from backoffice.tools.catalog import get_tool
    from backoffice.tools.services import Services

    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(demo, data)
        store = Store(data, services=Services())
        try:
            for step in case.get("setup") or []:
                tool = get_tool(step["tool"])
                tool.func(store, tool.parse(step.get("args") or {}))
            book = Book(store)
            out = io.StringIO()
            console = Console(file=out, width=200, color_system=None)
            say = case["say"] if isinstance(case["say"], list) else [case["say"]]
            reader = ScriptedLines(say, console)
            holder: dict[str, Any] = {}
            shown = {"n": 0}

            def flush() -> None:
                shown["n"] = render(holder["orch"].current, console, shown["n"])

            orch = build(store, simulated_owner(book, case, reader, console, flush), origin="chat",
                         offline=planner == "offline")  # fmt: skip
            holder["orch"] = orch
            calls: list[Call] = []
            gate_call = orch.gate.call

            def recording(name: str, raw: Any) -> Any:
                outcome = gate_call(name, raw)
                try:
                    effect = get_tool(name).effect
                except Exception:
                    effect = "read"
                args = raw.model_dump() if hasattr(raw, "model_dump") else dict(raw or {})
                calls.append(Call(name, args, effect, outcome.status, outcome.result))
                return outcome

            orch.gate.call = recording  # type: ignore[method-assign]
            last = ""
            while (line := reader.read("you> ")) is not None:
                reply = take_line(orch, console, line, shown)
                if reply is not None:
                    last = reply.plain()
            result = Result(case, calls, out.getvalue(), last)
            judge(book, result)
            return result
        finally:
            store.close()


def demo_book(where: Path) -> Path:
    from backoffice.tools.book.store import Store
    from backoffice.tools.demo import load_demo

    store = Store(where)
    load_demo(store)
    store.fold()
    store.close()
    return where


@dataclass
class Score:
    results: list[Result]

    @property
    def handled(self) -> int:
        return sum(r.handled for r in self.results)

    @property
    def wrong_writes(self) -> list[Result]:
        return [r for r in self.results if r.wrong]

    @property
    def rate(self) -> float:
        return self.handled / len(self.results) if self.results else 0.0

    def by_category(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for r in self.results:
            cat = r.id.rsplit("-", 1)[0]
            h, n = out.get(cat, (0, 0))
            out[cat] = (h + r.handled, n + 1)
        return out


def run_all(cases: list[dict[str, Any]] | None = None, planner: str = "offline") -> Score:
    cases = load_cases() if cases is None else cases
    with pinned_clock(), tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        demo = demo_book(Path(tmp) / "demo")
        return Score([run_case(case, demo, planner) for case in cases])


def main(argv: list[str]) -> int:
    only = argv[argv.index("--only") + 1] if "--only" in argv else ""
    show = argv[argv.index("--show") + 1] if "--show" in argv else "failed"
    screens = "--screen" in argv
    source = Path(argv[argv.index("--file") + 1]) if "--file" in argv else CASES
    cases = [c for c in load_cases(source) if str(c["id"]).startswith(only)]
    started = time.perf_counter()
    score = run_all(cases)
    seconds = time.perf_counter() - started
    for r in score.results:
        if show == "all" or not r.handled or r.wrong:
            mark = "ok  " if r.handled else "MISS"
            print(f"{mark} {r.id:9} {r.case['say']!s:.90}")
            if not r.handled:
                print(f"     why: {r.why}")
            for c in r.wrong:
                print(f"     WRONG WRITE: {c}")
            if show == "all" or not r.handled:
                for c in r.calls:
                    print(f"     call: {c}")
            if screens:
                print("     | " + r.screen.strip().replace("\n", "\n     | "))
    print()
    for cat, (h, n) in score.by_category().items():
        print(f"  {cat:7} {h:3}/{n:<3}")
    plain = [r for r in score.results if r.case.get("plain")]
    print(
        f"\nhandled {score.handled}/{len(score.results)} = {score.rate:.0%}"
        f" (plain {sum(r.handled for r in plain)}/{len(plain)}, messy "
        f"{sum(r.handled for r in score.results if not r.case.get('plain'))}/{len(score.results) - len(plain)})"
        f" · wrong writes: {sum(len(r.wrong) for r in score.results)} in {len(score.wrong_writes)} cases"
        f" · unasked proposals: {sum(len(r.unasked) for r in score.results)} · {seconds:.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent.parent))
    raise SystemExit(main(sys.argv[1:]))
