"""Procedure files: markdown with a YAML front matter the code reads and a body the model follows.

    ---
    name: crm
    triggers: {keywords: [lead, follow up, ...], events: [new_inquiry, ...]}
    requires: {schemas: [crm.json]}
    schedule: [{name: daily_digest, when: ..., does: ...}]
    hard_stops: [{rule: ..., tools: [send_message]}]
    default: true          # optional: used when a message matches no procedure
    ---
    policy text ...

Loading never raises for a bad file: it returns the good procedures and a list of problems, each
naming the file and line, so the chat can start and say what is wrong.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib.abc import Traversable
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from backoffice.tools.book.schemas import schema_names
from backoffice.tools.errors import ProcedureProblem

KNOWN_KEYS = {"name", "title", "version", "default", "triggers", "requires", "schedule", "hard_stops"}


@dataclass(frozen=True)
class HardStop:
    rule: str
    tools: tuple[str, ...]


@dataclass(frozen=True)
class Procedure:
    name: str
    title: str
    path: Traversable
    keywords: tuple[str, ...]
    events: tuple[str, ...]
    schemas: tuple[str, ...]
    schedule: tuple[dict[str, str], ...]
    hard_stops: tuple[HardStop, ...]
    body: str
    default: bool = False
    patterns: tuple[re.Pattern[str], ...] = field(default=(), compare=False, repr=False)

    def matches(self, text: str) -> list[str]:
        """The keywords of this procedure that ``text`` mentions."""
        return [kw for kw, pattern in zip(self.keywords, self.patterns, strict=True) if pattern.search(text)]

    @property
    def guarded_tools(self) -> set[str]:
        return {t for stop in self.hard_stops for t in stop.tools}


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
                problems.append(f"{path}:1: a procedure named {proc.name!r} is already loaded; this file was skipped")
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
    front = "\n".join(lines[1:end])
    try:
        meta = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 2
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProcedureProblem(str(path), line, f"front matter is not valid YAML: {problem}") from exc
    if not isinstance(meta, dict):
        raise ProcedureProblem(str(path), 2, "front matter must be a mapping of keys (name:, triggers:, ...)")

    def where(key: str) -> int:
        for i, line in enumerate(lines[1:end], start=2):
            if re.match(rf"\s*-?\s*{re.escape(key)}\s*:", line):
                return i
        return 1

    def fail(key: str, message: str) -> ProcedureProblem:
        return ProcedureProblem(str(path), where(key), message)

    unknown = sorted(set(meta) - KNOWN_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key {unknown[0]!r}; known keys: {', '.join(sorted(KNOWN_KEYS))}")
    name = meta.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_\-]*", name or ""):
        raise fail("name", "'name' is required: lower-case letters, digits, '-' or '_'")
    triggers = meta.get("triggers") or {}
    if not isinstance(triggers, dict):
        raise fail("triggers", "'triggers' must have 'keywords' and/or 'events' lists")
    keywords = _strings(triggers.get("keywords"), "triggers.keywords", fail, "keywords")
    events = _strings(triggers.get("events"), "triggers.events", fail, "events")
    if not keywords and not events and not meta.get("default"):
        raise fail("triggers", "a procedure needs trigger keywords or events (or 'default: true')")
    requires = meta.get("requires") or {}
    if not isinstance(requires, dict):
        raise fail("requires", "'requires' must be a mapping such as {schemas: [crm.json]}")
    schemas = _strings(requires.get("schemas"), "requires.schemas", fail, "schemas")
    for schema in schemas:
        if schema not in schema_names():
            raise fail("schemas", f"requires schema {schema!r}; the schemas are {', '.join(schema_names())}")
    schedule = meta.get("schedule") or []
    if not isinstance(schedule, list) or not all(isinstance(s, dict) and s.get("name") for s in schedule):
        raise fail("schedule", "'schedule' must be a list of {name, when, does}")
    stops = []
    for stop in meta.get("hard_stops") or []:
        if not isinstance(stop, dict) or not isinstance(stop.get("rule"), str):
            raise fail("hard_stops", "each hard stop needs a 'rule' sentence and a 'tools' list")
        stops.append(HardStop(stop["rule"], tuple(_strings(stop.get("tools"), "hard_stops.tools", fail, "tools"))))
    body = "\n".join(lines[end + 1 :]).strip()
    if not body:
        raise ProcedureProblem(
            str(path), end + 1, "the procedure has no body: write the policy text below the front matter"
        )
    return Procedure(
        name=name,
        title=str(meta.get("title") or name),
        path=path,
        keywords=tuple(keywords),
        events=tuple(events),
        schemas=tuple(schemas),
        schedule=tuple({str(k): str(v) for k, v in s.items()} for s in schedule),
        hard_stops=tuple(stops),
        body=body,
        default=bool(meta.get("default", False)),
        patterns=tuple(keyword_pattern(k) for k in keywords),
    )


def _strings(value: Any, label: str, fail: Any, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(key, f"'{label}' must be a list of words")
    return [v.strip() for v in value]


@dataclass(frozen=True)
class Route:
    procedures: tuple[Procedure, ...]
    why: tuple[str, ...]  # the keywords or event that matched, for the log and the tests
    fallback: bool = False


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
    defaults = tuple(p for p in procedures if p.default) or tuple(procedures[:1])
    return Route(defaults, (), fallback=True)


def route_event(procedures: list[Procedure], event: str) -> Route:
    hits = tuple(p for p in procedures if event in p.events)
    return Route(hits, tuple(f"{p.name}:{event}" for p in hits))
