"""A local stand-in for Intuit: the OpenID discovery document, the OAuth token endpoint (with
refresh-token rotation, as Intuit does it) and the two QuickBooks Online calls backoffice makes,
``query`` and ``customer`` create. The real python-quickbooks and intuit-oauth clients talk to it
over HTTP, so their request building and fault handling are exercised for real."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class FakeQuickBooks:
    def __init__(self) -> None:
        self.customers: list[dict[str, Any]] = []
        self.other_names: set[str] = set()  # vendors and employees: their names are taken too
        self.access = {"access-0"}
        self.refresh_tokens = {"refresh-0"}
        self.spent: set[str] = set()
        self.requests: list[tuple[str, str, str]] = []  # (method, path, body)
        self.by_request_id: dict[str, dict[str, Any]] = {}
        self.issued = 0
        self.fail_next: list[tuple[int, dict[str, Any]]] = []
        self.url = ""

    # ------------------------------------------------------------------ scripting
    def expire_access_tokens(self) -> None:
        self.access.clear()

    def revoke(self) -> None:
        self.access.clear()
        self.refresh_tokens.clear()

    def creates(self) -> list[tuple[str, str, str]]:
        return [r for r in self.requests if r[1].endswith("/customer")]

    # ------------------------------------------------------------------ serving
    def handle(self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: str) -> tuple[int, Any]:
        self.requests.append((method, path, body))
        if path == "/discovery":
            base = self.url
            return 200, {
                "issuer": base,
                "authorization_endpoint": f"{base}/connect/oauth2",
                "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
                "revocation_endpoint": f"{base}/oauth2/v1/tokens/revoke",
                "jwks_uri": f"{base}/jwks",
                "userinfo_endpoint": f"{base}/userinfo",
            }
        if path == "/oauth2/v1/tokens/bearer":
            form = {k: v[0] for k, v in parse_qs(body).items()}
            if form.get("grant_type") == "authorization_code" and form.get("code") == "good-code":
                return 200, self._issue()
            if form.get("grant_type") == "refresh_token" and form.get("refresh_token") in self.refresh_tokens:
                self.refresh_tokens.discard(form["refresh_token"])  # rotation: the old one is spent
                self.spent.add(form["refresh_token"])
                return 200, self._issue()
            return 400, {"error": "invalid_grant"}
        if not path.startswith("/v3/company/"):
            return 404, {"error": "no such path"}
        if headers.get("Authorization", "").removeprefix("Bearer ") not in self.access:
            return 401, {"fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200"}]}}
        if self.fail_next:
            return self.fail_next.pop(0)
        if path.endswith("/query"):
            return 200, {"QueryResponse": self._query(body)}
        if path.endswith("/customer"):
            request_id = query.get("requestid", [""])[0]
            if request_id in self.by_request_id:
                return 200, self.by_request_id[request_id]
            data = json.loads(body)
            name = data["DisplayName"]
            if name.lower() in {c["DisplayName"].lower() for c in self.customers} | {
                n.lower() for n in self.other_names
            }:
                return 400, {
                    "Fault": {
                        "Error": [
                            {
                                "Message": "Duplicate Name Exists Error",
                                "Detail": "The name supplied already exists. : Another customer, vendor or employee "
                                "is already using this name. Please use a different name.",
                                "code": "6240",
                            }
                        ],
                        "type": "ValidationFault",
                    }
                }
            customer = {**{k: v for k, v in data.items() if v not in ("", None)}, "Id": str(58 + len(self.customers))}
            customer["Active"] = True
            self.customers.append(customer)
            answer = {"Customer": customer, "time": "2026-11-20T07:00:00-08:00"}
            if request_id:
                self.by_request_id[request_id] = answer
            return 200, answer
        return 404, {"error": "no such entity"}

    def _issue(self) -> dict[str, Any]:
        self.issued += 1
        access, refresh = f"access-{self.issued}", f"refresh-{self.issued}"
        self.access.add(access)
        self.refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": 3600,
            "x_refresh_token_expires_in": 8726400,
            "token_type": "bearer",
        }

    def _query(self, sql: str) -> dict[str, Any]:
        m = re.search(r"WHERE (\w+) = '((?:[^'\\]|\\.)*)'", sql)
        if not m:
            return {}
        field, value = m.group(1), m.group(2).replace("\\'", "'").replace("\\\\", "\\")
        if field == "DisplayName":
            found = [c for c in self.customers if c["DisplayName"].lower() == value.lower()]
        else:
            found = [c for c in self.customers if (c.get(field) or {}).get("Address", "").lower() == value.lower()]
        return {"Customer": found, "startPosition": 1, "maxResults": len(found)} if found else {}


@contextmanager
def serve() -> Iterator[FakeQuickBooks]:
    fake = FakeQuickBooks()

    class Handler(BaseHTTPRequestHandler):
        def _any(self, method: str) -> None:
            parsed = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            status, payload = fake.handle(method, parsed.path, parse_qs(parsed.query), self.headers, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            self._any("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._any("POST")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
