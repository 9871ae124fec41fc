"""Where approved customer messages go.

A ``Mailer`` delivers an ``EmailMessage``. Until a mail account is connected the ``OutboxMailer``
is used: each message is written to ``<data dir>/outbox/`` as an .eml file the owner can open and
send from any mail program, and the owner is told it was *not* sent. A real account (Gmail) plugs
in through ``MAILER_FACTORIES``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Protocol

from backoffice.tools.book.storage import atomic_write_bytes


@dataclass(frozen=True)
class Delivery:
    sent: bool  # True only when the message actually left through a mail account
    where: str  # the outbox file, or the provider's message id
    note: str  # one sentence for the owner


class Mailer(Protocol):
    connected: bool  # True when messages really leave (a mail account), False for the outbox

    def send(self, message: EmailMessage, thread_id: str | None = None) -> Delivery: ...


class OutboxMailer:
    connected = False

    def __init__(self, directory: Path):
        self.directory = directory

    def send(self, message: EmailMessage, thread_id: str | None = None) -> Delivery:
        key = re.sub(r"[^A-Za-z0-9]+", "-", str(message["Message-ID"] or "message")).strip("-")
        path = self.directory / f"{key}.eml"
        if not path.exists():  # the same message id is never written twice
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, message.as_bytes(policy=SMTP))
        return Delivery(
            sent=False,
            where=str(path),
            note=f"Not sent: no mail account is connected. The message is saved in {path} — send it from your "
            "own mail program, or connect Gmail so approved messages go out by themselves.",
        )


# Each factory returns a connected mailer for the data dir, or None when that account is not set up.
MAILER_FACTORIES: list[Callable[[Path], Mailer | None]] = []


def mailer_for(data_dir: Path) -> Mailer:
    from backoffice.tools.mail import gmail  # noqa: F401  adds its factory on import

    for factory in MAILER_FACTORIES:
        mailer = factory(data_dir)
        if mailer is not None:
            return mailer
    return OutboxMailer(data_dir / "outbox")
