"""Pending actions: consequential tool calls waiting for the owner's answer.

Kept in ``<data dir>/pending.json`` (atomic replace, cross-process flock), or in the office's
PostgreSQL database when the book is there (``keeping.slot``), so they survive restarts and are
shared by the chat, ``backoffice approve``, the daemon and every computer of the office. Each action moves

    pending ──approve──> running ──> done
       │                    └──────> failed ──approve──> running ...
       └──reject──> rejected

``claim`` is the only way into ``running`` and happens under the lock, so two approvals of the
same action (two terminals, a double Enter, a planner retry) run it once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backoffice.tools.book import clock, keeping
from backoffice.tools.errors import NotFound

FILE = "pending.json"
OPEN = ("pending", "failed")


@dataclass
class Action:
    id: str
    tool: str
    args: dict[str, Any]
    title: str  # one line: "Send an email to Dana Reyes"
    preview: str  # everything the owner needs to decide, in plain words
    origin: str  # chat | ask | scheduler | email | approve
    created_at: str
    fingerprint: str
    status: str = "pending"
    decided_at: str | None = None
    decided_by: str | None = None  # owner | auto-send setting
    result: str | None = None  # the tool's message once done
    error: str | None = None
    history: list[str] = field(default_factory=list)


def fingerprint(tool: str, args: dict[str, Any]) -> str:
    canon = json.dumps({"tool": tool, "args": args}, sort_keys=True, default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:32]


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
        return state if isinstance(state, dict) else {"next": 1, "actions": []}

    # ------------------------------------------------------------------ queries
    def all(self) -> list[Action]:
        # a reader's lock: listing never writes, and never creates a book that is not there
        with self.slot.locked(shared=True):
            return [Action(**a) for a in self._read()["actions"]]

    def open(self) -> list[Action]:
        return [a for a in self.all() if a.status in OPEN]

    def get(self, action_id: str) -> Action:
        number = re.fullmatch(r"\s*(?:P\s*-?\s*)?(\d+)\s*", action_id, re.I)  # P-3, p3, 3
        wanted = f"P-{number.group(1)}" if number else action_id.strip()
        for a in self.all():
            if a.id == wanted:
                return a
        raise NotFound(f"There is no pending action {action_id!r}; `backoffice pending` lists them.")

    # ------------------------------------------------------------------ changes
    def propose(self, tool: str, args: dict[str, Any], title: str, preview: str, origin: str) -> tuple[Action, bool]:
        """The open (or finished) action for this exact call, or a new one. ``True`` when new."""
        fp = fingerprint(tool, args)
        with self._locked() as state:
            for raw in reversed(state["actions"]):
                if raw["fingerprint"] == fp and raw["status"] in ("pending", "failed", "running", "done"):
                    return Action(**raw), False
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
            for raw in state["actions"]:
                if raw["id"] == action_id:
                    raw.update(changes)
                    return Action(**raw)
        raise NotFound(f"There is no pending action {action_id!r}.")

    def claim(self, action_id: str, by: str) -> tuple[Action, bool]:
        """Move an open action to running. ``False`` (and the action as it is) when it is not open."""
        return self._decide(action_id, "running", f"approved by {by}", by)

    def reject(self, action_id: str, by: str = "owner") -> tuple[Action, bool]:
        return self._decide(action_id, "rejected", f"rejected by {by}", by)

    def _decide(self, action_id: str, status: str, note: str, by: str) -> tuple[Action, bool]:
        with self._locked() as state:
            for raw in state["actions"]:
                if raw["id"] == action_id:
                    if raw["status"] not in OPEN:
                        return Action(**raw), False
                    now = clock.stamp(clock.now())
                    raw.update(status=status, decided_at=now, decided_by=by)
                    raw["history"].append(f"{now} {note}")
                    return Action(**raw), True
        raise NotFound(f"There is no pending action {action_id!r}.")

    def finish(self, action_id: str, result: str) -> Action:
        return self._change(action_id, status="done", result=result, error=None)

    def release(self, action_id: str, error: str) -> Action:
        """Nothing happened (a service was not connected): back to waiting, with the reason."""
        return self._change(action_id, status="pending", error=error)

    def fail(self, action_id: str, error: str) -> Action:
        return self._change(action_id, status="failed", error=error)

    def revise(self, action_id: str, args: dict[str, Any], preview: str) -> Action:
        """The owner edited a draft: same action, new text."""
        return self._change(action_id, args=args, preview=preview, fingerprint=fingerprint("edited", args))
