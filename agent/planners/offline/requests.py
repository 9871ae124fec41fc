"""What the offline planner understands, declared beside the procedure it serves.

A procedure ``procedures/crm.md`` may have a sibling ``crm.requests.yaml`` (the owner's own in
``<data dir>/procedures/`` too). Each request in it says:

    - name: log                      # unique; the built-in flow of the same name runs it, or
      flow: log                      #   another built-in flow,
      calls: [{tool, args}]          #   or plain tool calls with {slot} placeholders (no code needed)
      group: Calls and follow-ups    # where it is listed in help
      help: log a call, text, email, visit or note
      examples: ["log a call with Dana — she wants a quote, call back Friday", ...]
      cues:                          # regular expressions over the normalised text (see words.py):
        - '\\blog (?:a |an )?call\\b'  #   a string, or {pattern, weight}; the heaviest match wins
        - {pattern: '\\bcalled\\b', weight: 20}
      slots:                         # what the request needs, how to ask for it, and whether it may be skipped
        who: {kind: contact, ask: "Who was it with?"}
        summary: {kind: text, ask: "How did it go?", optional: true}
      done: "Logged."                # (calls only) what to say afterwards, with {slot} placeholders

The examples are the request's test: every one of them must be read as this request
(``tests/test_offline_chat.py``), and help lists the first of each. Loading never raises: a broken
file or an unknown flow, tool or slot kind is reported as a problem with the file, and the other
requests keep working.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib.abc import Traversable
from typing import Any

import yaml

from backoffice.agent.procedures import Procedure
from backoffice.tools.catalog import all_tools

SLOT_KINDS = {"contact", "lead", "job", "company", "follow_up", "date", "money", "phone", "email", "text",
              "address", "choice", "reason", "lost_reason", "yesno", "details"}  # fmt: skip
DEFAULT_WEIGHT = 10
REQUEST_KEYS = {"name", "flow", "calls", "group", "help", "examples", "cues", "slots", "done"}


@dataclass(frozen=True)
class Slot:
    name: str
    kind: str
    ask: str
    optional: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cue:
    pattern: re.Pattern[str]
    weight: int


@dataclass(frozen=True)
class Request:
    name: str
    flow: str
    procedure: str
    group: str = ""
    help: str = ""
    examples: tuple[str, ...] = ()
    cues: tuple[Cue, ...] = ()
    slots: dict[str, Slot] = field(default_factory=dict)
    calls: tuple[dict[str, Any], ...] = ()
    done: str = ""

    def score(self, text: str) -> tuple[int, re.Match[str] | None]:
        best: tuple[int, re.Match[str] | None] = (0, None)
        for cue in self.cues:
            m = cue.pattern.search(text)
            if m and cue.weight > best[0]:
                best = (cue.weight, m)
        return best

    def question(self, slot: str, **names: Any) -> str:
        spec = self.slots.get(slot)
        text = spec.ask if spec else f"What is the {slot.replace('_', ' ')}?"
        try:
            return text.format(**names)
        except (KeyError, IndexError, ValueError):
            return text


@dataclass
class Understanding:
    requests: list[Request]
    problems: list[str]

    def classify(self, text: str) -> tuple[Request | None, re.Match[str] | None, int]:
        """The request ``text`` (normalised) is: the one with the heaviest matching cue; the first
        declared wins a tie."""
        best: tuple[Request | None, re.Match[str] | None, int] = (None, None, 0)
        for request in self.requests:
            weight, match = request.score(text)
            if weight > best[2]:
                best = (request, match, weight)
        return best

    def get(self, name: str) -> Request | None:
        return next((r for r in self.requests if r.name == name), None)

    def vocabulary(self) -> set[str]:
        """The words the cues are written in: what a mistyped word may be corrected to."""
        words: set[str] = set()
        for request in self.requests:
            for cue in request.cues:
                source = re.sub(r"\\[a-zA-Z]", " ", cue.pattern.pattern)
                words.update(w for w in re.findall(r"[a-z]{4,}", source))
        # a cue may hold only a stem ("qualif"): the examples give the whole words it stands for (and only
        # those, since an example may be misspelt on purpose)
        stems = [w for w in words if len(w) >= 5]
        for request in self.requests:
            for example in request.examples:
                words.update(
                    w for w in re.findall(r"[a-z]{4,}", example.lower()) if any(w.startswith(s) for s in stems)
                )
        return words


def requests_file(proc: Procedure) -> Traversable | None:
    path = proc.path
    name = getattr(path, "name", "")
    if not name.endswith(".md"):
        return None
    sibling = path.parent.joinpath(name[:-3] + ".requests.yaml") if hasattr(path, "parent") else None
    return sibling if sibling is not None and sibling.is_file() else None


def load_understanding(procedures: list[Procedure], flows: set[str]) -> Understanding:
    """Every procedure's declared requests; a later file's request replaces an earlier one of the
    same name (that is how an owner's file changes a shipped request)."""
    by_name: dict[str, Request] = {}
    problems: list[str] = []
    for proc in procedures:
        path = requests_file(proc)
        if path is None:
            continue
        try:
            data = _parsed(path)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            problems.append(f"{path}: cannot be read: {exc}")
            continue
        items = data.get("requests") if isinstance(data, dict) else None
        if not isinstance(items, list):
            problems.append(f"{path}: must hold a 'requests:' list")
            continue
        for i, item in enumerate(items):
            try:
                request = _request(item, proc.name, flows)
            except ValueError as exc:
                label = item.get("name", i + 1) if isinstance(item, dict) else i + 1
                problems.append(f"{path}: request {label}: {exc}")
                continue
            by_name.pop(request.name, None)
            by_name[request.name] = request
    return Understanding(list(by_name.values()), problems)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 20x faster on this file
_PARSED: dict[tuple[str, str], Any] = {}


def _parsed(path: Traversable) -> Any:
    """A requests file's YAML, parsed once per process for the same text."""
    text = path.read_text(encoding="utf-8")
    key = (str(path), text)
    if key not in _PARSED:
        _PARSED[key] = yaml.load(text, Loader=_LOADER) or {}  # noqa: S506 - a safe loader
    return _PARSED[key]


def _request(item: Any, procedure: str, flows: set[str]) -> Request:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise ValueError("each request is a mapping with a 'name'")
    unknown = set(item) - REQUEST_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}; known: {', '.join(sorted(REQUEST_KEYS))}")
    calls = tuple(item.get("calls") or ())
    flow = item.get("flow") or ("calls" if calls else item["name"])
    if flow != "calls" and flow not in flows:
        raise ValueError(f"there is no built-in flow {flow!r}; give 'calls:' to run tools instead")
    tools = all_tools()
    for call in calls:
        if not isinstance(call, dict) or call.get("tool") not in tools:
            raise ValueError(f"calls: unknown tool {call.get('tool') if isinstance(call, dict) else call!r}")
    cues = []
    for raw in item.get("cues") or []:
        pattern, weight = (raw, DEFAULT_WEIGHT) if isinstance(raw, str) else (raw.get("pattern"), raw.get("weight", 10))
        try:
            cues.append(Cue(re.compile(str(pattern)), int(weight)))
        except (re.error, TypeError, ValueError) as exc:
            raise ValueError(f"cue {pattern!r} is not a usable pattern: {exc}") from exc
    if not cues:
        raise ValueError("needs at least one cue")
    slots = {}
    for name, spec in (item.get("slots") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        kind = spec.get("kind", "text")
        if kind not in SLOT_KINDS:
            raise ValueError(f"slot {name!r}: unknown kind {kind!r}; kinds: {', '.join(sorted(SLOT_KINDS))}")
        slots[name] = Slot(name, kind, str(spec.get("ask", "")), bool(spec.get("optional", False)),
                           tuple(spec.get("choices") or ()))  # fmt: skip
    return Request(
        name=item["name"],
        flow=flow,
        procedure=procedure,
        group=str(item.get("group", "")),
        help=str(item.get("help", "")),
        examples=tuple(str(e) for e in item.get("examples") or ()),
        cues=tuple(cues),
        slots=slots,
        calls=calls,
        done=str(item.get("done", "")),
    )
