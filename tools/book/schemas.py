"""The JSON Schema documents in schemas/ and validation of records against them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError


def schema_names() -> list[str]:
    """The schema documents shipped with backoffice (``crm.json``, ``opportunity.json``)."""
    return sorted(p.name for p in files("backoffice.schemas").iterdir() if p.name.endswith(".json"))


# table -> (schema file, $defs entry, id field, id prefix, singular name for messages)
TABLES: dict[str, tuple[str, str, str, str, str]] = {
    "contacts": ("crm.json", "contact", "contact_id", "C", "contact"),
    "companies": ("crm.json", "company", "company_id", "CO", "company"),
    "leads": ("crm.json", "lead", "lead_id", "L", "lead"),
    "interactions": ("crm.json", "interaction", "interaction_id", "I", "interaction"),
    "opportunities": ("opportunity.json", "opportunity", "opportunity_id", "O", "opportunity"),
    "qualifications": ("crm.json", "qualification", "qualification_id", "Q", "qualification"),
    "source_spend": ("marketing.json", "source_spend", "spend_id", "SP", "source spend"),
}
LAYOUT: dict[str, tuple[str, ...]] = {
    "crm.json": ("contacts", "companies", "leads", "interactions", "qualifications"),
    "opportunity.json": ("opportunities",),
    "marketing.json": ("source_spend",),
}


@cache
def schema_document(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(files("backoffice.schemas").joinpath(name).read_text(encoding="utf-8"))
    return data


@cache
def record_schema(table: str) -> dict[str, Any]:
    file, definition, *_ = TABLES[table]
    doc = schema_document(file)
    return {"$schema": doc["$schema"], "$defs": doc["$defs"], "$ref": f"#/$defs/{definition}"}


@cache
def _validator(table: str) -> Draft202012Validator:
    # jsonschema is a tenth of a second to import: loaded by the first write, never by a read
    from jsonschema import Draft202012Validator, FormatChecker

    return Draft202012Validator(record_schema(table), format_checker=FormatChecker())


def _schema(error: ValidationError) -> Mapping[str, Any]:
    # jsonschema types it as a mapping, a boolean schema or unset; ours are always mappings
    return error.schema if isinstance(error.schema, Mapping) else {}


def _describe(error: ValidationError) -> str:
    field = ".".join(str(p) for p in error.absolute_path)
    schema = _schema(error)
    if error.validator == "required":
        return error.message.replace(" is a required property", " is required")
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field(s)")
    if error.validator == "anyOf" and schema.get("$comment"):
        return str(schema["$comment"])
    if error.validator in ("pattern", "format") and schema.get("description"):
        return f"{field} is {error.instance!r}; expected {schema['description']}"
    if error.validator == "enum" and isinstance(error.validator_value, list):
        allowed = ", ".join("null" if v is None else str(v) for v in error.validator_value)
        return f"{field} is {error.instance!r}; allowed: {allowed}"
    return f"{field}: {error.message}" if field else error.message


def problems(table: str, record: dict[str, Any]) -> list[str]:
    """Everything wrong with ``record`` for ``table``, as sentences naming the field."""
    validator = _validator(table)
    errors = list(validator.iter_errors(record))
    if not errors:
        return []
    from jsonschema.exceptions import best_match  # loaded with the validator

    found: list[str] = []
    for error in errors:
        if error.validator == "anyOf" and not _schema(error).get("$comment"):
            error = best_match([error]) or error
        text = _describe(error)
        if text not in found:
            found.append(text)
    return found
