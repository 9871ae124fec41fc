"""Bringing a spreadsheet of contacts or leads into the book.

Three steps, so the owner sees everything before anything is written:

1. ``read_source``: read the file (encoding, delimiter, header row) and map its columns onto our
   fields (automatically from the header names other systems use, or as ``--map`` says).
2. ``plan_import``: turn every row into what would happen to it — create, update, skip (a
   duplicate, or imported before) or reject (with the reason) — matching each row against the
   book and against the rows above it by phone, email and name + company.
3. ``apply_plan``: write the whole plan in one transaction: every row or none.

Re-importing a file changes nothing: every created record carries an import key (the other
system's id, or a fingerprint of the row), and a row whose key is already in the book is skipped.
"""

from backoffice.tools.bulk.importer.apply import Result, apply_plan, rejected_rows_csv, write_rejected
from backoffice.tools.bulk.importer.log import file_digest, previewed, remember
from backoffice.tools.bulk.importer.plan import Plan, Step, fill_changes, plan_import
from backoffice.tools.bulk.importer.rows import Candidate, RowBuilder, tidy_name
from backoffice.tools.bulk.importer.source import Column, Source, parse_maps, read_source

__all__ = [
    "Candidate",
    "Column",
    "Plan",
    "Result",
    "RowBuilder",
    "Source",
    "Step",
    "apply_plan",
    "file_digest",
    "fill_changes",
    "parse_maps",
    "plan_import",
    "previewed",
    "read_source",
    "rejected_rows_csv",
    "remember",
    "tidy_name",
    "write_rejected",
]
