"""A local, scripted stand-in for the Anthropic Messages API, as strict as the real one.

The real SDK talks to it over HTTP (``ANTHROPIC_BASE_URL``), so the Claude planner is tested through
the same client code it uses in production. Each POST /v1/messages is first checked against the
rules the real API enforces on a request (below); a request that breaks one gets the real API's
answer, a 400 ``invalid_request_error`` naming the problem, and is recorded in ``refused``. Only a
valid request takes the next item of the script:

- a response dict (build them with ``text()``, ``tool_use()``, ``tool_uses()``, ``cut_off()``,
  ``refusal()``, ``paused()``, ``empty()``);
- ``Status(529)`` and friends: an HTTP error (with ``retry-after-ms: 1`` so SDK retries are instant);
- ``Forever(response)``: returned for this and every later request (a model stuck in a loop).

The rules checked (from the Messages API documentation):

- ``messages`` is a non-empty list that starts with a user turn, and roles alternate;
- every message has content: a non-empty string, or a non-empty list of blocks, and no text block
  is empty (a final assistant turn, a prefill, may not end in whitespace either);
- every ``tool_use`` in an assistant turn is answered by a ``tool_result`` with its id in the very
  next user turn, and those results come first in that turn;
- a ``tool_result`` answers a ``tool_use`` of the assistant turn just before it (no unknown ids, no
  answer twice); tool_use ids are unique;
- at most four ``cache_control`` breakpoints in the whole request.

Every request body is kept in ``requests`` (valid or not) for assertions.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ids = itertools.count(1)
MAX_BREAKPOINTS = 4


def text(message: str) -> dict[str, Any]:
    return _message([{"type": "text", "text": message}], "end_turn")


def tool_use(name: str, args: dict[str, Any], say: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": say}] if say else []
    content.append({"type": "tool_use", "id": f"toolu_{next(_ids):04d}", "name": name, "input": args})
    return _message(content, "tool_use")


def tool_uses(*calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    content = [{"type": "tool_use", "id": f"toolu_{next(_ids):04d}", "name": n, "input": a} for n, a in calls]
    return _message(content, "tool_use")


def cut_off(say: str = "", name: str | None = None, partial: dict[str, Any] | None = None) -> dict[str, Any]:
    """A response that hit max_tokens: some text, and perhaps a tool_use whose input was cut short."""
    content: list[dict[str, Any]] = [{"type": "text", "text": say}] if say else []
    if name:
        content.append({"type": "tool_use", "id": f"toolu_{next(_ids):04d}", "name": name, "input": partial or {}})
    return _message(content, "max_tokens")


def refusal(say: str = "") -> dict[str, Any]:
    return _message([{"type": "text", "text": say}] if say else [], "refusal")


def paused(say: str = "Still working on it.") -> dict[str, Any]:
    """A long turn paused by the API: sent back as it is, the model carries on."""
    return _message([{"type": "text", "text": say}], "pause_turn")


def empty() -> dict[str, Any]:
    return _message([], "end_turn")


def _message(content: list[dict[str, Any]], stop: str) -> dict[str, Any]:
    return {
        "id": f"msg_{next(_ids):04d}",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


@dataclass
class Status:
    code: int
    kind: str = "api_error"


@dataclass
class Forever:
    response: dict[str, Any]


# ---------------------------------------------------------------------------- the rules
def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def problems(body: dict[str, Any]) -> list[str]:
    """What the real Messages API would refuse in this request body (empty when it is valid)."""
    found: list[str] = []
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return ["messages: at least one message is required"]
    if messages[0].get("role") != "user":
        found.append("messages.0.role: the first message must use the user role")
    breakpoints = 0
    for _where, blocks in (("system", body.get("system") or []), ("tools", body.get("tools") or [])):
        if isinstance(blocks, list):
            breakpoints += sum(1 for b in blocks if isinstance(b, dict) and b.get("cache_control"))
    seen_ids: set[str] = set()
    for i, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ("user", "assistant"):
            found.append(f"messages.{i}.role: must be user or assistant")
        if i and role == messages[i - 1].get("role"):
            found.append(f"messages.{i}: roles must alternate between user and assistant")
        if content in (None, "", []) or (isinstance(content, str) and not content.strip()):
            found.append(f"messages.{i}: all messages must have non-empty content")
            continue
        blocks = _blocks(content)
        breakpoints += sum(1 for b in blocks if b.get("cache_control"))
        for j, block in enumerate(blocks):
            if block.get("type") == "text" and not str(block.get("text", "")).strip():
                found.append(f"messages.{i}.content.{j}: text content blocks must be non-empty")
            if block.get("type") == "tool_use":
                if block.get("id") in seen_ids:
                    found.append(f"messages.{i}.content.{j}: tool_use ids must be unique")
                seen_ids.add(str(block.get("id")))
                if not isinstance(block.get("input"), dict):
                    found.append(f"messages.{i}.content.{j}.input: must be an object")
        if role == "assistant" and i == len(messages) - 1 and isinstance(content, str) and content != content.rstrip():
            found.append(f"messages.{i}: final assistant content cannot end with trailing whitespace")
        # tool_use must be answered in the next user turn, tool_results first
        if role == "assistant":
            asked = [b["id"] for b in blocks if b.get("type") == "tool_use"]
            if asked:
                if i + 1 >= len(messages):
                    found.append(f"messages.{i}: tool_use ids {asked} have no tool_result after them")
                    continue
                answer = _blocks(messages[i + 1].get("content"))
                results = [b.get("tool_use_id") for b in answer if b.get("type") == "tool_result"]
                missing = [a for a in asked if a not in results]
                if missing:
                    found.append(
                        f"messages.{i + 1}: tool_use ids were found without tool_result blocks immediately "
                        f"after: {missing}. Each tool_use block must have a corresponding tool_result block "
                        "in the next message."
                    )
                kinds = [b.get("type") for b in answer]
                if results and kinds[: len(results)] != ["tool_result"] * len(results):
                    found.append(f"messages.{i + 1}: tool_result blocks must come first in the message")
        if role == "user":
            results = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
            if results:
                before = _blocks(messages[i - 1].get("content")) if i else []
                asked = {b.get("id") for b in before if b.get("type") == "tool_use"}
                for rid in results:
                    if rid not in asked:
                        found.append(
                            f"messages.{i}: unexpected tool_use_id found in tool_result blocks: {rid}. Each "
                            "tool_result block must have a corresponding tool_use block in the previous message."
                        )
                if len(results) != len(set(results)):
                    found.append(f"messages.{i}: a tool_use is answered twice")
    if breakpoints > MAX_BREAKPOINTS:
        found.append(f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {breakpoints}.")
    return found


class FakeMessagesAPI:
    def __init__(self, script: list[Any] | None = None):
        self.script: list[Any] = list(script or [])
        self.requests: list[dict[str, Any]] = []
        self.refused: list[list[str]] = []  # the problems of each request the fake refused
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                with fake.lock:
                    fake.requests.append(body)
                    wrong = problems(body)
                    if wrong:
                        fake.refused.append(wrong)
                        item: Any = Status(400, "invalid_request_error")
                    else:
                        item = fake._next()
                if isinstance(item, Status):
                    detail = "; ".join(wrong) if wrong else f"scripted {item.code}"
                    payload = {"type": "error", "error": {"type": item.kind, "message": detail}}
                    self._send(item.code, payload)
                else:
                    self._send(200, item)

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("retry-after-ms", "1")
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _next(self) -> Any:
        if not self.script:
            return text("(the test script has no more responses)")
        item = self.script[0]
        if isinstance(item, Forever):
            # the same answer every time, with fresh ids as the real API would give
            response = json.loads(json.dumps(item.response))
            response["id"] = f"msg_{next(_ids):04d}"
            for block in response["content"]:
                if block.get("type") == "tool_use":
                    block["id"] = f"toolu_{next(_ids):04d}"
            return response
        return self.script.pop(0)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeMessagesAPI:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def tool_results(self, request: int = -1) -> list[dict[str, Any]]:
        """The tool_result blocks the planner sent in a request."""
        last = self.requests[request]["messages"][-1]
        return [b for b in _blocks(last["content"]) if b.get("type") == "tool_result"]
