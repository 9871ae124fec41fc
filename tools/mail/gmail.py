"""Gmail: the owner's mailbox as the inbox and the outbox (google-api-python-client).

Connecting is the installed-app OAuth flow (``backoffice gmail auth --client-secrets FILE``). The
token and the read state are kept as ``gmail_account`` describes; the token is saved again
whenever the library refreshes it.

Every API call goes through ``_execute``: a refused or revoked sign-in becomes ``NotConnected``
(nothing was done; an approved send stays waiting), other API errors a plain message. Reads are
retried on rate limits and server errors (googleapiclient's ``num_retries``, exponential back-off);
a send is never retried blindly: whether it went out is asked first (``sent_already``).

Reading is a sync, not a search: the first poll reads the last two days of the inbox and keeps
Gmail's ``historyId``; every later poll asks ``users.history.list`` for what arrived since then,
page after page, so mail the owner archived between polls, or a week of mail after downtime, is
still read. When Gmail no longer has that history (404, about a week) a full sync lists the inbox
since the last good poll. The history id is saved only once every message up to it was handled,
so a crash or restart reads from where the last complete poll ended.

Tests pass googleapiclient's ``HttpMockSequence`` in as the HTTP object (``Services.gmail_http``);
the discovery document ships with the library, so nothing here needs the network unless a real
account is connected.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import httplib2
from google.auth.exceptions import GoogleAuthError, RefreshError
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from backoffice.tools.book import clock
from backoffice.tools.book.datafiles import private_dir, read_object
from backoffice.tools.book.storage import atomic_write_bytes
from backoffice.tools.errors import GmailError, NotConnected, StoreCorrupt, StoreError
from backoffice.tools.mail.gmail_account import SCOPES, load_state, save_state, token_path
from backoffice.tools.mail.outbox import Delivery

log = logging.getLogger("backoffice.gmail")

FIRST_LOOK = "newer_than:2d"  # the first poll reads only recent mail, not years of history
SEEN_KEPT = 5000
FAILED_KEPT = 200
READ_RETRIES = 5  # a read rate-limited or answered 5xx is tried again up to this many times
SKIPPED_LABELS = {"DRAFT", "SENT", "SPAM", "TRASH", "CHAT"}  # added to the mailbox, but not mail to read

HttpFactory = Callable[[], Any]


def default_http() -> Any:
    return httplib2.Http(timeout=30)


RECONNECT = "Run `backoffice gmail auth --client-secrets FILE` to connect again; nothing was lost."


# ---------------------------------------------------------------------------- storage
def save_credentials(directory: Path, creds: Credentials) -> None:
    private_dir(directory)
    atomic_write_bytes(token_path(directory), creds.to_json().encode("utf-8"), mode=0o600)


# ---------------------------------------------------------------------------- the client
class Gmail:
    def __init__(self, directory: Path, http: HttpFactory | None = None, sleep: Callable[[float], None] | None = None):
        path = token_path(directory)
        if not path.exists():
            raise NotConnected(f"Gmail is not connected. {RECONNECT.split(';')[0]}.")
        try:
            info = read_object(path, "the Gmail sign-in")
            self.creds = Credentials.from_authorized_user_info(info or {}, SCOPES)
        except StoreCorrupt as exc:
            raise NotConnected(f"The saved Gmail sign-in is damaged: {exc} {RECONNECT}") from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # the right JSON, the wrong fields
            raise NotConnected(
                f"The saved Gmail sign-in in {path} is damaged ({exc}); it was left as it is. {RECONNECT}"
            ) from exc
        self.directory = directory
        self._token = self.creds.token
        self.http = AuthorizedHttp(self.creds, http=(http or default_http)())
        self.api = build("gmail", "v1", http=self.http, cache_discovery=False)
        self.sleep = sleep or time.sleep

    def _read(self, request: Any) -> Any:
        """A read: safe to repeat, so rate limits (429, 403 rateLimitExceeded) and 5xx are retried."""
        request._sleep = self.sleep  # googleapiclient's own back-off, waiting through the injected sleep
        return self._execute(request, READ_RETRIES)

    def _execute(self, request: Any, retries: int = 0) -> Any:
        try:
            return request.execute(num_retries=retries)
        except RefreshError as exc:
            raise NotConnected(f"Gmail refused the saved sign-in (expired or revoked). {RECONNECT}") from exc
        except GoogleAuthError as exc:
            raise NotConnected(f"Gmail sign-in failed: {exc}. {RECONNECT}") from exc
        except HttpError as exc:
            if exc.status_code == 401:
                raise NotConnected(f"Gmail refused the saved sign-in. {RECONNECT}") from exc
            if exc.status_code == 404 and "history" in str(getattr(exc, "uri", "")):
                raise HistoryExpired("Gmail no longer has the mailbox history since the last poll") from exc
            reason = exc.reason or exc.error_details or ""
            raise GmailError(f"Gmail answered {exc.status_code}: {reason}".rstrip(": ")) from exc
        except (OSError, httplib2.HttpLib2Error) as exc:
            raise GmailError(f"Could not reach Gmail: {exc}") from exc
        finally:
            if self.creds.token != self._token:  # refreshed: keep the new token
                save_credentials(self.directory, self.creds)
                self._token = self.creds.token

    def profile(self) -> dict[str, Any]:
        return dict(self._read(self.api.users().getProfile(userId="me")))

    def sent_already(self, message_id: str, to: str | None = None) -> str | None:
        """The Gmail id of a message we sent with this id already (a send that went out before a crash
        or timeout), else None. Gmail may replace a Message-ID set by the sender, so when searching by
        it (``rfc822msgid:``) finds nothing, the recent sent mail to the same address is checked for
        our own ``X-Backoffice-Id`` header, which Gmail leaves alone."""
        found = self._read(self.api.users().messages().list(userId="me", q=f"rfc822msgid:{message_id}"))
        messages = found.get("messages") or []
        if messages:
            return str(messages[0]["id"])
        if not to:
            return None
        recent = self._read(
            self.api.users().messages().list(userId="me", q=f"in:sent to:{to} newer_than:2d", maxResults=20)
        )
        for item in recent.get("messages") or []:
            got = self._read(
                self.api.users()
                .messages()
                .get(userId="me", id=item["id"], format="metadata", metadataHeaders=["X-Backoffice-Id"])
            )
            headers = (got.get("payload") or {}).get("headers") or []
            if any(h.get("name", "").lower() == "x-backoffice-id" and h.get("value") == message_id for h in headers):
                return str(item["id"])
        return None

    def send(self, message: EmailMessage, thread_id: str | None = None) -> dict[str, Any]:
        raw = base64.urlsafe_b64encode(message.as_bytes(policy=SMTP)).decode("ascii")
        body: dict[str, Any] = {"raw": raw}
        if thread_id:
            body["threadId"] = thread_id
        return dict(self._execute(self.api.users().messages().send(userId="me", body=body)))

    def list_all(self, query: str) -> list[dict[str, str]]:
        """Every message matching ``query``, however many pages."""
        found: list[dict[str, str]] = []
        token = None
        while True:
            page = self._read(self.api.users().messages().list(userId="me", q=query, maxResults=500, pageToken=token))
            found.extend(page.get("messages") or [])
            token = page.get("nextPageToken")
            if not token:
                return found

    def history_since(self, history_id: str) -> tuple[list[dict[str, str]], str]:
        """Messages added since ``history_id`` (every page) and the history id they reach;
        ``HistoryExpired`` when Gmail no longer keeps that far back."""
        found: dict[str, dict[str, str]] = {}
        token, newest = None, history_id
        while True:
            page = self._read(
                self.api.users()
                .history()
                .list(userId="me", startHistoryId=history_id, historyTypes=["messageAdded"], pageToken=token)
            )
            for record in page.get("history") or []:
                for added in record.get("messagesAdded") or []:
                    message = added.get("message") or {}
                    if message.get("id") and not SKIPPED_LABELS & set(message.get("labelIds") or []):
                        found.setdefault(message["id"], message)
            newest = str(page.get("historyId") or newest)
            token = page.get("nextPageToken")
            if not token:
                return list(found.values()), newest

    def raw(self, gmail_id: str) -> tuple[bytes, str | None]:
        got = self._read(self.api.users().messages().get(userId="me", id=gmail_id, format="raw"))
        return base64.urlsafe_b64decode(got["raw"].encode("ascii")), got.get("threadId")


class HistoryExpired(GmailError):
    pass


# ---------------------------------------------------------------------------- sending
class GmailMailer:
    """Approved messages leave through the owner's Gmail, in the customer's thread when replying."""

    connected = True

    def __init__(self, directory: Path, http: HttpFactory | None = None, sleep: Callable[[float], None] | None = None):
        self.directory, self.http, self.sleep = directory, http, sleep

    def send(self, message: EmailMessage, thread_id: str | None = None) -> Delivery:
        gmail = Gmail(self.directory, self.http, self.sleep)
        to = getaddresses([str(message["To"] or "")])
        earlier = gmail.sent_already(str(message["Message-ID"]), to[0][1] if to else None)
        if earlier:
            return Delivery(sent=True, where=earlier, note="It had already gone out; not sent again.")
        result = gmail.send(message, thread_id)
        state = load_state(self.directory)
        state["last_send"] = clock.stamp(clock.now())
        save_state(self.directory, state)
        return Delivery(sent=True, where=str(result.get("id")), note="Sent through Gmail.")


# ---------------------------------------------------------------------------- reading
Handler = Callable[[bytes, "str | None", str], str]


def poll(
    directory: Path,
    handle: Handler,
    http: HttpFactory | None = None,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, int]:
    """Read new mail and hand each message to ``handle`` (raw bytes, Gmail thread id, Gmail id),
    which returns an outcome word ("failed" and "error" are set aside by the handler and counted
    here). A message is remembered as read only after ``handle`` returned, so a crash part-way
    re-reads it next time (and the Message-ID check makes that harmless)."""
    gmail = Gmail(directory, http, sleep)
    state = load_state(directory)
    started = clock.now()
    seen = list(state.get("seen") or [])
    known = set(seen)
    counts: dict[str, int] = {}
    try:
        items, history_id, how = _to_read(gmail, state)
        for item in items:
            if item["id"] in known:
                continue
            raw, thread = gmail.raw(item["id"])
            outcome = handle(raw, thread or item.get("threadId"), item["id"])
            counts[outcome] = counts.get(outcome, 0) + 1
            if outcome in ("failed", "error"):
                failed = list(state.get("failed") or [])
                failed.append({"id": item["id"], "at": clock.stamp(started), "outcome": outcome})
                state["failed"] = failed[-FAILED_KEPT:]
                state["failed_total"] = int(state.get("failed_total") or 0) + 1
            seen.append(item["id"])
            known.add(item["id"])
    except (GmailError, NotConnected, StoreError) as exc:
        state.update(last_error=str(exc), last_error_at=clock.stamp(started), seen=seen[-SEEN_KEPT:])
        save_state(directory, state)
        raise
    state.update(
        history_id=history_id,
        sync=how,
        last_check=clock.stamp(started),
        last_success=clock.stamp(started),
        seen=seen[-SEEN_KEPT:],
    )
    if counts.get("failed") or counts.get("error"):
        state["last_failed_at"] = clock.stamp(started)
    state.pop("last_error", None)
    save_state(directory, state)
    return counts


def _to_read(gmail: Gmail, state: dict[str, Any]) -> tuple[list[dict[str, str]], str, str]:
    """What to read this time, the history id that reaches, and how it was found."""
    if state.get("history_id"):
        try:
            items, newest = gmail.history_since(str(state["history_id"]))
            return items, newest, "history"
        except HistoryExpired:
            log.warning("Gmail history expired; reading the inbox since the last good poll instead")
    # the history id is taken before listing: whatever arrives while the list is read comes next time
    newest = str(gmail.profile().get("historyId") or "")
    if state.get("last_success"):
        since = int(clock.parse_stamp(state["last_success"]).timestamp()) - 3600  # overlap: clocks drift
        return gmail.list_all(f"in:inbox after:{since}"), newest, "full"
    return gmail.list_all(f"in:inbox {FIRST_LOOK}"), newest, "first"


def connect(
    directory: Path, client_secrets: Path, open_browser: bool = True, port: int = 0, http: HttpFactory | None = None
) -> str:
    """The installed-app flow: a browser window asks the owner to allow access; returns the address."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    if not client_secrets.is_file():
        raise NotConnected(
            f"No such file: {client_secrets}. Download the OAuth client (type Desktop app) from the Google "
            "Cloud console and pass its path."
        )
    try:
        flow = InstalledAppFlow.from_client_secrets_file(str(client_secrets), SCOPES)
    except ValueError as exc:
        raise NotConnected(f"{client_secrets} is not a Google OAuth client file: {exc}") from exc
    creds = flow.run_local_server(port=port, open_browser=open_browser)
    save_credentials(directory, creds)
    address = str(Gmail(directory, http).profile().get("emailAddress", ""))
    state = load_state(directory)
    state.update(email=address, connected_at=clock.stamp(clock.now()))
    save_state(directory, state)
    return address
