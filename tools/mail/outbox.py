"""Where approved customer messages go.

A ``Mailer`` delivers an ``EmailMessage``. Until a mail account is connected the ``OutboxMailer``
is used: each message is written to ``<data dir>/outbox/`` as an .eml file the owner can open and
send from any mail program, and the owner is told it was *not* sent. ``mailers.mailer_for`` picks
the one to use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Protocol

from backoffice.tools.book.datafiles import private_dir
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
            private_dir(self.directory)
            atomic_write_bytes(path, message.as_bytes(policy=SMTP))
        return Delivery(
            sent=False,
            where=str(path),
            note=f"Not sent: no mail account is connected. The message is saved in {path} — send it from your "
            "own mail program, or connect Gmail so approved messages go out by themselves.",
        )
