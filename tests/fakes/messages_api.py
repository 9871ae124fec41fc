"""A local, scripted stand-in for the Anthropic Messages API.

The real SDK talks to it over HTTP (``ANTHROPIC_BASE_URL``), so the Claude planner is tested through
the same client code it uses in production. Each POST /v1/messages takes the next item of the script:

- a response dict (build them with ``text()`` and ``tool_use()``);
- ``Status(529)`` and friends: an HTTP error (with ``retry-after-ms: 1`` so SDK retries are instant);
- ``Forever(response)``: returned for this and every later request (a model stuck in a loop).

Every request body is kept in ``requests`` for assertions.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ids = itertools.count(1)


def text(message: str) -> dict[str, Any]:
    return _message([{"type": "text", "text": message}], "end_turn")


def tool_use(name: str, args: dict[str, Any], say: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": say}] if say else []
    content.append({"type": "tool_use", "id": f"toolu_{next(_ids):04d}", "name": name, "input": args})
    return _message(content, "tool_use")


def tool_uses(*calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    content = [{"type": "tool_use", "id": f"toolu_{next(_ids):04d}", "name": n, "input": a} for n, a in calls]
    return _message(content, "tool_use")


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


class FakeMessagesAPI:
    def __init__(self, script: list[Any] | None = None):
        self.script: list[Any] = list(script or [])
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                with fake.lock:
                    fake.requests.append(body)
                    item = fake._next()
                if isinstance(item, Status):
                    payload = {"type": "error", "error": {"type": item.kind, "message": f"scripted {item.code}"}}
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
            return item.response
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
        return [b for b in last["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
