"""Every error backoffice raises on purpose.

    BackofficeError                 base; the message is for the owner and says what to do
     ├── NotFound                   an id or name that matches nothing
     ├── Ambiguous                  a name that matches several records; lists them
     ├── InvalidRecord              a record breaks its schema (names record, field, problem)
     ├── BadInput                   a file, option or value that cannot be used; nothing was changed
     ├── IllegalTransition          a lead/opportunity state change the state machine forbids
     ├── MissingInformation         an action needs fields the record does not have yet
     ├── ToolArgumentError          a planner called an unknown tool, or with arguments it refuses
     ├── StoreError                 the book (its files or its database) cannot be read or written
     │    └── StoreCorrupt          a data file is damaged; it is left untouched
     ├── ConfigError                a setting is wrong
     │    └── ProcedureProblem      a procedure file is wrong (names the file and line)
     ├── PlannerUnavailable         Claude cannot be reached and nothing has run yet
     ├── NotConnected               Gmail or QuickBooks is not set up, or refused the saved sign-in
     └── ServiceError               Gmail or QuickBooks answered with an error
          ├── GmailError
          └── QuickBooksError

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


class BadInput(BackofficeError):
    """A file or an option that cannot be used. Nothing was changed."""

    def __init__(self, subject: str, problems: list[str]):
        self.subject = subject
        self.problems = problems
        super().__init__(f"{subject}: " + "; ".join(problems) + ". Nothing was changed.")


class IllegalTransition(BackofficeError):
    pass


class MissingInformation(BackofficeError):
    def __init__(self, message: str, missing: list[str]):
        super().__init__(message)
        self.missing = missing


class ToolArgumentError(BackofficeError):
    """A planner called a tool that does not exist, or with arguments its input model refuses."""


class StoreError(BackofficeError):
    pass


class StoreCorrupt(StoreError):
    pass


class ConfigError(BackofficeError):
    pass


class ProcedureProblem(ConfigError):
    """A procedure file that cannot be used, with the place to fix it."""

    def __init__(self, where: str, line: int, message: str):
        super().__init__(f"{where}:{line}: {message}")
        self.where, self.line, self.message = where, line, message


class PlannerUnavailable(BackofficeError):
    """The planner cannot be reached (no network, bad key, API down) and nothing has run yet."""


class NotConnected(BackofficeError):
    """An outside service (Gmail, QuickBooks) is not set up, or refused our credentials. Nothing was
    done; an approved action goes back to waiting so it can be approved again once connected."""


class ServiceError(BackofficeError):
    """An outside service answered with an error (not a sign-in problem)."""


class GmailError(ServiceError):
    pass


class QuickBooksError(ServiceError):
    pass
