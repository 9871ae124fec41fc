from __future__ import annotations

import pytest

from backoffice.tools.book.store import Store
from backoffice.tools.crm.contacts import resolve_contact
from backoffice.tools.errors import Ambiguous, InvalidRecord

from .conftest import add_contact, call


@pytest.mark.parametrize(
    "first, second",
    [
        ("(555) 123-4567", "555.123.4567"),
        ("(555) 123-4567", "+1 555 123 4567"),
        ("555.123.4567", "+1 555 123 4567"),
    ],
)
def test_duplicate_phone_in_another_format_is_not_created_twice(store: Store, first: str, second: str):
    original = add_contact(store, name="Dana Reyes", phone=first)
    result = call(store, "create_contact", name="D. Reyes", phone=second)
    assert result["created"] is False
    assert result["duplicates"][0]["contact_id"] == original["contact_id"]
    assert result["duplicates"][0]["matched_by"] == "same phone"
    assert store.count("contacts") == 1


def test_duplicate_email_in_another_case_is_not_created_twice(store: Store):
    add_contact(store, email="dana@example.com")
    result = call(store, "create_contact", name="Dana R", email="Dana@Example.COM")
    assert result["created"] is False and result["duplicates"][0]["matched_by"] == "same email"
    assert "Dana Reyes (C-1)" in result["message"]
    assert store.count("contacts") == 1


def test_same_name_is_flagged_as_possible_duplicate(store: Store):
    add_contact(store, name="Dana Reyes", phone="555-201-7788")
    result = call(store, "create_contact", name="dana reyes")
    assert result["created"] is False and result["duplicates"][0]["matched_by"] == "same name"


def test_create_anyway_creates_a_separate_contact(store: Store):
    add_contact(store, phone="555-201-7788")
    result = call(store, "create_contact_anyway", name="Dana Reyes", phone="555-201-7788")
    assert result["created"] and result["contact"]["contact_id"] == "C-2"


def test_contact_stores_normalised_phone_and_email(store: Store):
    contact = add_contact(store, phone="(555) 201-7788", email="  Dana@ReyesPlumbing.COM ")
    raw = store.get("contacts", contact["contact_id"])
    assert raw["phones"] == ["+15552017788"] and raw["emails"] == ["Dana@reyesplumbing.com"]
    assert contact["phone"] == "(555) 201-7788"


def test_bad_phone_or_email_is_refused_with_a_message(store: Store):
    with pytest.raises(InvalidRecord, match="'not-an-email' is not an email address"):
        call(store, "create_contact", name="X", email="not-an-email")
    with pytest.raises(InvalidRecord, match="is not a phone number"):
        call(store, "create_contact", name="X", phone="12")
    assert store.count("contacts") == 0


def test_find_contacts_by_name_phone_and_email(store: Store):
    add_contact(store, name="Dana Reyes", phone="555-201-7788", email="dana@example.com")
    add_contact(store, name="Sam Lee", phone="555-444-1212")
    assert [c["name"] for c in call(store, "find_contacts", query="reyes")["contacts"]] == ["Dana Reyes"]
    assert [c["name"] for c in call(store, "find_contacts", query="Rey")["contacts"]] == ["Dana Reyes"]
    assert [c["name"] for c in call(store, "find_contacts", query="+1 (555) 444-1212")["contacts"]] == ["Sam Lee"]
    assert [c["name"] for c in call(store, "find_contacts", query="DANA@example.com")["contacts"]] == ["Dana Reyes"]
    assert call(store, "find_contacts", query="nobody")["contacts"] == []


def test_ambiguous_name_lists_the_candidates(store: Store):
    add_contact(store, name="Dana Reyes", phone="555-201-7788")
    call(store, "create_contact_anyway", name="Dana Reyes", phone="555-999-0000")
    with pytest.raises(Ambiguous) as err:
        resolve_contact(store, "Dana Reyes")
    assert "C-1" in str(err.value) and "C-2" in str(err.value)


def test_update_contact_keeps_old_phone_after_the_new_primary(store: Store):
    contact = add_contact(store, phone="555-201-7788")
    call(store, "update_contact", contact_id=contact["contact_id"], phone="555-000-1111", append_note="new cell")
    raw = store.get("contacts", contact["contact_id"])
    assert raw["phones"] == ["+15550001111", "+15552017788"]
    assert raw["notes"].endswith("new cell")


def test_company_names_match_across_ampersand_and_and(store: Store):
    call(store, "create_company", name="Smith & Sons")
    again = call(store, "create_company", name="Smith and Sons")
    assert again["created"] is False and store.count("companies") == 1


def test_a_mistyped_name_or_a_street_finds_the_contact(store: Store):
    add_contact(store, name="Dana Reyes", phone="555-201-7788", address="14 Oak St")
    add_contact(store, name="Sam Oakes", phone="555-301-2222", address="9 Elm St")
    add_contact(store, name="Priya Shah", phone="555-401-3333")
    assert [d["first_name"] for _, d in store.contacts_like("Dana Reys")][:1] == ["Dana"]
    found = {d["first_name"]: score for score, d in store.contacts_like("oak")}
    assert set(found) == {"Dana", "Sam"} and found["Dana"] == 100  # by the street, and by the name
    assert store.contacts_like("Zebulon Quartermaine") == []
