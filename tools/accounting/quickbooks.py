"""QuickBooks Online: won customers become QuickBooks customers (python-quickbooks, intuit-oauth).

Tokens live in ``<data dir>/quickbooks.token.json`` with 0600 permissions. Intuit rotates the
refresh token: every refresh returns a new one and the old one soon stops working, so the file is
rewritten *immediately* after every refresh, before the new access token is used.

``QuickBooksClient.call`` runs one API operation: an expired access token is refreshed first; a
401 refreshes once and retries once; a refused refresh is ``NotConnected`` (the sync waits as a
pending action); QuickBooks faults become one plain sentence.

``Services.quickbooks_discovery_url`` and ``Services.quickbooks_api_url`` point the clients
elsewhere (tests use a local fake Intuit; intuit-oauth accepts a discovery URL in place of the
environment name, python-quickbooks an API base URL).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlparse

import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks.exceptions import AuthorizationException, QuickbooksException
from quickbooks.objects.base import Address, EmailAddress, PhoneNumber
from quickbooks.objects.customer import Customer

from backoffice.tools.book import clock
from backoffice.tools.book.datafiles import private_dir, read_object
from backoffice.tools.book.storage import atomic_write_bytes
from backoffice.tools.errors import NotConnected, QuickBooksError, StoreCorrupt
from backoffice.tools.services import Services

TOKEN = "quickbooks.token.json"
MINOR_VERSION = 75
DEFAULT_REDIRECT = "https://developer.intuit.com/v2/OAuth2Playground/RedirectUrl"
RECONNECT = "Run `backoffice quickbooks auth` to connect again; the sync is still waiting for you."
T = TypeVar("T")

# plain words for the faults an owner can meet (codes from Intuit's error list)
FAULTS = {
    6240: "QuickBooks already has a customer, vendor or employee called {name}, perhaps inactive. "
    "Link it by hand in QuickBooks or rename one of them.",
    6000: "QuickBooks refused the customer: {detail}",
    2010: "QuickBooks refused a field: {detail}",
    2020: "QuickBooks says a required field is missing: {detail}",
    3200: "QuickBooks refused the request (stale object): {detail}",
    5010: "QuickBooks changed the record meanwhile; try again.",
}


def token_path(directory: Path) -> Path:
    return directory / TOKEN


def load_tokens(directory: Path) -> dict[str, Any] | None:
    path = token_path(directory)
    try:
        tokens = read_object(path, "the QuickBooks sign-in")
    except StoreCorrupt as exc:
        raise NotConnected(f"The saved QuickBooks sign-in is damaged: {exc} {RECONNECT}") from exc
    if tokens is None:
        return None
    wrong = [k for k in ("client_id", "client_secret", "realm_id") if not isinstance(tokens.get(k), str)]
    optional = ("access_token", "refresh_token", "access_expires_at")
    wrong += [k for k in optional if not isinstance(tokens.get(k), str | None)]
    if wrong:
        raise NotConnected(
            f"The saved QuickBooks sign-in in {path} is damaged ({', '.join(wrong)} missing or not text); it was "
            f"left as it is. {RECONNECT}"
        )
    expires = tokens.get("access_expires_at")
    try:
        if expires:
            clock.parse_stamp(expires)
    except ValueError:
        raise NotConnected(f"The saved QuickBooks sign-in in {path} has a bad access_expires_at. {RECONNECT}") from None
    return tokens


def save_tokens(directory: Path, tokens: dict[str, Any]) -> None:
    private_dir(directory)
    atomic_write_bytes(token_path(directory), json.dumps(tokens, indent=1).encode("utf-8"), mode=0o600)


def auth_client(tokens: dict[str, Any], discovery_url: str | None = None) -> AuthClient:
    try:
        return AuthClient(
            tokens["client_id"],
            tokens["client_secret"],
            tokens.get("redirect_uri") or DEFAULT_REDIRECT,
            discovery_url or tokens.get("environment", "production"),
            access_token=tokens.get("access_token"),
            refresh_token=tokens.get("refresh_token"),
            realm_id=tokens.get("realm_id"),
        )
    except (requests.RequestException, AuthClientError, ValueError) as exc:
        raise QuickBooksError(f"Could not reach Intuit's sign-in service: {exc}") from exc


def _later(seconds: Any) -> str | None:
    return clock.stamp(clock.now() + dt.timedelta(seconds=int(seconds))) if seconds else None


def _remember(directory: Path, tokens: dict[str, Any], auth: AuthClient) -> None:
    tokens.update(
        access_token=auth.access_token,
        refresh_token=auth.refresh_token,
        access_expires_at=_later(auth.expires_in),
        refresh_expires_at=_later(auth.x_refresh_token_expires_in) or tokens.get("refresh_expires_at"),
    )
    save_tokens(directory, tokens)


# ---------------------------------------------------------------------------- connecting
def authorization_url(app: dict[str, str], services: Services) -> tuple[str, str]:
    """Where the owner signs in, and the state token the redirect must carry back. ``app`` holds
    client_id, client_secret, redirect_uri and environment."""
    auth = auth_client(app, services.quickbooks_discovery_url)
    url = auth.get_authorization_url([Scopes.ACCOUNTING])
    return url, str(auth.state_token)


def finish_connect(
    directory: Path, pasted_url: str, state: str, app: dict[str, str], services: Services
) -> dict[str, Any]:
    """Exchange the code in the redirect URL the owner pasted for tokens, and save them."""
    query = parse_qs(urlparse(pasted_url.strip()).query)
    if "error" in query:
        raise NotConnected(f"QuickBooks said no: {query['error'][0]}. Nothing was saved.")
    code, realm, got_state = (query.get(k, [None])[0] for k in ("code", "realmId", "state"))
    if not code or not realm:
        raise NotConnected("That URL has no code and realmId in it. Paste the whole address the browser ended on.")
    if got_state != state:
        raise NotConnected("That URL belongs to a different sign-in attempt (state mismatch). Start again.")
    tokens: dict[str, Any] = {**app, "realm_id": realm, "connected_at": clock.stamp(clock.now())}
    auth = auth_client(tokens, services.quickbooks_discovery_url)
    try:
        auth.get_bearer_token(code, realm_id=realm)
    except AuthClientError as exc:
        raise NotConnected(f"QuickBooks refused the code ({exc.status_code}); start again. Nothing was saved.") from exc
    _remember(directory, tokens, auth)
    return tokens


# ---------------------------------------------------------------------------- the client
class QuickBooksClient:
    def __init__(self, directory: Path, services: Services | None = None):
        tokens = load_tokens(directory)
        if tokens is None:
            raise NotConnected("QuickBooks is not connected yet. Run `backoffice quickbooks auth` to connect it.")
        self.directory, self.tokens = directory, tokens
        self.services = services or Services()
        self.auth = auth_client(tokens, self.services.quickbooks_discovery_url)
        expires = tokens.get("access_expires_at")
        if not tokens.get("access_token") or (expires and clock.parse_stamp(expires) <= clock.now()):
            self.refresh()
        self.qb = self._client()

    def _client(self) -> QuickBooks:
        qb = QuickBooks(
            auth_client=self.auth,
            refresh_token=self.auth.refresh_token,
            company_id=self.tokens["realm_id"],
            minorversion=MINOR_VERSION,
        )
        if override := self.services.quickbooks_api_url:
            qb.api_url_v3 = qb.sandbox_api_url_v3 = override.rstrip("/")
        return qb

    def refresh(self) -> None:
        try:
            self.auth.refresh(refresh_token=self.tokens.get("refresh_token"))
        except AuthClientError as exc:
            if exc.status_code in (400, 401):
                raise NotConnected(f"QuickBooks refused the saved sign-in (expired or revoked). {RECONNECT}") from exc
            raise QuickBooksError(f"QuickBooks sign-in service answered {exc.status_code}; try again later.") from exc
        except (requests.RequestException, ValueError) as exc:
            raise QuickBooksError(f"Could not reach QuickBooks: {exc}") from exc
        _remember(self.directory, self.tokens, self.auth)  # the old refresh token is now spent

    def call(self, operation: Callable[[QuickBooks], T], name: str = "") -> T:
        for attempt in (1, 2):
            try:
                result = operation(self.qb)
            except AuthorizationException as exc:
                if attempt == 2:
                    raise NotConnected(f"QuickBooks refused the sign-in even after renewing it. {RECONNECT}") from exc
                self.refresh()
                self.qb = self._client()
                continue
            except QuickbooksException as exc:
                raise QuickBooksError(plain_fault(exc, name)) from exc
            except requests.RequestException as exc:
                raise QuickBooksError(f"Could not reach QuickBooks: {exc}") from exc
            self.tokens["last_success"] = clock.stamp(clock.now())
            save_tokens(self.directory, self.tokens)
            return result
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ customers
    def find_customer(self, name: str, email: str | None) -> Customer | None:
        """An existing customer (active or not) with this display name, else with this email."""
        clauses = [f"DisplayName = '{_quote(name)}'"]
        if email:
            clauses.append(f"PrimaryEmailAddr = '{_quote(email)}'")
        for clause in clauses:
            query = f"SELECT * FROM Customer WHERE {clause} AND Active IN (true, false)"

            def search(qb: QuickBooks, q: str = query) -> list[Customer]:
                return list(Customer.query(q, qb=qb))

            found = self.call(search, name)
            if found:
                return found[0]
        return None

    def create_customer(self, fields: dict[str, Any], request_id: str) -> Customer:
        customer = Customer()
        customer.DisplayName = fields["name"]
        customer.GivenName = fields.get("given_name") or ""
        customer.FamilyName = fields.get("family_name") or ""
        customer.CompanyName = fields.get("company") or ""
        if fields.get("email"):
            customer.PrimaryEmailAddr = EmailAddress()
            customer.PrimaryEmailAddr.Address = fields["email"]
        if fields.get("phone"):
            customer.PrimaryPhone = PhoneNumber()
            customer.PrimaryPhone.FreeFormNumber = fields["phone"]
        if fields.get("address"):
            customer.BillAddr = Address()
            customer.BillAddr.Line1 = fields["address"]

        def save(qb: QuickBooks) -> Customer:
            # the request id makes a retried create return the first result instead of a second customer
            customer.save(qb=qb, request_id=request_id)
            return customer

        return self.call(save, fields["name"])


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def plain_fault(exc: QuickbooksException, name: str) -> str:
    template = FAULTS.get(int(exc.error_code or 0)) if str(exc.error_code or "").isdigit() else None
    detail = (exc.detail or exc.message or "").strip()
    if template:
        return template.format(name=name or "that name", detail=detail)
    return f"QuickBooks refused it ({exc.error_code}): {exc.message}" + (f" — {detail}" if detail else "")
