"""schemas/*.json and the pydantic models in tools/models.py must agree, in both directions."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from backoffice.tools.book.models import RECORD_MODELS
from backoffice.tools.book.schemas import TABLES, problems, record_schema, schema_document

STAMP = "2026-11-20T15:00:00+00:00"


def _definition(table: str) -> dict[str, Any]:
    file, definition, *_ = TABLES[table]
    return schema_document(file)["$defs"][definition]


def _enum(prop: dict[str, Any]) -> set[Any] | None:
    return set(prop["enum"]) if "enum" in prop else None


def _model_enum(prop: dict[str, Any], defs: dict[str, Any]) -> set[Any] | None:
    options = prop.get("anyOf", [prop])
    values: set[Any] = set()
    found = False
    for option in options:
        if "$ref" in option:
            option = defs[option["$ref"].split("/")[-1]]
        if "enum" in option:
            values |= set(option["enum"])
            found = True
        elif "const" in option:
            values.add(option["const"])
            found = True
        elif option.get("type") == "null":
            values.add(None)
    return values if found else None


@pytest.mark.parametrize("table", sorted(RECORD_MODELS))
def test_model_and_schema_have_the_same_fields_required_and_enums(table: str):
    schema = _definition(table)
    model_schema = RECORD_MODELS[table].model_json_schema()
    defs = model_schema.get("$defs", {})
    assert set(schema["properties"]) == set(model_schema["properties"]), table
    assert set(schema["required"]) == set(model_schema.get("required", [])), table
    for field, prop in schema["properties"].items():
        expected = _enum(prop)
        if expected is not None:
            assert _model_enum(model_schema["properties"][field], defs) == expected, f"{table}.{field}"
    assert (schema["additionalProperties"] is True) == (RECORD_MODELS[table].model_config.get("extra") == "allow")


VALID = {
    "contacts": {
        "contact_id": "C-1",
        "first_name": "Dana",
        "phones": ["+15552017788"],
        "lifecycle_stage": "prospect",
        "created_at": STAMP,
        "updated_at": STAMP,
    },
    "companies": {
        "company_id": "CO-1",
        "name": "Smith & Sons",
        "type": "business",
        "status": "prospect",
        "created_at": STAMP,
        "updated_at": STAMP,
    },
    "leads": {
        "lead_id": "L-1",
        "title": "Leak",
        "source": "email",
        "status": "new",
        "pipeline_stage": "inquiry",
        "created_at": STAMP,
        "updated_at": STAMP,
        "anything_else": "kept",
    },
    "interactions": {
        "interaction_id": "I-1",
        "type": "phone_call",
        "timestamp": STAMP,
        "lead_id": "L-1",
        "outcome": "spoke",
        "follow_up_status": "pending",
        "follow_up_date": "2026-11-27",
        "created_at": STAMP,
        "updated_at": STAMP,
    },
    "opportunities": {
        "opportunity_id": "O-1",
        "name": "Water heater",
        "stage": "lost",
        "lost_reason": "price",
        "close_date": "2026-11-20",
        "created_at": STAMP,
        "updated_at": STAMP,
    },
    "qualifications": {
        "qualification_id": "Q-1",
        "lead_id": "L-1",
        "definition_version": 1,
        "answers": {"need": "new water heater", "budget": "confirmed"},
        "status": "complete",
        "outcome": "qualified",
        "effort_class": "gold",
        "completed_at": STAMP,
        "created_at": STAMP,
        "updated_at": STAMP,
    },
    "source_spend": {
        "spend_id": "SP-1",
        "source": "Google Ads",
        "month": "2026-11",
        "amount": 400,
        "created_at": STAMP,
        "updated_at": STAMP,
    },
}
INVALID = [
    ("contacts", {"first_name": "", "phones": []}, "needs at least a name"),
    ("contacts", {"lifecycle_stage": "lead"}, "lifecycle_stage"),
    ("contacts", {"preferred_channel": "fax"}, "preferred_channel"),
    ("companies", {"type": "llc"}, "type"),
    ("leads", {"status": "disqualified"}, "disqualification_reason"),
    ("leads", {"status": "converted"}, "converted_opportunity_id"),
    ("leads", {"source": "billboard"}, "source"),
    ("leads", {"estimated_value": -5}, "estimated_value"),
    ("interactions", {"lead_id": None}, "at least one of"),
    ("interactions", {"follow_up_date": None}, "follow_up_date"),
    ("interactions", {"outcome": "great"}, "outcome"),
    ("opportunities", {"lost_reason": None}, "lost_reason"),
    ("opportunities", {"stage": "Negotiating!"}, "stage"),  # the owner's own stages are names like negotiating
    ("opportunities", {"effort_class": "platinum"}, "effort_class"),
    ("leads", {"score": 101}, "score"),
    ("qualifications", {"completed_at": None}, "completed_at"),
    ("qualifications", {"outcome": "disqualified"}, "disqualification_reason"),
    ("qualifications", {"answers": {"need": ["a", "list"]}}, "answers"),
    ("source_spend", {"month": "2026-13"}, "month"),
    ("source_spend", {"amount": -400}, "amount"),
    ("opportunities", {"stage": "won", "close_date": None}, "close_date"),
]


@pytest.mark.parametrize("table", sorted(VALID))
def test_a_valid_record_passes_both(table: str):
    record = VALID[table]
    assert problems(table, record) == []
    RECORD_MODELS[table].model_validate(record)


@pytest.mark.parametrize("table, change, field", INVALID)
def test_an_invalid_record_fails_both(table: str, change: dict[str, Any], field: str):
    record = {**VALID[table], **change}
    found = problems(table, record)
    assert found and any(field in p for p in found), found
    with pytest.raises(ValidationError):
        RECORD_MODELS[table].model_validate(record)


def test_closed_records_refuse_unknown_fields_in_both():
    record = {**VALID["contacts"], "favourite_colour": "blue"}
    assert problems("contacts", record)
    with pytest.raises(ValidationError):
        RECORD_MODELS["contacts"].model_validate(record)


def test_schemas_are_2020_12():
    for file in ("crm.json", "opportunity.json"):
        assert schema_document(file)["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert record_schema("leads")["$ref"] == "#/$defs/lead"
