"""The gate: every tool call a planner makes passes through here.

- unknown tools and bad arguments come back as errors the planner can read; nothing runs;
- read and write tools run (writes are validated and logged by the store);
- consequential tools — and any tool a procedure's hard stop names — never run on the planner's
  word. The call becomes a pending action with a plain-language preview. If an owner is present
  (the chat) they are asked at once; otherwise the action waits for ``backoffice approve``.
  The one exception is the owner's own ``auto_send_follow_ups`` setting, which covers follow-up
  emails on an open lead or job and nothing else.

The safety rules are written once, as the hard stops of the procedure files: their sentences are
what Claude is told, their tools are ``guarded`` here. A consequential tool needs the owner even if
no procedure names it, so a missing or edited procedure file never lets one through.

The planner only ever sees the outcome. It cannot approve anything: approval comes from the
``Approver`` (a person at a terminal) or from ``approve()`` (the command line).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from backoffice.agent.gate import claims
from backoffice.agent.gate.pending import Action, PendingStore, unusable
from backoffice.tools.book import clock
from backoffice.tools.book.models import OPEN_LEAD_STATUSES, is_open_job
from backoffice.tools.book.store import Store
from backoffice.tools.catalog import all_tools, get_tool
from backoffice.tools.errors import BackofficeError, NotConnected, ToolArgumentError
from backoffice.tools.registry import Tool

Status = Literal["ok", "error", "declined", "pending", "already"]


@dataclass
class Outcome:
    status: Status
    message: str
    result: dict[str, Any] | None = None
    action: Action | None = None

    def for_model(self) -> str:
        """What the planner is told, as JSON text."""
        body: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.result is not None:
            body["result"] = self.result
        if self.action is not None:
            body["pending_action"] = self.action.id
        return json.dumps(body, default=str)


@dataclass
class Decision:
    answer: Literal["yes", "no", "edit", "later"]
    args: dict[str, Any] | None = None  # the revised arguments for "edit"


class Approver(Protocol):
    """Someone who can say yes: the owner at a terminal. Planners never implement this."""

    def decide(self, action: Action, tool: Tool) -> Decision: ...


# ---------------------------------------------------------------------------- the gate
@dataclass
class Gate:
    store: Store
    pending: PendingStore
    approver: Approver | None = None  # None: nobody is at the keyboard; actions wait
    origin: str = "chat"  # chat | ask | scheduler | email
    actor: str = "agent"  # who the store logs for read/write tools
    guarded: set[str] = field(default_factory=set)  # tools named by procedure hard stops
    declined: set[str] = field(default_factory=set)  # fingerprints the owner said no to, this session

    def needs_owner(self, tool: Tool) -> bool:
        return tool.effect == "consequential" or tool.name in self.guarded

    def call(self, name: str, raw_args: dict[str, Any] | BaseModel | None) -> Outcome:
        try:
            tool = get_tool(name)
            args = tool.parse(raw_args or {})
        except ToolArgumentError as exc:
            return Outcome("error", str(exc))
        if not self.needs_owner(tool):
            try:
                with self.store.acting_as(self.actor):
                    result = tool.func(self.store, args)
            except BackofficeError as exc:
                return Outcome("error", str(exc))
            message = str(result.get("message", "done"))
            for follow, follow_args in tool.then(result) if tool.then else []:
                # what the tool says needs the owner next (a possible duplicate to settle): asked or left waiting
                message += " " + self.call(follow, follow_args).message
            return Outcome("ok", message, result)
        return self._consequential(tool, args.model_dump(mode="json", exclude_defaults=True))

    def call_with_owner(self, name: str, raw_args: dict[str, Any] | BaseModel | None) -> Outcome:
        """A call that needs the owner's yes this time, whatever its effect: a planner routes a final
        change here when the owner did not ask for it themselves (the model read it somewhere)."""
        try:
            tool = get_tool(name)
            args = tool.parse(raw_args or {})
        except ToolArgumentError as exc:
            return Outcome("error", str(exc))
        return self._consequential(tool, args.model_dump(mode="json", exclude_defaults=True))

    def _consequential(self, tool: Tool, args: dict[str, Any]) -> Outcome:
        try:
            title, preview = tool.describe_call(self.store, args)
        except BackofficeError as exc:
            return Outcome("error", str(exc))
        action, new = self.pending.propose(tool.name, args, title, preview, self.origin)
        if action.interrupted:
            return Outcome(
                "pending",
                f"{action.id} ({action.title}) was interrupted while running; the owner decides with "
                f"`backoffice approve {action.id}` or `backoffice reject {action.id}`.",
                action=action,
            )
        if action.fingerprint in self.declined:
            return Outcome("declined", "The owner already said no to exactly this. Do not ask again.", action=action)
        if action.status == "done":
            return Outcome("already", f"Already done ({action.id}): {action.result}", action=action)
        if action.status == "running":
            return Outcome("pending", f"{action.id} is being carried out right now.", action=action)
        if tool.ready is not None and (why := tool.ready(self.store)):
            # a yes could not make it happen now: say so at once, and keep it for when it can
            return Outcome(
                "pending",
                f"{why} Nothing was done: {action.title!r} waits as {action.id}, and once that is fixed "
                f"`backoffice approve {action.id}` runs it.",
                action=action,
            )
        if self._auto_send_allows(tool, args):
            return self.execute(action.id, by="auto-send setting")
        if self.approver is None:
            note = "Saved" if new else "Already waiting"
            return Outcome(
                "pending",
                f"{note} for the owner's approval as {action.id}: {action.title}. Nothing was done yet; "
                f"the owner can run `backoffice approve {action.id}` or `backoffice reject {action.id}`.",
                action=action,
            )
        return self._ask(tool, action)

    def _ask(self, tool: Tool, action: Action) -> Outcome:
        for _ in range(10):  # edits loop back to the question; ten rewrites is plenty
            decision = self.approver.decide(action, tool) if self.approver else Decision("later")
            if decision.answer == "yes":
                return self.execute(action.id, by="owner")
            if decision.answer == "no":
                self.pending.reject(action.id)
                self.declined.add(action.fingerprint)
                return Outcome("declined", f"The owner said no: {action.title} was not done.", action=action)
            if decision.answer == "edit" and decision.args is not None:
                try:
                    args = tool.parse(decision.args).model_dump(mode="json", exclude_defaults=True)
                    _, preview = tool.describe_call(self.store, args)
                except BackofficeError as exc:
                    return Outcome("error", f"The edited version was not usable: {exc}", action=action)
                action = self.pending.revise(action.id, args, preview)
                continue
            break
        later = f"Left for later as {action.id}: {action.title}. `backoffice approve {action.id}` when you decide."
        return Outcome("pending", later, action=action)

    def _auto_send_allows(self, tool: Tool, args: dict[str, Any]) -> bool:
        """Auto-send: the owner's explicit setting, follow-up emails on an open lead or job only."""
        if tool.name != "send_message" or not self.store.settings.auto_send_follow_ups:
            return False
        if args.get("purpose") != "follow_up":
            return False
        lead = self.store.get("leads", args["lead_id"]) if args.get("lead_id") else None
        opp = self.store.get("opportunities", args["opportunity_id"]) if args.get("opportunity_id") else None
        open_lead = lead is not None and lead["status"] in OPEN_LEAD_STATUSES
        open_opp = opp is not None and is_open_job(opp)
        same_person = all(r.get("contact_id") == args["contact_id"] for r in (lead, opp) if r)
        return (open_lead or open_opp) and same_person

    def describe(self, action: Action) -> tuple[str, str]:
        """What ``action`` would do, described now from its tool and arguments (never the stored
        text). Raises when the entry must not run, or cannot be described against the book."""
        problem = unusable(action)
        if problem:
            raise ToolArgumentError(
                f"{action.id} in {self.pending.path} cannot be run: {problem}; it was left as it is."
            )
        return get_tool(action.tool).describe_call(self.store, action.args)

    def execute(self, action_id: str, by: str) -> Outcome:
        """Run an approved action once. Approving a finished action reports what happened before.

        The action is described afresh first, and that description is what the owner is shown and
        what the record keeps. If its title is not the one saved (which the owner may have read in a
        list and decided on), nothing runs: the owner is shown what it really does and asked again. An action that ran
        before (interrupted, or failed) is checked first: if that run got through, it is settled
        as done, never run twice."""
        action = self.pending.get(action_id)
        if not action.waiting:
            return self._not_waiting(action)
        try:
            tool = get_tool(action.tool)
            if (problem := unusable(action)) is not None:
                raise ToolArgumentError(f"it cannot be run: {problem}")
            earlier = self._earlier_run(tool, action)
            if earlier is not None:
                return earlier
            title, preview = tool.describe_call(self.store, action.args)
        except BackofficeError as exc:
            return Outcome("error", f"{action.id} was not run: {exc}", action=action)
        if (title, preview) != (action.title, action.preview):
            saved = action.title
            action = self.pending.describe(action.id, title, preview)  # the record says what is approved
            if title != saved:
                # the one line the owner may have decided on (listed, or told by the planner) was not
                # this call: nothing runs until they have seen what it really does
                return Outcome(
                    "pending",
                    f"{action.id} was not run: it was saved as {saved!r}, but what it does is shown above. "
                    "Approve it again to run exactly that, or reject it.",
                    action=action,
                )
        cut_short = action.cut_short
        action, claimed = self.pending.claim(action.id, by)
        if not claimed:
            return self._not_waiting(action)
        claim = action.claim or {}
        args = tool.parse(action.args)
        try:
            with self.store.acting_as("owner"):
                if tool.idempotent:
                    # run again as of the moment it was first approved: what it works out from the
                    # date (a message's id) comes out the same, so its own check finds the first run
                    moment = _as_of(claim) if cut_short else None
                    with clock.frozen(moment) if moment else contextlib.nullcontext():
                        result = tool.func(self.store, args)
                else:
                    with self.store.transaction():
                        result = tool.func(self.store, args)
                        self.store.note_approved(action.id, str(claim.get("token")), tool.name)
        except NotConnected as exc:
            action = self.pending.release(action.id, str(exc))
            return Outcome("pending", f"{action.id} is still waiting: {exc}", action=action)
        except BackofficeError as exc:
            action = self.pending.fail(action.id, str(exc))
            return Outcome("error", f"{action.id} could not be done: {exc}", action=action)
        except BaseException as exc:  # a bug, or Ctrl-C: the next approval checks what got through
            self.pending.fail(action.id, f"{type(exc).__name__}: {exc}", cut_short=True)
            raise
        message = str(result.get("message", "done"))
        action = self.pending.finish(action.id, message)
        for name, follow_args in tool.then(result) if tool.then else []:
            # what the tool says comes next (winning a job: the QuickBooks question), asked now or left waiting
            message += " " + self.call(name, follow_args).message
        return Outcome("ok", message, result, action=action)

    def _earlier_run(self, tool: Tool, action: Action) -> Outcome | None:
        """An action that was started before (interrupted, or failed part-way) and whose run got
        through, settled as done; None when it has to run (again). A tool that checks for its own
        earlier run (``idempotent``) is simply run again."""
        token = (action.claim or {}).get("token")
        if tool.idempotent or not token or not self.store.approved_ran(action.id, token):
            return None
        note = "It had been carried out before it was interrupted; nothing was done twice."
        settled, ok = self.pending.settle(action.id, token, note)
        if not ok:
            return self._not_waiting(settled)
        return Outcome("already", f"{action.id}: {note}", action=settled)

    def _not_waiting(self, action: Action) -> Outcome:
        if action.status == "done":
            return Outcome("already", f"{action.id} was already done: {action.result}", action=action)
        if action.status == "rejected":
            return Outcome("declined", f"{action.id} was rejected on {action.decided_at}.", action=action)
        return Outcome(
            "pending", f"{action.id} is being carried out right now ({claims.describe(action.claim)}).", action=action
        )

    def reject(self, action_id: str) -> Outcome:
        action = self.pending.get(action_id)
        if action.waiting and not unusable(action):
            # an earlier run that got through cannot be undone by saying no now: say what happened
            earlier = self._earlier_run(get_tool(action.tool), action)
            if earlier is not None:
                return earlier
        was_cut_short = action.cut_short
        action, changed = self.pending.reject(action.id)
        if not changed:
            return Outcome("error", f"{action.id} is {action.status}; only a waiting action can be rejected.")
        note = "Nothing was done."
        if was_cut_short and get_tool_or_none(action.tool) is not None and get_tool(action.tool).idempotent:
            note = (
                "It was interrupted while running, so part of it may have happened before it stopped "
                "(a message may have gone out): check before doing it another way."
            )
        return Outcome("declined", f"Rejected {action.id}: {action.title}. {note}", action=action)


def get_tool_or_none(name: str) -> Tool | None:
    return all_tools().get(name)


def _as_of(claim: dict[str, Any]) -> dt.datetime | None:
    """When the claimed action was first approved (a re-run is dated then)."""
    try:
        return clock.parse_stamp(str(claim.get("as_of") or claim.get("at")))
    except ValueError:
        return None
