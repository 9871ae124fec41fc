"""Procedure files: markdown with a YAML front matter the code reads and a body the model follows.

    ---
    name: crm
    default: true                  # optional: used when a message matches no procedure
    triggers: {keywords: [lead, follow up, ...], events: [inbound_email]}
    requires: {schemas: [crm.json]}
    tools: [find_contacts, ...]    # optional: what Claude is offered when this procedure is routed
    schedule:
      - {name: daily_digest, report: digest, when: "every business day at {digest_time}"}
    hard_stops:
      - {rule: No message reaches a customer without the owner's yes., tools: [send_message]}
    ---
    policy text ...

Every key drives something: keywords and events route (each event needs a handler), ``requires``
names shipped schemas, ``tools`` limits what Claude is offered, ``schedule`` feeds the daemon and
``run_due`` (an entry with the name of an earlier one replaces it: that is how an owner's file moves
a shipped report), and the hard stops are the safety rules: their sentences are what Claude is told,
their tools need the owner's yes at the gate.

Loading never raises for a bad file: it returns the good procedures and a list of problems, each
naming the file and line, so the chat can start and say what is wrong. This module checks a file's
shape; whether the tools, events and reports it names exist is ``agent/procedure_check.py``'s job.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.abc import Traversable
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from backoffice.tools.book.schemas import schema_names
from backoffice.tools.errors import ProcedureProblem

KNOWN_KEYS = ("name", "default", "triggers", "requires", "tools", "schedule", "hard_stops")
SCHEDULE_KEYS = ("name", "report", "when")
NAME = re.compile(r"[a-z0-9][a-z0-9_\-]*")

Where = tuple[str | int, ...]  # a place in the front matter: ("schedule", 0, "when")


@dataclass(frozen=True)
class HardStop:
    rule: str
    tools: tuple[str, ...]


@dataclass(frozen=True)
class ScheduleEntry:
    """A report on a schedule, as written; ``briefings.schedule`` reads ``report`` and ``when``."""

    name: str
    report: str
    when: str


@dataclass(frozen=True)
class Procedure:
    name: str
    path: Traversable
    keywords: tuple[str, ...]
    events: tuple[str, ...]
    schemas: tuple[str, ...]
    tools: tuple[str, ...] | None  # None: every tool
    schedule: tuple[ScheduleEntry, ...]
    hard_stops: tuple[HardStop, ...]
    body: str
    default: bool = False
    patterns: tuple[re.Pattern[str], ...] = field(default=(), compare=False, repr=False)
    lines: Mapping[Where, int] = field(default_factory=dict, compare=False, repr=False)

    def matches(self, text: str) -> list[str]:
        """The keywords of this procedure that ``text`` mentions."""
        return [kw for kw, pattern in zip(self.keywords, self.patterns, strict=True) if pattern.search(text)]

    @property
    def guarded_tools(self) -> set[str]:
        return {t for stop in self.hard_stops for t in stop.tools}

    def place(self, where: Where) -> str:
        """``file:line`` of one item of the front matter."""
        return f"{self.path}:{_line(self.lines, where)}"

    def problem(self, where: Where, message: str) -> str:
        """A problem with one item of the front matter, as ``file:line: message``."""
        return str(ProcedureProblem(str(self.path), _line(self.lines, where), message))


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """Whole words, any case, common inflections: 'follow up' matches 'follow-up', 'followups',
    'Following up'; 'lead' matches 'leads'; 'call' matches 'called', 'calling'."""
    words = re.findall(r"[a-z0-9]+", keyword.lower())
    inflected = [re.escape(w) + r"(?:s|es|ed|d|ing)?" for w in words]
    return re.compile(r"\b" + r"[\s\-]*".join(inflected) + r"\b", re.IGNORECASE)


def procedure_dirs(data_dir: Path | None = None) -> list[Traversable]:
    """The shipped procedures (or ``$BACKOFFICE_PROCEDURES``), then any the owner dropped into
    ``<data dir>/procedures``."""
    explicit = os.environ.get("BACKOFFICE_PROCEDURES")
    dirs: list[Traversable] = [Path(explicit)] if explicit else [files("backoffice.procedures")]
    if data_dir is not None:
        dirs.append(data_dir / "procedures")
    return dirs


def load_procedures(dirs: list[Traversable]) -> tuple[list[Procedure], list[str]]:
    procedures: list[Procedure] = []
    problems: list[str] = []
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted((p for p in directory.iterdir() if p.name.endswith(".md")), key=lambda p: p.name):
            try:
                proc = parse_procedure(path)
            except ProcedureProblem as exc:
                problems.append(str(exc))
                continue
            if any(p.name == proc.name for p in procedures):
                skipped = f"a procedure named {proc.name!r} is already loaded; this file was skipped"
                problems.append(proc.problem(("name",), skipped))
                continue
            procedures.append(proc)
    if not procedures and not problems:
        problems.append(f"no procedure files found in {', '.join(map(str, dirs))}")
    return procedures, problems


def parse_procedure(path: Traversable) -> Procedure:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProcedureProblem(str(path), 1, f"cannot be read: {exc}") from exc
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ProcedureProblem(str(path), 1, "must start with a '---' line opening the front matter")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise ProcedureProblem(str(path), 1, "the front matter is never closed with a '---' line") from None
    meta, places = _front_matter(str(path), "\n".join(lines[1:end]))

    def fail(where: Where, message: str) -> ProcedureProblem:
        return ProcedureProblem(str(path), _line(places, where), message)

    unknown = [k for k in meta if k not in KNOWN_KEYS]
    if unknown:
        raise fail((unknown[0],), f"unknown key {unknown[0]!r}; known keys: {', '.join(KNOWN_KEYS)}")
    name = meta.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise fail(("name",), "'name' is required: lower-case letters, digits, '-' or '_'")
    triggers = meta.get("triggers") or {}
    if not isinstance(triggers, dict):
        raise fail(("triggers",), "'triggers' must have 'keywords' and/or 'events' lists")
    keywords = _strings(triggers.get("keywords"), "triggers.keywords", ("triggers", "keywords"), fail)
    events = _strings(triggers.get("events"), "triggers.events", ("triggers", "events"), fail)
    requires = meta.get("requires") or {}
    if not isinstance(requires, dict):
        raise fail(("requires",), "'requires' must be a mapping such as {schemas: [crm.json]}")
    schemas = _strings(requires.get("schemas"), "requires.schemas", ("requires", "schemas"), fail)
    for i, schema in enumerate(schemas):
        if schema not in schema_names():
            known = ", ".join(schema_names())
            raise fail(("requires", "schemas", i), f"requires schema {schema!r}; the schemas are {known}")
    tools = None if meta.get("tools") is None else tuple(_strings(meta["tools"], "tools", ("tools",), fail))
    if tools == ():
        raise fail(("tools",), "'tools' lists the tools this procedure uses; leave it out to offer every tool")
    schedule = _schedule(meta.get("schedule"), fail)
    stops = []
    for i, stop in enumerate(meta.get("hard_stops") or []):
        if not isinstance(stop, dict) or not isinstance(stop.get("rule"), str) or set(stop) - {"rule", "tools"}:
            raise fail(("hard_stops", i), "each hard stop is a 'rule' sentence and a 'tools' list")
        guards = _strings(stop.get("tools"), "tools", ("hard_stops", i, "tools"), fail)
        stops.append(HardStop(" ".join(stop["rule"].split()), tuple(guards)))
    routed = bool(keywords or events or meta.get("default"))
    if not routed and not schedule:
        raise fail(("triggers",), "a procedure needs trigger keywords or events, 'default: true', or a schedule")
    body = "\n".join(lines[end + 1 :]).strip()
    if routed and not body:
        raise ProcedureProblem(
            str(path), end + 1, "the procedure has no body: write the policy text below the front matter"
        )
    return Procedure(
        name=name,
        path=path,
        keywords=tuple(keywords),
        events=tuple(events),
        schemas=tuple(schemas),
        tools=tools,
        schedule=schedule,
        hard_stops=tuple(stops),
        body=body,
        default=bool(meta.get("default", False)),
        patterns=tuple(keyword_pattern(k) for k in keywords),
        lines=places,
    )


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: every command reads these


def _composed(front: str, loader_class: Any) -> tuple[Any, Any]:
    loader = loader_class(front)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def _front_matter(path: str, front: str) -> tuple[dict[str, Any], dict[Where, int]]:
    """The front matter's keys, and the file line of each key and list item (for problems)."""
    try:
        node, meta = _composed(front, _LOADER)
    except yaml.YAMLError as first:
        found: yaml.YAMLError = first
        if _LOADER is not yaml.SafeLoader:  # libyaml notices a problem a line late: the pure loader names its line
            try:
                _composed(front, yaml.SafeLoader)
            except yaml.YAMLError as precise:
                found = precise
        mark = getattr(found, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 2
        problem = getattr(found, "problem", None) or str(found)
        raise ProcedureProblem(path, line, f"front matter is not valid YAML: {problem}") from first
    if node is None or not isinstance(meta, dict):
        raise ProcedureProblem(path, 2, "front matter must be a mapping of keys (name:, triggers:, ...)")
    places: dict[Where, int] = {}

    def walk(node: yaml.Node, where: Where) -> None:
        if isinstance(node, yaml.MappingNode):
            items = [(key.value, key, value) for key, value in node.value]
        elif isinstance(node, yaml.SequenceNode):
            items = [(i, item, item) for i, item in enumerate(node.value)]
        else:
            return
        for step, marked, value in items:
            places[(*where, step)] = marked.start_mark.line + 2  # the front matter starts on line 2
            walk(value, (*where, step))

    walk(node, ())
    return meta, places


def _line(places: Mapping[Where, int], where: Where) -> int:
    while where and where not in places:
        where = where[:-1]
    return places.get(where, 1)


def _strings(value: Any, label: str, where: Where, fail: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(where, f"'{label}' must be a list of words")
    return [v.strip() for v in value]


def _schedule(value: Any, fail: Any) -> tuple[ScheduleEntry, ...]:
    if value is None:
        return ()
    shape = "each schedule entry is {name: ..., report: digest|pipeline|winloss, when: ...}"
    if not isinstance(value, list):
        raise fail(("schedule",), f"'schedule' must be a list; {shape}")
    entries: list[ScheduleEntry] = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict) or set(entry) != set(SCHEDULE_KEYS):
            raise fail(("schedule", i), shape)
        for key in SCHEDULE_KEYS:
            if not isinstance(entry[key], str) or not entry[key].strip():
                raise fail(("schedule", i, key), f"the schedule entry's {key!r} must be words; {shape}")
        if not NAME.fullmatch(entry["name"]):
            raise fail(("schedule", i, "name"), "a schedule entry's name is lower-case letters, digits, '-' or '_'")
        if any(e.name == entry["name"] for e in entries):
            raise fail(("schedule", i, "name"), f"two schedule entries are named {entry['name']!r}")
        entries.append(ScheduleEntry(entry["name"], entry["report"].strip(), " ".join(entry["when"].split())))
    return tuple(entries)


@dataclass(frozen=True)
class Route:
    procedures: tuple[Procedure, ...]
    why: tuple[str, ...]  # the keywords or event that matched, for the log and the tests
    fallback: bool = False

    def tools(self) -> frozenset[str] | None:
        """The tools the routed procedures use; None (every tool) when one of them does not say."""
        if not self.procedures or any(p.tools is None for p in self.procedures):
            return None
        return frozenset(t for p in self.procedures for t in p.tools or ())

    def rules(self) -> list[str]:
        """The routed procedures' hard-stop sentences, in file order, each once."""
        return list(dict.fromkeys(stop.rule for p in self.procedures for stop in p.hard_stops))


def route_message(procedures: list[Procedure], text: str) -> Route:
    """Procedures whose keywords the message mentions; the default procedure when none match."""
    hits: list[Procedure] = []
    why: list[str] = []
    for proc in procedures:
        matched = proc.matches(text)
        if matched:
            hits.append(proc)
            why.extend(f"{proc.name}:{kw}" for kw in matched)
    if hits:
        return Route(tuple(hits), tuple(why))
    conversational = [p for p in procedures if p.body]
    defaults = tuple(p for p in conversational if p.default) or tuple(conversational[:1])
    return Route(defaults, (), fallback=True)


def route_event(procedures: list[Procedure], event: str) -> Route:
    hits = tuple(p for p in procedures if event in p.events)
    return Route(hits, tuple(f"{p.name}:{event}" for p in hits))
