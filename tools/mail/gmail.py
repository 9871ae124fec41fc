"""Gmail: the owner's mailbox as the inbox and the outbox (google-api-python-client).

Connecting is the installed-app OAuth flow (``backoffice gmail auth --client-secrets FILE``). The
token and the read state are kept as ``gmail_account`` describes; the token is saved again
whenever the library refreshes it.

Every API call goes through ``_execute``: a refused or revoked sign-in becomes ``NotConnected``
(nothing was done; an approved send stays waiting), other API errors a plain message.

Tests pass googleapiclient's ``HttpMockSequence`` in as the HTTP object (``Services.gmail_http``);
the discovery document ships with the library, so nothing here needs the network unless a real
account is connected.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP
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
from backoffice.tools.errors import BackofficeError, GmailError, NotConnected, StoreCorrupt
from backoffice.tools.mail.gmail_account import SCOPES, load_state, save_state, token_path
from backoffice.tools.mail.outbox import Delivery

log = logging.getLogger("backoffice.gmail")

FIRST_LOOK = "newer_than:2d"  # the first poll reads only recent mail, not years of history
MAX_PAGES = 5
SEEN_KEPT = 5000

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
    def __init__(self, directory: Path, http: HttpFactory | None = None):
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

    def _execute(self, request: Any) -> Any:
        try:
            return request.execute()
        except RefreshError as exc:
            raise NotConnected(f"Gmail refused the saved sign-in (expired or revoked). {RECONNECT}") from exc
        except GoogleAuthError as exc:
            raise NotConnected(f"Gmail sign-in failed: {exc}. {RECONNECT}") from exc
        except HttpError as exc:
            if exc.status_code == 401:
                raise NotConnected(f"Gmail refused the saved sign-in. {RECONNECT}") from exc
            reason = exc.reason or exc.error_details or ""
            raise GmailError(f"Gmail answered {exc.status_code}: {reason}".rstrip(": ")) from exc
        except (OSError, httplib2.HttpLib2Error) as exc:
            raise GmailError(f"Could not reach Gmail: {exc}") from exc
        finally:
            if self.creds.token != self._token:  # refreshed: keep the new token
                save_credentials(self.directory, self.creds)
                self._token = self.creds.token

    def profile(self) -> dict[str, Any]:
        return dict(self._execute(self.api.users().getProfile(userId="me")))

    def sent_already(self, message_id: str) -> str | None:
        """The Gmail id of a message with this Message-ID already in the mailbox (a send that went
        out before a crash or timeout), else None."""
        found = self._execute(self.api.users().messages().list(userId="me", q=f"rfc822msgid:{message_id}"))
        messages = found.get("messages") or []
        return str(messages[0]["id"]) if messages else None

    def send(self, message: EmailMessage, thread_id: str | None = None) -> dict[str, Any]:
        raw = base64.urlsafe_b64encode(message.as_bytes(policy=SMTP)).decode("ascii")
        body: dict[str, Any] = {"raw": raw}
        if thread_id:
            body["threadId"] = thread_id
        return dict(self._execute(self.api.users().messages().send(userId="me", body=body)))

    def list_new(self, query: str) -> list[dict[str, str]]:
        found: list[dict[str, str]] = []
        token = None
        for _ in range(MAX_PAGES):
            page = self._execute(
                self.api.users().messages().list(userId="me", q=query, maxResults=100, pageToken=token)
            )
            found.extend(page.get("messages") or [])
            token = page.get("nextPageToken")
            if not token:
                break
        return found

    def raw(self, gmail_id: str) -> tuple[bytes, str | None]:
        got = self._execute(self.api.users().messages().get(userId="me", id=gmail_id, format="raw"))
        return base64.urlsafe_b64decode(got["raw"].encode("ascii")), got.get("threadId")


# ---------------------------------------------------------------------------- sending
class GmailMailer:
    """Approved messages leave through the owner's Gmail, in the customer's thread when replying."""

    connected = True

    def __init__(self, directory: Path, http: HttpFactory | None = None):
        self.directory, self.http = directory, http

    def send(self, message: EmailMessage, thread_id: str | None = None) -> Delivery:
        gmail = Gmail(self.directory, self.http)
        earlier = gmail.sent_already(str(message["Message-ID"]))
        if earlier:
            return Delivery(sent=True, where=earlier, note="It had already gone out; not sent again.")
        result = gmail.send(message, thread_id)
        state = load_state(self.directory)
        state["last_send"] = clock.stamp(clock.now())
        save_state(self.directory, state)
        return Delivery(sent=True, where=str(result.get("id")), note="Sent through Gmail.")


# ---------------------------------------------------------------------------- reading
def poll(
    directory: Path, handle: Callable[[bytes, str | None], str], http: HttpFactory | None = None
) -> dict[str, int]:
    """Read new inbox mail and hand each message to ``handle`` (raw bytes, Gmail thread id), which
    returns an outcome word. A message is remembered as read only after ``handle`` returned, so a
    crash part-way re-reads it next time (and the Message-ID check makes that harmless)."""
    gmail = Gmail(directory, http)
    state = load_state(directory)
    started = clock.now()
    if state.get("last_check"):
        since = int(clock.parse_stamp(state["last_check"]).timestamp()) - 3600  # overlap: clocks drift
        query = f"in:inbox after:{since}"
    else:
        query = f"in:inbox {FIRST_LOOK}"
    seen = list(state.get("seen") or [])
    known = set(seen)
    counts: dict[str, int] = {}
    try:
        for item in gmail.list_new(query):
            if item["id"] in known:
                continue
            raw, thread = gmail.raw(item["id"])
            outcome = handle(raw, thread or item.get("threadId"))
            counts[outcome] = counts.get(outcome, 0) + 1
            seen.append(item["id"])
            known.add(item["id"])
    except BackofficeError as exc:
        state.update(last_error=str(exc), last_error_at=clock.stamp(started), seen=seen[-SEEN_KEPT:])
        save_state(directory, state)
        raise
    state.update(last_check=clock.stamp(started), last_success=clock.stamp(started), seen=seen[-SEEN_KEPT:])
    state.pop("last_error", None)
    save_state(directory, state)
    return counts


def connect(directory: Path, client_secrets: Path, open_browser: bool = True) -> str:
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
    creds = flow.run_local_server(port=0, open_browser=open_browser)
    save_credentials(directory, creds)
    address = str(Gmail(directory).profile().get("emailAddress", ""))
    state = load_state(directory)
    state.update(email=address, connected_at=clock.stamp(clock.now()))
    save_state(directory, state)
    return address
