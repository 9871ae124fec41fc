"""How backoffice reaches the outside world, passed in rather than looked up.

Production uses the defaults (Google's and Intuit's real addresses). Tests hand in fakes the way
httpx takes a transport: a scripted HTTP object for Gmail, a local Intuit for QuickBooks, a mailer
that records what it was given. No production code reads a test-only environment variable or a
module attribute a test patched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import anthropic

    from backoffice.tools.mail.outbox import Mailer


@dataclass
class Services:
    # makes the httplib2.Http-like object Gmail is reached through (HttpMockSequence in tests)
    gmail_http: Callable[[], Any] | None = None
    # how a retried Gmail read waits between tries (None: time.sleep; tests pass a recorder)
    gmail_sleep: Callable[[float], None] | None = None
    # Intuit's OpenID discovery document and Accounting API base (None: Intuit's own for the
    # environment the owner connected, sandbox or production)
    quickbooks_discovery_url: str | None = None
    quickbooks_api_url: str | None = None
    # where approved customer messages and emailed reports go (None: Gmail when connected, else the outbox)
    mailer: Callable[[Path], Mailer] | None = None
    # the Messages API client the Claude planner uses (None: built from ANTHROPIC_API_KEY when it is set)
    anthropic: anthropic.Anthropic | None = None
