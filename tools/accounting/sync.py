"""Accounting: a won customer goes into QuickBooks, once, with the owner's yes.

Search before create, always: a customer with the same display name (active or not) or the same
email is linked, not duplicated. The QuickBooks id is stored on the contact or company, and the
customer's won jobs are marked synced.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import Field, model_validator

from backoffice.tools.book.normalize import full_name, phone_display
from backoffice.tools.book.store import Store
from backoffice.tools.registry import ToolInput, tool


class QuickBooksCustomerInput(ToolInput):
    contact_id: str | None = Field(
        default=None, description="the won customer as a person, a contact id, like C-12; give this or company_id"
    )
    company_id: str | None = Field(
        default=None, description="the won customer as a company, a company id, like CO-1; give this or contact_id"
    )

    @model_validator(mode="after")
    def _one(self) -> QuickBooksCustomerInput:
        if bool(self.contact_id) == bool(self.company_id):
            raise ValueError("give exactly one of contact_id or company_id")
        return self


def sync_args(needed: dict[str, Any]) -> dict[str, Any]:
    """Arguments for ``create_quickbooks_customer`` from an entry of a won job's ``quickbooks_needed``."""
    return {k: needed[k] for k in ("contact_id", "company_id") if needed.get(k)}


def customer_fields(store: Store, args: QuickBooksCustomerInput) -> dict[str, Any]:
    """What QuickBooks will get: display name, names, email, phone, billing address."""
    if args.company_id:
        company = store.require("companies", args.company_id)
        primary = store.get("contacts", company["primary_contact_id"]) if company.get("primary_contact_id") else None
        return {
            "table": "companies",
            "id": company["company_id"],
            "record": company,
            "name": company["name"],
            "company": company["name"],
            "given_name": (primary or {}).get("first_name"),
            "family_name": (primary or {}).get("last_name"),
            "email": ((primary or {}).get("emails") or [None])[0],
            "phone": company.get("main_phone") or ((primary or {}).get("phones") or [None])[0],
            "address": company.get("billing_address") or (primary or {}).get("address"),
        }
    contact = store.require("contacts", args.contact_id or "")
    firm = store.get("companies", contact["company_id"]) if contact.get("company_id") else None
    return {
        "table": "contacts",
        "id": contact["contact_id"],
        "record": contact,
        "name": full_name(contact),
        "company": firm["name"] if firm else None,
        "given_name": contact.get("first_name"),
        "family_name": contact.get("last_name"),
        "email": (contact.get("emails") or [None])[0],
        "phone": (contact.get("phones") or [None])[0],
        "address": contact.get("address"),
    }


def _preview(store: Store, args: dict[str, Any]) -> tuple[str, str]:
    f = customer_fields(store, QuickBooksCustomerInput.model_validate(args))
    lines = [
        f"Customer: {f['name']}" + (f" ({f['company']})" if f["company"] and f["company"] != f["name"] else ""),
        f"Email: {f['email'] or '-'} · Phone: {f['phone'] or '-'} · Billing address: {f['address'] or '-'}",
        "QuickBooks is searched first by name and email: an existing customer is linked, not duplicated.",
    ]
    return f"Create {f['name']} in QuickBooks", "\n".join(lines)


def _connected(store: Store) -> str | None:
    """Why a QuickBooks customer cannot be created right now (no sign-in saved), or None."""
    from backoffice.tools.accounting.quickbooks import TOKEN  # the module loads the QuickBooks clients

    if (store.directory / TOKEN).exists():
        return None  # a sign-in Intuit has since refused is found when the call is made
    return "QuickBooks is not connected yet: connect it with `backoffice quickbooks auth`."


@tool("consequential", preview=_preview, ready=_connected, idempotent=True)  # QuickBooks is searched before creating
def create_quickbooks_customer(store: Store, args: QuickBooksCustomerInput) -> dict[str, Any]:
    """Put a won customer (a contact, or a company) into QuickBooks. Needs the owner's yes. Searches
    QuickBooks first by name and email and links an existing customer instead of creating a duplicate."""
    fields = customer_fields(store, args)
    record = fields["record"]
    if record.get("quickbooks_customer_id"):
        return {
            "already": True,
            "quickbooks_customer_id": record["quickbooks_customer_id"],
            "message": f"{fields['name']} is already linked to QuickBooks customer {record['quickbooks_customer_id']}.",
        }
    from backoffice.tools.accounting.quickbooks import (
        QuickBooksClient,  # here: the QuickBooks clients take a quarter second to import
    )

    client = QuickBooksClient(store.directory, store.services)
    found = client.find_customer(fields["name"], fields["email"])
    if found is not None:
        qb_id, verb = str(found.Id), f"Linked {fields['name']} to the existing QuickBooks customer"
    else:
        if fields["phone"]:
            fields["phone"] = phone_display(fields["phone"], store.settings.default_phone_region)
        request_id = hashlib.sha256(f"{store.directory}:{fields['id']}".encode()).hexdigest()[:32]
        created = client.create_customer(fields, request_id)
        qb_id, verb = str(created.Id), f"Created {fields['name']} in QuickBooks"
    with store.transaction():
        store.update(fields["table"], fields["id"], {"quickbooks_customer_id": qb_id}, action="quickbooks_linked")
        link = "company_id" if fields["table"] == "companies" else "contact_id"
        with store.reading():
            won = [
                o["opportunity_id"]
                for o in store.scan("opportunities")
                if o.get(link) == fields["id"] and o["stage"] == "won" and not o.get("quickbooks_synced")
            ]
        for job_id in won:
            store.update("opportunities", job_id, {"quickbooks_synced": True}, action="synced")
    return {
        "created": found is None,
        "quickbooks_customer_id": qb_id,
        "message": f"{verb} (QuickBooks id {qb_id}).",
    }
