"""Writing a plan into the book in one transaction, and the rejected rows the owner can fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from backoffice.tools.book.datafiles import private_dir
from backoffice.tools.book.normalize import fold
from backoffice.tools.book.store import Store
from backoffice.tools.bulk.importer.plan import Plan, Progress, plan_import, stale_lines
from backoffice.tools.bulk.tabular import write_csv
from backoffice.tools.errors import BadInput, InvalidRecord


# ---------------------------------------------------------------------------- writing
@dataclass
class Result:
    created_contacts: list[str] = field(default_factory=list)
    updated_contacts: list[str] = field(default_factory=list)
    created_companies: list[str] = field(default_factory=list)
    created_leads: list[str] = field(default_factory=list)
    updated_leads: list[str] = field(default_factory=list)
    done_meanwhile: list[int] = field(default_factory=list)  # lines another writer brought in first

    def summary(self) -> dict[str, int]:
        return {
            "contacts created": len(self.created_contacts),
            "contacts updated": len(self.updated_contacts),
            "companies created": len(self.created_companies),
            "leads created": len(self.created_leads),
            "leads updated": len(self.updated_leads),
        }


def apply_plan(store: Store, approved: Plan, on_row: Progress = None) -> Result:
    """Write the plan in one transaction. Any failure (a record the store refuses, a crash) rolls
    the whole import back: the book is as it was.

    The plan the owner approved was made before the write lock was taken, so the book may have
    changed since (another import, the chat, the daemon). It is made again inside the transaction
    and only that fresh plan is written: a row someone else brought in meanwhile is skipped, an
    update fills what is empty *now* (never overwriting what arrived meanwhile), and if any row
    would now write something other than what was shown, nothing is written and the owner is
    asked to look at the new plan."""
    result = Result()
    company_ids: dict[str, str] = {}
    planned_ids: dict[int, str] = {}
    with store.acting_as("import"), store.transaction():
        plan = plan_import(store, approved.source, approved.policy, approved.per_line)
        changed, result.done_meanwhile = stale_lines(approved, plan)
        if changed:
            raise BadInput(
                "The book changed after the import plan was shown, so nothing was imported",
                [*changed[:5], *([f"and {len(changed) - 5} more rows"] if len(changed) > 5 else [])]
                + ["run the same command again to see the plan as it stands now"],
            )
        with store.reading():
            company_ids = {fold(c["name"]): c["company_id"] for c in store.scan("companies")}

        def company(key: str | None) -> str | None:
            if not key:
                return None
            if key not in company_ids:
                status = "active_customer" if key in plan.customer_companies else "prospect"
                fields = {"name": plan.new_companies[key], "type": "business", "status": status}
                doc = store.insert("companies", fields, action="imported")
                company_ids[key] = doc["company_id"]
                result.created_companies.append(doc["company_id"])
            return company_ids[key]

        for n, step in enumerate(plan.steps, start=1):
            if on_row:
                on_row(n)
            if step.action not in ("create", "update"):
                continue
            cand = step.candidate
            assert cand is not None
            try:
                if not cand.contact:
                    company(step.company_key)
                    continue
                if step.new_contact:
                    doc = store.insert(
                        "contacts", {**cand.contact, "company_id": company(step.company_key)}, action="imported"
                    )
                    assert step.planned is not None
                    planned_ids[step.planned] = doc["contact_id"]
                    result.created_contacts.append(doc["contact_id"])
                    contact_id = doc["contact_id"]
                elif step.planned is not None:
                    contact_id = planned_ids[step.planned]
                else:
                    assert step.contact_id is not None
                    contact_id = step.contact_id
                    if step.contact_changes:
                        changes = dict(step.contact_changes)
                        if "company_id" in changes:
                            changes["company_id"] = company(step.company_key)
                        store.update("contacts", contact_id, changes, action="imported")
                        result.updated_contacts.append(contact_id)
                if step.new_lead and cand.lead is not None:
                    contact = store.require("contacts", contact_id)
                    fields = {**cand.lead, "contact_id": contact_id, "company_id": contact.get("company_id")}
                    lead = store.insert("leads", fields, action="imported")
                    result.created_leads.append(lead["lead_id"])
                if step.lead_changes and step.lead_id:
                    store.update("leads", step.lead_id, step.lead_changes, action="imported")
                    result.updated_leads.append(step.lead_id)
            except InvalidRecord as exc:
                raise BadInput(f"The import stopped at line {step.line} and wrote nothing", exc.problems) from exc
    return result


def rejected_rows_csv(plan: Plan) -> tuple[list[str], list[list[str]]]:
    """The rejected rows as they were, with the line and the reason, to fix and import again."""
    header = [*plan.source.table.header, "import_line", "import_problem"]
    rows = []
    width = len(plan.source.table.header)
    for step in plan.rejected:
        values = list(step.candidate.values if step.candidate else [])
        values = (
            (values + [""] * width)[:width]
            if len(values) <= width
            else values[: width - 1] + [plan.source.table.delimiter.join(values[width - 1 :])]
        )
        rows.append([*values, str(step.line), step.detail])
    return header, rows


def write_rejected(store: Store, plan: Plan) -> Path | None:
    """The rejected rows next to the input file (or in the data dir when that folder is read-only)."""
    if not plan.rejected:
        return None
    header, rows = rejected_rows_csv(plan)
    source = plan.source.table.path
    name = f"{source.stem}.rejected.csv"
    for folder in (source.parent, store.directory / "imports"):
        try:
            private_dir(folder)
            write_csv(folder / name, header, rows)
            return folder / name
        except OSError:
            continue
    return None
