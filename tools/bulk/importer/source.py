"""Reading an import file and deciding what each column means."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from backoffice.tools.bulk import mapping
from backoffice.tools.bulk.mapping import ADDRESS_PARTS, FIELDS, MULTI, Profile
from backoffice.tools.bulk.tabular import Table, read_table
from backoffice.tools.errors import BadInput

STAMP = "2000-01-01T00:00:00+00:00"  # placeholder timestamps for checking a record before it exists


# ---------------------------------------------------------------------------- reading and mapping
@dataclass
class Column:
    index: int
    header: str
    field: str | None  # None: ignored
    how: str  # "auto", "--map", or why it is ignored


@dataclass
class Source:
    table: Table
    profile: Profile
    columns: list[Column]
    kind: Literal["contacts", "leads"]
    every_row_a_lead: bool = True  # False: a contacts export with a lead-status column; only rows with a status

    def fields(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = defaultdict(list)
        for c in self.columns:
            if c.field:
                out[c.field].append(c.index)
        return out


def parse_maps(pairs: Sequence[str]) -> dict[str, str]:
    """``--map "Cell=mobile"`` options: column -> field ("" or "ignore" drops a column)."""
    out: dict[str, str] = {}
    problems = []
    for pair in pairs:
        column, sep, target = pair.partition("=")
        target = target.strip().lower() or "ignore"
        if not sep or not column.strip():
            problems.append(f"--map {pair!r} should look like COLUMN=FIELD")
        elif target not in FIELDS:
            problems.append(f"--map {pair!r}: {target!r} is not a field; fields: {', '.join(FIELDS)}")
        else:
            out[column.strip()] = target
    if problems:
        raise BadInput("Cannot use the column mapping", problems)
    return out


def read_source(path: Path, maps: dict[str, str] | None = None, kind: str | None = None) -> Source:
    table = read_table(path, mapping.header_score)
    for key, what in mapping.BACKOFFICE_OTHER_EXPORTS.items():
        if key in table.header:
            raise BadInput(
                f"Cannot import {path}",
                [f"is a backoffice export of {what}; import brings in contacts, companies and leads"],
            )
    profile = mapping.detect_profile(table.header)
    maps = dict(maps or {})
    by_key = {mapping.column_key(h): h for h in table.header}
    unknown = [c for c in maps if c not in table.header and mapping.column_key(c) not in by_key]
    if unknown:
        raise BadInput(
            "Cannot use the column mapping",
            [
                f"--map names column {c!r}, which the file does not have; its columns: {', '.join(table.header)}"
                for c in unknown
            ],
        )
    chosen = {by_key.get(mapping.column_key(c), c): f for c, f in maps.items()}
    columns: list[Column] = []
    taken: dict[str, str] = {}
    for i, header in enumerate(table.header):
        if not header:
            columns.append(Column(i, header, None, "no name"))
            continue
        target: str | None = chosen.get(header)
        how = "--map"
        if target is None:
            target, how = mapping.field_for(profile, header), "auto"
        if target is None:
            columns.append(Column(i, header, None, "not recognised"))
        elif target == "ignore":
            columns.append(Column(i, header, None, "ignored" if how == "auto" else "--map"))
        elif target not in MULTI and target not in ADDRESS_PARTS and target in taken and how == "auto":
            columns.append(Column(i, header, None, f"{target} already comes from {taken[target]!r}"))
        else:
            taken.setdefault(target, header)
            columns.append(Column(i, header, target, how))
    fields = {c.field for c in columns if c.field}
    every_row = kind is not None or profile.kind == "leads" or profile is mapping.GENERIC_PROFILE
    if kind is None:
        kind = (
            "leads"
            if profile.kind == "leads" or fields & {"status", "lead_title", "value", "description"}
            else "contacts"
        )
    if kind not in ("contacts", "leads"):
        raise BadInput("Cannot import", [f"--as {kind!r}: choose contacts or leads"])
    identity = {"first_name", "last_name", "name", "email", "email2", "phone", "mobile", "phone2", "company"}
    if not fields & identity:
        raise BadInput(
            f"Cannot import {path}",
            [
                "no column says who the rows are about (a name, phone, email or company); "
                f"columns: {', '.join(table.header)}. Use --map COLUMN=FIELD"
            ],
        )
    return Source(table, profile, columns, kind, every_row)  # type: ignore[arg-type]
