"""Which mailer delivers an approved message: the one the services name, else Gmail when it is
connected, else the outbox folder (and the owner is told the message was not sent)."""

from __future__ import annotations

from backoffice.tools.book.store import Store
from backoffice.tools.mail import gmail_account
from backoffice.tools.mail.outbox import Mailer, OutboxMailer


def mailer_for(store: Store) -> Mailer:
    if store.services.mailer is not None:
        return store.services.mailer(store.directory)
    if gmail_account.connected(store.directory):
        from backoffice.tools.mail.gmail import GmailMailer  # Google's client libraries load only to send

        return GmailMailer(store.directory, store.services.gmail_http, store.services.gmail_sleep)
    return OutboxMailer(store.directory / "outbox")
