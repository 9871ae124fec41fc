"""Companies: businesses the owner works for (a homeowner needs none)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from backoffice.tools.book.models import CompanyStatus, CompanyType
from backoffice.tools.book.normalize import phone_e164
from backoffice.tools.book.store import Store
from backoffice.tools.registry import ToolInput, tool


class CreateCompanyInput(ToolInput):
    name: str = Field(min_length=1)
    type: CompanyType = "business"
    main_phone: str | None = None
    billing_address: str | None = None
    primary_contact_id: str | None = None
    status: CompanyStatus = "prospect"
    notes: str = ""


@tool("write")
def create_company(store: Store, args: CreateCompanyInput) -> dict[str, Any]:
    """Add a company (a business customer, as opposed to a homeowner). A company with the same name
    ("Smith & Sons" equals "Smith and Sons") is returned instead of creating a second one."""
    with store.transaction():
        existing = store.companies_named(args.name)
        if existing:
            return {
                "created": False,
                "company": existing[0],
                "message": f"{existing[0]['name']} is already in the book.",
            }
        fields = args.model_dump()
        if args.main_phone:
            fields["main_phone"] = phone_e164(args.main_phone, store.settings.default_phone_region) or args.main_phone
        if args.primary_contact_id:
            store.require("contacts", args.primary_contact_id)
        company = store.insert("companies", fields)
        if args.primary_contact_id:
            store.update("contacts", args.primary_contact_id, {"company_id": company["company_id"]})
    return {
        "created": True,
        "company": company,
        "message": f"Added company {company['name']} ({company['company_id']}).",
    }


class UpdateCompanyInput(ToolInput):
    company_id: str
    name: str | None = None
    type: CompanyType | None = None
    main_phone: str | None = None
    billing_address: str | None = None
    primary_contact_id: str | None = None
    status: CompanyStatus | None = None
    notes: str | None = None


@tool("write")
def update_company(store: Store, args: UpdateCompanyInput) -> dict[str, Any]:
    """Change a company's details."""
    changes = {k: v for k, v in args.model_dump(exclude={"company_id"}).items() if v is not None}
    if "main_phone" in changes:
        changes["main_phone"] = (
            phone_e164(changes["main_phone"], store.settings.default_phone_region) or changes["main_phone"]
        )
    with store.transaction():
        if args.primary_contact_id:
            store.require("contacts", args.primary_contact_id)
        company = store.update("companies", args.company_id, changes)
    return {"company": company, "message": f"Updated {company['name']}."}
