"""Every error backoffice raises on purpose.

    BackofficeError                 base; the message is for the owner and says what to do
     ├── NotFound                   an id or name that matches nothing
     ├── Ambiguous                  a name that matches several records; lists them
     ├── InvalidRecord              a record breaks its schema (names record, field, problem)
     ├── IllegalTransition          a lead/opportunity state change the state machine forbids
     ├── MissingInformation         an action needs fields the record does not have yet
     ├── DuplicateFound             a create would duplicate an existing record
     ├── StoreError                 the data files cannot be read or written
     │    └── StoreCorrupt          a data file does not parse; it is left untouched
     ├── ConfigError                a setting or procedure file is wrong
     └── ApprovalRequired           a consequential action needs the owner's yes

Only the command line turns these into exit codes (1 for all of them).
"""

from __future__ import annotations

from typing import Any


class BackofficeError(Exception):
    """Base class. ``str(err)`` is a complete sentence for the owner."""


class NotFound(BackofficeError):
    pass


class Ambiguous(BackofficeError):
    def __init__(self, message: str, candidates: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.candidates = candidates or []


class InvalidRecord(BackofficeError):
    def __init__(self, record: str, problems: list[str]):
        self.record = record
        self.problems = problems
        super().__init__(f"{record} was not saved: " + "; ".join(problems))


class BadInput(InvalidRecord):
    """A file or an option that cannot be used. Nothing was changed."""

    def __init__(self, subject: str, problems: list[str]):
        self.record = subject
        self.problems = problems
        BackofficeError.__init__(self, f"{subject}: " + "; ".join(problems) + ". Nothing was changed.")


class IllegalTransition(BackofficeError):
    pass


class MissingInformation(BackofficeError):
    def __init__(self, message: str, missing: list[str]):
        super().__init__(message)
        self.missing = missing


class DuplicateFound(BackofficeError):
    def __init__(self, message: str, matches: list[dict[str, Any]]):
        super().__init__(message)
        self.matches = matches


class StoreError(BackofficeError):
    pass


class StoreCorrupt(StoreError):
    pass


class ConfigError(BackofficeError):
    pass


class ApprovalRequired(BackofficeError):
    pass


class ToolArgumentError(BackofficeError):
    """A planner called a tool that does not exist, or with arguments its input model refuses."""


class NotConnected(BackofficeError):
    """An outside service (Gmail, QuickBooks) is not set up, or refused our credentials. Nothing was
    done; an approved action goes back to waiting so it can be approved again once connected."""
