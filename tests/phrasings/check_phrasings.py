"""Check owner_phrasings.yaml against the real tools and the sample book — not against any planner.

    python tests/phrasings/check_phrasings.py [--quiet]

For every case: the format is right, tool names and argument names exist, enum values and dates
parse, every name/title reference resolves to exactly one record of the demo book, and the expected
calls (after any ``setup``) actually run on a fresh copy of the book without an error. Tools with
effects outside the book (send_message, create_quickbooks_customer) are only parsed, not run.
Prints a count per category. Exit 1 on any problem.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

NOW = "2026-11-25T08:30:00"
os.environ["BACKOFFICE_NOW"] = NOW
os.environ.pop("ANTHROPIC_API_KEY", None)

from backoffice.tools.book.normalize import full_name  # noqa: E402
from backoffice.tools.book.store import Store  # noqa: E402
from backoffice.tools.catalog import all_tools  # noqa: E402
from backoffice.tools.demo import load_demo  # noqa: E402

HERE = Path(__file__).parent
CASES = HERE / "owner_phrasings.yaml"
CASE_KEYS = {"id", "say", "expect", "also_ok", "not_tools", "note", "plain", "setup"}
EXPECT_KEYS = {"tool", "tools", "args", "asks", "writes", "report", "mentions", "note"}
REFS = {"contact": "contact_id", "lead": "lead_id", "job": "opportunity_id", "company": "company_id"}
NOT_RUN = {"send_message", "create_quickbooks_customer"}  # they reach outside the book
REPORTS = {"pending_approvals", "job_timeline", "contact_timeline", "open_leads"}
TOOLS = all_tools()


class Problem(Exception):
    pass


def resolve(store: Store, kind: str, ref: Any) -> str:
    table, field = {
        "contact": ("contacts", None),
        "lead": ("leads", "title"),
        "job": ("opportunities", "name"),
        "company": ("companies", "name"),
    }[kind]
    ref = str(ref)
    with store.reading():
        docs = list(store.scan(table))
    if kind == "contact":
        hits = [d for d in docs if full_name(d).lower() == ref.lower() and not d.get("archived")]
    else:
        hits = [d for d in docs if d[field].lower() == ref.lower()]
    if len(hits) != 1:
        raise Problem(f"{kind} {ref!r} matches {len(hits)} records")
    return hits[0][REFS[kind]]


def real_args(store: Store, name: str, args: dict[str, Any]) -> dict[str, Any]:
    model = TOOLS[name].input_model
    out: dict[str, Any] = {}
    for key, value in (args or {}).items():
        if key in REFS:
            real = REFS[key]
            if real not in model.model_fields:
                raise Problem(f"{name} has no {real} (from reference {key!r})")
            out[real] = resolve(store, key, value)
        elif key in model.model_fields:
            if isinstance(value, dt.date) and not isinstance(value, dt.datetime) and key == "timestamp":
                value = dt.datetime.combine(value, dt.time(12))
            out[key] = value
        else:
            raise Problem(f"{name} has no argument {key!r}")
    return out


def run_call(store: Store, call: dict[str, Any]) -> dict[str, Any]:
    name = call.get("tool")
    if name not in TOOLS:
        raise Problem(f"unknown tool {name!r}")
    unknown = set(call) - {"tool", "args", "mentions", "writes"}
    if unknown:
        raise Problem(f"unknown keys in a call: {sorted(unknown)}")
    tool = TOOLS[name]
    args = real_args(store, name, call.get("args") or {})
    if name in NOT_RUN:
        # parse what can be parsed: required text fields may be left out of an expectation
        for field in ("subject", "body"):
            if field in tool.input_model.model_fields and field not in args:
                args[field] = "x"
        tool.parse(args)
        return {}
    return tool.func(store, tool.parse(args))


def check_expect(book: Path, case: dict[str, Any], expect: dict[str, Any], where: str) -> None:
    unknown = set(expect) - EXPECT_KEYS
    if unknown:
        raise Problem(f"{where}: unknown expect keys {sorted(unknown)}")
    kinds = [k for k in ("tool", "tools", "asks", "writes", "report") if k in expect]
    if not kinds:
        raise Problem(f"{where}: expect names no tool, tools, asks, writes or report")
    if "tool" in expect and "tools" in expect:
        raise Problem(f"{where}: both tool and tools")
    if expect.get("asks") not in (None, True):
        raise Problem(f"{where}: asks must be true")
    if expect.get("writes") not in (None, "none"):
        raise Problem(f"{where}: writes must be none")
    if "report" in expect and expect["report"] not in REPORTS:
        raise Problem(f"{where}: unknown report {expect['report']!r}")
    calls = expect.get("tools") or ([{"tool": expect["tool"], "args": expect.get("args")}] if "tool" in expect else [])
    if "args" in expect and "tool" not in expect:
        raise Problem(f"{where}: args without tool")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(book, data)
        store = Store(data)
        try:
            for step in case.get("setup") or []:
                run_call(store, step)
            for call in calls:
                call = {**call, "mentions": expect.get("mentions")} if len(calls) == 1 else call
                try:
                    result = run_call(store, call)
                except Problem:
                    raise
                except Exception as exc:  # a tool refused: the expectation is wrong
                    raise Problem(f"{where}: {call['tool']} failed: {exc}") from exc
                text = json.dumps(result, default=str).lower()
                for word in call.get("mentions") or []:
                    if str(word).lower() not in text:
                        raise Problem(f"{where}: {call['tool']} does not mention {word!r}")
        finally:
            store.close()


def main() -> int:
    quiet = "--quiet" in sys.argv
    cases = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    problems: list[str] = []
    seen: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "demo"
        store = Store(book)
        load_demo(store)
        store.close()
        for case in cases:
            cid = case.get("id", "?")
            try:
                if cid in seen:
                    raise Problem("duplicate id")
                seen.add(cid)
                extra = set(case) - CASE_KEYS
                if extra:
                    raise Problem(f"unknown keys {sorted(extra)}")
                say = case.get("say")
                if not (isinstance(say, str) and say.strip()) and not (
                    isinstance(say, list) and say and all(isinstance(s, str) and s.strip() for s in say)
                ):
                    raise Problem("say must be a string or a list of strings")
                expect = case.get("expect")
                if not isinstance(expect, dict):
                    raise Problem("expect must be a mapping")
                check_expect(book, case, expect, "expect")
                for name in case.get("not_tools") or []:
                    if name not in TOOLS:
                        raise Problem(f"unknown tool {name!r} in not_tools")
                for i, alt in enumerate(case.get("also_ok") or []):
                    check_expect(book, case, alt, f"also_ok[{i}]")
            except Problem as exc:
                problems.append(f"{cid}: {exc}")
    categories = Counter(c["id"].rsplit("-", 1)[0] for c in cases)
    plain = sum(1 for c in cases if c.get("plain"))
    if not quiet:
        print(f"{len(cases)} cases, {plain} plainly worded, {len(cases) - plain} messy")
        for name, n in categories.items():
            print(f"  {name:7} {n}")
    for p in problems:
        print("PROBLEM", p)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
