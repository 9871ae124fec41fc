"""Pending actions: consequential tool calls waiting for the owner's answer.

Kept in ``<data dir>/pending.json`` (atomic replace, cross-process flock), or in a row of the
office's PostgreSQL database when the book is there (``keeping.slot``, the row locked while it
changes), so they survive restarts and are shared by the chat, ``backoffice approve``, the daemon
and every computer of the office. Each action moves

    pending ──approve──> running ──> done
       │                    ├──────> failed ──approve──> running ...
       │                    └─ (its process died) ──approve──> running ... / ──reject──> rejected
       └──reject──> rejected

``claim`` is the only way into ``running`` and happens under the lock, so two approvals of the
same action (two terminals, a double Enter, a planner retry) run it once. The claim records which
process runs the action (``claims``); a running action whose process is gone is *interrupted*:
listed again, and the owner can approve it (the gate first checks whether the first run got
through) or reject it.

The file (or row) is read as untrusted: it must fit its schema (``_File``), or every command that needs it
refuses with a message naming the file and leaves it as it is. An entry that fits the schema but
names a tool that does not exist, arguments the tool refuses, or a fingerprint that does not match
its call (``unusable``) is listed but never run. Titles and previews stored here are a record of
what was shown; what the owner approves is described afresh from the tool and its arguments.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backoffice.agent.gate import claims
from backoffice.tools.book import clock, keeping
from backoffice.tools.catalog import get_tool
from backoffice.tools.errors import BackofficeError, NotFound, StoreCorrupt

FILE = "pending.json"
OPEN = ("pending", "failed")
Status = Literal["pending", "running", "done", "failed", "rejected"]


@dataclass
class Action:
    id: str
    tool: str
    args: dict[str, Any]
    title: str  # one line: "Send an email to Dana Reyes", as last shown
    preview: str  # everything the owner needs to decide, in plain words, as last shown
    origin: str  # chat | ask | scheduler | email | approve
    created_at: str
    fingerprint: str
    status: str = "pending"
    decided_at: str | None = None
    decided_by: str | None = None  # owner | auto-send setting
    result: str | None = None  # the tool's message once done
    error: str | None = None
    history: list[str] = field(default_factory=list)
    claim: dict[str, Any] | None = None  # the process that ran it last (``claims.new_claim``)

    @property
    def interrupted(self) -> bool:
        """Running, but the process running it is gone: it will never finish by itself."""
        return self.status == "running" and claims.gone(self.claim)

    @property
    def cut_short(self) -> bool:
        """Its last run stopped part-way: the process died, or it was interrupted (Ctrl-C) or hit a
        bug. What that run did is not known; the next run checks before doing anything."""
        return self.interrupted or bool((self.claim or {}).get("cut_short"))

    @property
    def waiting(self) -> bool:
        """Something the owner can decide on now."""
        return self.status in OPEN or self.interrupted

    @property
    def shown_status(self) -> str:
        return "interrupted" if self.interrupted else self.status


# ---------------------------------------------------------------------------- the file's schema
class _Claim(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    pid: int
    host: str
    started: str | None = None
    token: str = Field(pattern=r"^[0-9a-f]{8,64}$")
    at: str
    as_of: str | None = None
    cut_short: bool = False


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    id: str = Field(pattern=r"^P-[1-9][0-9]{0,8}$")
    tool: str = Field(min_length=1, max_length=100)
    args: dict[str, Any]
    title: str
    preview: str
    origin: str
    created_at: str
    fingerprint: str = Field(pattern=r"^[0-9a-f]{32}$")
    status: Status
    decided_at: str | None = None
    decided_by: str | None = None
    result: str | None = None
    error: str | None = None
    history: list[str] = Field(default_factory=list)
    claim: _Claim | None = None


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    next: int = Field(ge=1)
    actions: list[_Entry]


def fingerprint(tool: str, args: dict[str, Any]) -> str:
    canon = json.dumps({"tool": tool, "args": args}, sort_keys=True, default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:32]


def unusable(action: Action) -> str | None:
    """Why this entry must not run (None when it may): an unknown tool, arguments the tool refuses,
    or a fingerprint that is not its call's (the entry was edited by hand)."""
    try:
        tool = get_tool(action.tool)
        parsed = tool.parse(action.args).model_dump(mode="json", exclude_defaults=True)
    except BackofficeError as exc:
        return str(exc)
    if action.fingerprint not in (fingerprint(action.tool, action.args), fingerprint("edited", action.args)):
        return "its fingerprint does not match its tool and arguments, so it was changed after it was saved"
    if parsed != action.args:
        return "its arguments are not in the form backoffice saves them, so they were changed after it was saved"
    return None


class PendingStore:
    def __init__(self, directory: Path):
        self.directory = directory
        self.path = directory / FILE
        self.slot = keeping.slot(directory, "pending")  # the file, or a row of the office's database

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        with self.slot.locked():
            state = self._read()
            before = json.dumps(state, sort_keys=True, indent=1)
            yield state
            after = json.dumps(state, sort_keys=True, indent=1)
            if after != before:
                self.slot.save(state)

    def _read(self) -> dict[str, Any]:
        state = self.slot.load()
        if state is None:
            return {"next": 1, "actions": []}
        try:
            parsed = _File.model_validate(state)
        except ValidationError as exc:
            raise StoreCorrupt(f"{self.slot.where} does not fit its schema: {_problems(exc, state)}; {_KEEP}") from exc
        ids = [a.id for a in parsed.actions]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise StoreCorrupt(f"{self.slot.where} holds {', '.join(twice)} more than once; {_KEEP}")
        highest = max((int(i[2:]) for i in ids), default=0)
        if parsed.next <= highest:
            raise StoreCorrupt(
                f"{self.slot.where} says the next action is P-{parsed.next}, but P-{highest} exists already; {_KEEP}"
            )
        return state

    # ------------------------------------------------------------------ queries
    def all(self) -> list[Action]:
        # a reader's lock: listing never writes, and never creates a book that is not there
        with self.slot.locked(shared=True):
            return [_action(a) for a in self._read()["actions"]]

    def open(self) -> list[Action]:
        """What the owner can decide on: waiting, failed, or interrupted while running."""
        return [a for a in self.all() if a.waiting]

    def get(self, action_id: str) -> Action:
        number = re.fullmatch(r"\s*(?:P\s*-?\s*)?(\d{1,9})\s*", action_id, re.I)  # P-3, p3, 3
        wanted = f"P-{int(number.group(1))}" if number else action_id.strip()
        for a in self.all():
            if a.id == wanted:
                return a
        shown = action_id if len(action_id) <= 40 else action_id[:40] + "…"
        raise NotFound(f"There is no pending action {shown!r}; `backoffice pending` lists them.")

    # ------------------------------------------------------------------ changes
    def propose(self, tool: str, args: dict[str, Any], title: str, preview: str, origin: str) -> tuple[Action, bool]:
        """The open (or finished) action for this exact call, or a new one. ``True`` when new. An
        open one takes the title and preview just made, so what is shown is never stale."""
        fp = fingerprint(tool, args)
        with self._locked() as state:
            for raw in reversed(state["actions"]):
                if raw["fingerprint"] == fp and raw["status"] in ("pending", "failed", "running", "done"):
                    if raw["status"] in OPEN:
                        raw.update(title=title, preview=preview)
                    return _action(raw), False
            action = Action(
                id=f"P-{state['next']}",
                tool=tool,
                args=args,
                title=title,
                preview=preview,
                origin=origin,
                created_at=clock.stamp(clock.now()),
                fingerprint=fp,
            )
            state["next"] += 1
            state["actions"].append(asdict(action))
            return action, True

    def _change(self, action_id: str, **changes: Any) -> Action:
        with self._locked() as state:
            raw = _find(state, action_id)
            raw.update(changes)
            return _action(raw)

    def claim(self, action_id: str, by: str) -> tuple[Action, bool]:
        """Move an open or interrupted action to running, recording this process as its runner.
        ``False`` (and the action as it is) when it is neither."""
        with self._locked() as state:
            raw = _find(state, action_id)
            action = _action(raw)
            if not action.waiting:
                return action, False
            now = clock.stamp(clock.now())
            note = f"approved by {by}"
            earlier = action.claim if action.cut_short else None
            if action.interrupted:
                note = f"found interrupted ({claims.describe(action.claim)} is gone); {note} again"
            raw.update(status="running", decided_at=now, decided_by=by, claim=claims.new_claim(earlier))
            raw["history"].append(f"{now} {note}")
            return _action(raw), True

    def reject(self, action_id: str, by: str = "owner") -> tuple[Action, bool]:
        with self._locked() as state:
            raw = _find(state, action_id)
            action = _action(raw)
            if not action.waiting:
                return action, False
            now = clock.stamp(clock.now())
            note = f"rejected by {by}" + (" after it was interrupted" if action.interrupted else "")
            raw.update(status="rejected", decided_at=now, decided_by=by)
            raw["history"].append(f"{now} {note}")
            return _action(raw), True

    def settle(self, action_id: str, token: str | None, result: str) -> tuple[Action, bool]:
        """An earlier run (claim ``token``) is found to have got through: done, unless someone else
        has taken the action over meanwhile."""
        with self._locked() as state:
            raw = _find(state, action_id)
            action = _action(raw)
            if not action.waiting or (action.claim or {}).get("token") != token:
                return action, False
            now = clock.stamp(clock.now())
            raw.update(status="done", result=result, error=None)
            raw["history"].append(f"{now} found done by the run that was interrupted")
            return _action(raw), True

    def finish(self, action_id: str, result: str) -> Action:
        return self._change(action_id, status="done", result=result, error=None)

    def release(self, action_id: str, error: str) -> Action:
        """Nothing happened (a service was not connected): back to waiting, with the reason."""
        return self._change(action_id, status="pending", error=error)

    def fail(self, action_id: str, error: str, cut_short: bool = False) -> Action:
        """The run failed. ``cut_short``: it stopped part-way, for a reason the tool did not report
        (Ctrl-C, a bug), so the next run is checked as after an interruption."""
        with self._locked() as state:
            raw = _find(state, action_id)
            raw.update(status="failed", error=error)
            if cut_short and raw.get("claim"):
                raw["claim"]["cut_short"] = True
            return _action(raw)

    def describe(self, action_id: str, title: str, preview: str) -> Action:
        """What the action does, described afresh (the stored text is only a record of what was shown)."""
        return self._change(action_id, title=title, preview=preview)

    def revise(self, action_id: str, args: dict[str, Any], preview: str) -> Action:
        """The owner edited a draft: same action, new text."""
        return self._change(action_id, args=args, preview=preview, fingerprint=fingerprint("edited", args))


_KEEP = "it was left as it is. Fix or move it away (`backoffice check` lists every problem in the data dir)"


def _find(state: dict[str, Any], action_id: str) -> dict[str, Any]:
    for raw in state["actions"]:
        if raw["id"] == action_id:
            return raw
    raise NotFound(f"There is no pending action {action_id!r}.")


def _action(raw: dict[str, Any]) -> Action:
    return Action(**{**raw, "history": list(raw.get("history") or [])})


def _problems(exc: ValidationError, state: dict[str, Any]) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc) or "the top level"
        if len(loc) >= 2 and loc[0] == "actions" and isinstance(loc[1], int):
            entries = state.get("actions") or []
            entry = entries[loc[1]] if loc[1] < len(entries) else None
            name = entry.get("id") if isinstance(entry, dict) else None
            where = f"action {loc[1] + 1}" + (f" ({name})" if isinstance(name, str) else "")
            where += "".join(f".{p}" for p in loc[2:])
        parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def validate_file(directory: Path) -> list[str]:
    """Every problem with ``pending.json`` (for ``backoffice check``): the file's schema, entries
    that must not run, and actions left running by a process that is gone."""
    store = PendingStore(directory)
    try:
        actions = [_action(a) for a in store._read()["actions"]]
    except StoreCorrupt as exc:
        return [str(exc)]
    found = []
    for action in actions:
        problem = unusable(action)
        if problem and action.status in ("pending", "failed", "running"):
            found.append(f"{store.slot.where}: {action.id} can never run: {problem}")
        if action.interrupted:
            found.append(
                f"{store.slot.where}: {action.id} ({action.title}) was left running by "
                f"{claims.describe(action.claim)}, "
                "which is gone; `backoffice approve` finishes it, `backoffice reject` drops it"
            )
    return found
