"""The Claude planner: a tool-use loop over the catalog of tools, every call through the gate.

The loop is ours (not the SDK's tool runner) so that each call can go through the gate, repeats can
be caught, and a failure before anything ran can hand the message to the offline planner.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import anthropic

from backoffice.agent.planners.base import Turn
from backoffice.agent.reply import Reply
from backoffice.tools.catalog import all_tools
from backoffice.tools.errors import PlannerUnavailable

DEFAULT_MODEL = "claude-sonnet-5-5"
MAX_STEPS = 12  # model round-trips per owner message
MAX_SAME_CALL = 2  # the same tool with the same arguments, per message
HISTORY_MESSAGES = 40

PREAMBLE = """You are the back-office assistant of a small service business, talking with the owner in a terminal.
- Use the tools to read and change the customer book; never invent records, ids, dates or amounts.
- Ask the owner for anything a request needs that they did not give (one question at a time).
- A tool marked as needing the owner's yes is put to the owner by the code; you cannot approve anything.
  A result with status "declined" means the owner said no: say so, accept it and do not retry.
  "pending" means it is waiting for the owner's approval.
- Answer briefly, in plain words; use markdown lists or tables for several items."""


def system_prompt(turn: Turn) -> str:
    """The fixed preamble, the routed procedures' hard stops (the rules, written once, in the
    procedure files) and their policy text. Built only from the routing, so the same procedures
    give the same text and the prompt cache holds."""
    parts = [PREAMBLE]
    rules = turn.route.rules()
    if rules:
        heading = "Hard stops. The code enforces these whatever you do; follow them and explain them when they apply:"
        parts.append("\n".join([heading, *(f"- {rule}" for rule in rules)]))
    parts.append(turn.system_text())
    return "\n\n".join(parts)


def tool_definitions(guarded: set[str], offered: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """The definitions of the ``offered`` tools (every tool when None), sorted by name, with the
    cache breakpoint on the last: a stable list keeps the prompt cache warm."""
    defs = []
    for tool in all_tools().values():
        if offered is not None and tool.name not in offered:
            continue
        d = tool.definition()
        if tool.effect == "consequential" or tool.name in guarded:
            d["description"] += "\n(Needs the owner's yes. The code asks them; you cannot approve it yourself.)"
        defs.append(d)
    defs.sort(key=lambda d: d["name"])
    if defs:
        defs[-1]["cache_control"] = {"type": "ephemeral"}
    return defs


# most specific first: several of these are subclasses of the later ones
FAILURES: list[tuple[type[BaseException], str]] = [
    (anthropic.AuthenticationError, "the API key was refused"),
    (anthropic.PermissionDeniedError, "the API key may not use this model"),
    (anthropic.NotFoundError, "the model was not found; check BACKOFFICE_MODEL"),
    (anthropic.APITimeoutError, "the request timed out"),
    (anthropic.APIConnectionError, "no connection to the API"),
    (anthropic.RateLimitError, "rate limited"),
]


def describe_failure(exc: BaseException) -> str:
    for kind, words in FAILURES:
        if isinstance(exc, kind):
            return words
    if isinstance(exc, anthropic.APIStatusError):
        return f"the API answered {exc.status_code}"
    return type(exc).__name__


class ClaudePlanner:
    name = "claude"

    def __init__(self, client: anthropic.Anthropic | None = None, model: str | None = None) -> None:
        self.model = model or os.environ.get("BACKOFFICE_MODEL") or DEFAULT_MODEL
        # the key and base_url come from ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL; the SDK retries 408/409/429/5xx
        self.client = client or anthropic.Anthropic(max_retries=2, timeout=60.0)
        self.history: list[dict[str, Any]] = []
        # the definitions change only with the hard stops and the routed procedures' tools
        self._tools: dict[tuple[frozenset[str], frozenset[str] | None], list[dict[str, Any]]] = {}

    def respond(self, text: str, turn: Turn) -> Reply:
        reply = turn.reply
        reply.planner = self.name
        messages: list[dict[str, Any]] = [*self.history, {"role": "user", "content": text}]
        system = [
            {"type": "text", "text": system_prompt(turn), "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": turn.profile},
        ]
        key = (frozenset(turn.gate.guarded), turn.route.tools())
        if key not in self._tools:
            self._tools[key] = tool_definitions(set(key[0]), key[1])
        tools = self._tools[key]
        offered = {d["name"] for d in tools}
        seen: Counter[str] = Counter()
        ran = False
        finished = False
        for _ in range(MAX_STEPS):
            try:
                request: dict[str, Any] = {"system": system, "messages": messages}
                if tools:
                    request["tools"] = tools
                response = self.client.messages.create(model=self.model, max_tokens=2048, **request)
            except anthropic.APIError as exc:
                if not ran:
                    raise PlannerUnavailable(describe_failure(exc)) from exc
                reply.error(
                    f"Claude stopped answering partway ({describe_failure(exc)}). What is shown above was done; "
                    "nothing else ran. Ask again to continue."
                )
                break
            content = [b.model_dump(exclude_none=True) for b in response.content if b.type in ("text", "tool_use")]
            messages.append({"role": "assistant", "content": content})
            for block in response.content:
                if block.type == "text":
                    reply.say(block.text)
            calls = [b for b in response.content if b.type == "tool_use"]
            if response.stop_reason != "tool_use" or not calls:
                finished = True
                break
            results, stop = self._run_calls(calls, turn, reply, seen, offered)
            ran = ran or any(r.get("ran") for r in results)
            messages.append({"role": "user", "content": [{k: v for k, v in r.items() if k != "ran"} for r in results]})
            if stop:
                reply.error("I stopped: the same step kept being repeated. Nothing was done twice.")
                break
        else:
            reply.error(f"I stopped after {MAX_STEPS} steps without finishing; what is shown above was done.")
        self._remember(messages if finished else [*self.history, {"role": "user", "content": text}], finished, reply)
        return reply

    def _run_calls(
        self, calls: list[Any], turn: Turn, reply: Reply, seen: Counter[str], offered: set[str]
    ) -> tuple[list[dict[str, Any]], bool]:
        results: list[dict[str, Any]] = []
        stop = False
        for call in calls:
            if call.name not in offered and call.name in all_tools():
                # the routed procedures do not use this tool: it was not offered, so it does not run
                refusal = f"Refused: {call.name} is not one of the tools for this request. Answer the owner."
                results.append(
                    {"type": "tool_result", "tool_use_id": call.id, "content": refusal, "is_error": True, "ran": False}
                )
                continue
            key = call.name + json.dumps(call.input, sort_keys=True, default=str)
            seen[key] += 1
            if seen[key] > MAX_SAME_CALL:
                stop = True
                results.append(
                    {
                        "type": "tool_result",
                        "tool_use_id": call.id,
                        "content": "Refused: this exact call was already made. Stop and answer the owner.",
                        "is_error": True,
                        "ran": False,
                    }
                )
                continue
            outcome = turn.gate.call(call.name, call.input if isinstance(call.input, dict) else {})
            if outcome.status == "pending" and outcome.action is not None:
                reply.notice(f"Waiting for your approval: {outcome.action.id} — {outcome.action.title}.")
            results.append(
                {
                    "type": "tool_result",
                    "tool_use_id": call.id,
                    "content": outcome.for_model(),
                    "is_error": outcome.status == "error",
                    "ran": outcome.status in ("ok", "declined", "pending", "already"),
                }
            )
        return results, stop

    def _remember(self, messages: list[dict[str, Any]], finished: bool, reply: Reply) -> None:
        if not finished:
            # keep the conversation well-formed: the unfinished tool exchange is replaced by what the owner saw
            messages = [*messages, {"role": "assistant", "content": reply.plain() or "(stopped)"}]
        # drop the oldest turns, cutting only where the owner spoke (never between a tool call and its result)
        while len(messages) > HISTORY_MESSAGES:
            cut = next(
                (
                    i
                    for i in range(1, len(messages))
                    if messages[i]["role"] == "user" and isinstance(messages[i]["content"], str)
                ),
                len(messages),
            )
            messages = messages[cut:]
        self.history = messages
