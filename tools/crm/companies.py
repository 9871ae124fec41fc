"""Companies: businesses the owner works for (a homeowner needs none)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from backoffice.tools.book.models import CompanyStatus, CompanyType
from backoffice.tools.book.normalize import phone_e164
from backoffice.tools.book.store import Store
from backoffice.tools.registry import ToolInput, tool


class CreateCompanyInput(ToolInput):
    name: str = Field(min_length=1, description="the business's name, e.g. 'Smith & Sons Property Management'")
    type: CompanyType = Field(default="business", description="business | individual | nonprofit | government | other")
    main_phone: str | None = Field(default=None, description="the company's main phone number, in any format")
    billing_address: str | None = Field(default=None, description="where invoices go")
    primary_contact_id: str | None = Field(
        default=None, description="the contact who speaks for the company, a contact id, like C-12"
    )
    status: CompanyStatus = Field(default="prospect", description="prospect | active_customer | inactive | archived")
    notes: str = Field(default="", description="free notes about the company")


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
    company_id: str = Field(description="a company id, like CO-1")
    name: str | None = Field(default=None, description="the new name")
    type: CompanyType | None = Field(default=None, description="business | individual | nonprofit | government | other")
    main_phone: str | None = Field(default=None, description="the new main phone number, any format")
    billing_address: str | None = Field(default=None, description="where invoices go")
    primary_contact_id: str | None = Field(
        default=None, description="the contact who speaks for the company, a contact id, like C-12"
    )
    status: CompanyStatus | None = Field(default=None, description="prospect | active_customer | inactive | archived")
    notes: str | None = Field(default=None, description="replaces the company's notes")


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
