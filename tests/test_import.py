"""Bringing a book in from CSV: real exports from other CRMs, common address-book formats,
duplicates in any format, one atomic batch, idempotent re-imports, and exports that read back."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from backoffice.tools.book.store import Store
from backoffice.tools.bulk import importer
from backoffice.tools.bulk.exporter import export
from backoffice.tools.errors import BadInput
from tests.conftest import add_contact, call, records

EXPORTS = Path(__file__).resolve().parent / "fixtures" / "crm-exports"  # copies of ../shared/data/crm-exports
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "imports"


def copy_in(tmp_path: Path, path: Path) -> Path:
    """Tests import a copy: the rejected-rows file is written next to the input."""
    target = tmp_path / "in" / path.name
    target.parent.mkdir(exist_ok=True)
    shutil.copy(path, target)
    return target


def run_import(cli: Any, path: Path, *flags: str) -> dict[str, Any]:
    code, out = cli("--json", "import", "--yes", str(path), *flags)
    assert code == 0, out
    return json.loads(out)


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding=encoding) as handle:
        csv.writer(handle).writerows(rows)
    return path


def book_state(store: Store) -> dict[str, Any]:
    return {t: records(store, t) for t in ("contacts", "companies", "leads")}


# ---------------------------------------------------------------------------- the real exports
def test_salesforce_leads_export_imports_with_phones_statuses_and_sources_mapped(cli, tmp_path: Path, store: Store):
    report = run_import(cli, copy_in(tmp_path, EXPORTS / "salesforce_de_sample_leads_export.csv"))
    assert report["counts"] == {"create": 22, "update": 0, "skip": 0, "reject": 0}
    # three rows say "Closed - Converted" (while IsConverted is 0): customers, without an open lead
    assert report["imported"]["contacts created"] == 22
    assert report["imported"]["leads created"] == 19
    contacts = {f"{c['first_name']} {c['last_name']}": c for c in records(store, "contacts")}
    assert contacts["Bertha Boxer"]["phones"] == ["+18506444200"]  # "(850) 644-4200"
    assert contacts["Jeff Glimpse"]["phones"] == ["+886225474189"]  # Taiwan, read in the row's country
    assert contacts["Pat Stumuller"]["phones"] == ["+33562156600"]  # France
    assert contacts["Jack Rogers"]["lifecycle_stage"] == "customer"
    assert "Closed - Converted" in contacts["Jack Rogers"]["notes"]
    assert "Job title: Director of Vendor Relations" in contacts["Bertha Boxer"]["notes"]
    assert contacts["Bertha Boxer"]["address"] == "321 Westcott Building, Tallahassee, FL 32306"
    leads = {lead["contact_id"]: lead for lead in records(store, "leads")}
    bertha = leads[contacts["Bertha Boxer"]["contact_id"]]
    assert (bertha["status"], bertha["source"]) == ("working", "web_form")
    assert bertha["external_created_at"] == "2018-10-13T17:16:45"
    pamela = leads[contacts["Pamela Owenby"]["contact_id"]]
    assert (
        pamela["status"] == "disqualified" and pamela["disqualification_note"] == "Salesforce: Closed - Not Converted"
    )
    purchased = leads[contacts["Mike Braund"]["contact_id"]]
    assert purchased["source"] == "other" and "Purchased List" in purchased["tags"]  # unknown: kept, not dropped


def test_the_malformed_suitecrm_row_is_rejected_by_line_and_the_rest_goes_in(cli, tmp_path: Path, store: Store):
    path = copy_in(tmp_path, EXPORTS / "suitecrm8_leads_export.csv")
    report = run_import(cli, path)
    rejected = [r for r in report["rows"] if r["action"] == "reject"]
    assert [r["line"] for r in rejected] == [3]
    assert "4 values" in rejected[0]["why"] and "61 columns" in rejected[0]["why"]
    [contact] = records(store, "contacts")
    assert (contact["first_name"], contact["last_name"]) == ("Melissa", "Bucy")
    assert contact["phones"] == ["+19589822134", "+18072712192", "+18320009384"]  # office, mobile, home
    [lead] = records(store, "leads")
    assert lead["status"] == "working" and "Recycled" in lead["notes"]
    [company] = records(store, "companies")
    assert company["name"] == "Smith & Sons"
    # the rejected row, as it was, with its line and reason, next to the input
    assert report["rejected_file"] == str(path.with_name("suitecrm8_leads_export.rejected.csv"))
    with open(report["rejected_file"], encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][-2:] == ["import_line", "import_problem"]
    assert rows[1][:4] == ["John", "Doe", "john.smith@example.com", "4441234567"]
    assert rows[1][-2] == "3"


def test_zoho_report_imports_namesakes_at_different_companies_as_different_people(cli, tmp_path: Path, store: Store):
    report = run_import(cli, copy_in(tmp_path, EXPORTS / "zoho_crm_leads_report_excerpt.csv"))
    assert report["counts"]["create"] == 42  # two Shaws, two Millers, two Andersons: all different people
    companies = [c["name"] for c in records(store, "companies")]
    assert len(companies) == len(set(companies)) == 38  # Big A Auto Parts, Rack N Sack… once each
    leads = records(store, "leads")
    by_status = {
        s: sum(1 for lead in leads if lead["status"] == s) for s in ("new", "working", "qualified", "disqualified")
    }
    assert by_status["qualified"] == 8  # "Pre Qualified"
    assert by_status["disqualified"] == 9  # "Junk Lead" and "Lost Lead", the original kept in the note
    first = next(lead for lead in leads if lead["external_id"] == "4563")
    assert first["source"] == "referral" and first["external_created_at"] == "2021-04-15T00:03:00"
    assert first["owner"] == "David Love"


# ---------------------------------------------------------------------------- common formats
def test_google_outlook_and_quickbooks_headers_map_without_flags(store: Store):
    google = importer.read_source(FIXTURES / "google_contacts.csv")
    assert google.profile.key == "google" and google.kind == "contacts"
    outlook = importer.read_source(FIXTURES / "outlook_contacts.csv")
    assert outlook.profile.key == "outlook" and outlook.table.encoding == "Windows-1252"
    quickbooks = importer.read_source(FIXTURES / "quickbooks_customers.csv")
    assert quickbooks.profile.key == "quickbooks"
    assert (quickbooks.table.delimiter, quickbooks.table.header_line, quickbooks.table.encoding) == (
        ";",
        5,
        "UTF-8 with BOM",
    )
    for source in (google, outlook, quickbooks):
        importer.apply_plan(store, importer.plan_import(store, source))
    people = {c["emails"][0]: c for c in records(store, "contacts")}
    dana = people["Dana@example.com"]
    assert dana["phones"] == ["+15552017788", "+15552017700"]  # two numbers in one Google cell
    assert dana["address"] == "14 Oak St, Springfield, IL 62701" and dana["tags"] == ["Clients"]
    assert people["sam@leedental.com"]["first_name"] == "Sam"  # "SAM LEE" tidied
    assert people["maria.nunez@example.org"]["phones"] == ["+34612345678"]
    jose = people["jose@alvarezroofing.com"]
    assert (jose["first_name"], jose["last_name"]) == ("José", "Álvarez")  # Windows-1252 read right
    assert "call after 3pm" in jose["notes"] and jose["tags"] == ["Roofing", "Hot"]
    assert people["kim.obrien@example.net"]["address"] == "12 Elm St, Springfield, IL 62702"  # home address
    ann = people["ann@smithandsons.com"]
    assert ann["lifecycle_stage"] == "customer"  # a QuickBooks customer list holds customers
    companies = {c["company_id"]: c for c in records(store, "companies")}
    assert companies[ann["company_id"]]["name"] == "Smith & Sons"
    assert companies[ann["company_id"]]["status"] == "active_customer"
    greenway = people["ap@greenwaypm.com"]  # a business customer with nobody named
    assert companies[greenway["company_id"]]["name"] == "Greenway Property Mgmt"


def test_map_overrides_a_column_and_bad_mappings_are_refused(cli, tmp_path: Path, store: Store):
    path = write_csv(
        tmp_path / "odd.csv", [["Who", "Cell", "Mail"], ["Dana Reyes", "555-201-7788", "dana@example.com"]]
    )
    code, out = cli("import", "--yes", str(path), "--map", "Who=name", "--map", "Cell=mobile")
    assert code == 0, out
    assert "Who" in out and "name (--map)" in out
    [dana] = records(store, "contacts")
    assert dana["phones"] == ["+15552017788"] and dana["emails"] == ["dana@example.com"]

    code, out = cli("import", "--yes", str(path), "--map", "Nope=name")
    assert code == 1 and "'Nope'" in out and "Who, Cell, Mail" in out
    code, out = cli("import", "--yes", str(path), "--map", "Who=nickname")
    assert code == 1 and "'nickname' is not a field" in out
    assert len(records(store, "contacts")) == 1


def test_files_that_are_not_csv_are_refused_with_the_reason(cli, tmp_path: Path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, out = cli("import", str(empty))
    assert code == 1 and "is empty" in out
    xlsx = tmp_path / "book.xlsx"
    xlsx.write_bytes(b"PK\x03\x04\x00\x00\x00binary")
    code, out = cli("import", str(xlsx))
    assert code == 1 and "save it as CSV" in out
    code, out = cli("import", str(tmp_path / "missing.csv"))
    assert code == 1 and "no such file" in out


# ---------------------------------------------------------------------------- once and only once
def test_the_first_run_for_a_file_is_a_preview_then_it_asks_once(cli, tmp_path: Path, store: Store):
    path = write_csv(
        tmp_path / "people.csv", [["Name", "Phone"], ["Dana Reyes", "555-201-7788"], ["Sam Lee", "555-301-2222"]]
    )
    code, out = cli("import", str(path))
    assert code == 0 and "This was a preview" in out and "nothing was written" in out
    assert records(store, "contacts") == []
    code, out = cli("import", str(path), stdin="no\n")
    assert code == 1 and "Nothing was imported" in out
    assert records(store, "contacts") == []
    code, out = cli("import", str(path), stdin="yes\n")
    assert code == 0 and "Import now: 2 contacts created" in out and "Imported people.csv" in out
    assert len(records(store, "contacts")) == 2
    code, out = cli("import", "--dry-run", str(path))
    assert "Nothing to import" in out


def test_importing_the_same_file_twice_creates_nothing_the_second_time(cli, tmp_path: Path, store: Store):
    rows = [["First Name", "Last Name", "Phone", "Lead Status", "Lead Source", "Description"]]
    rows += [["Dana", "Reyes", "555-201-7788", "New", "Web", "Kitchen sink leaks"]]
    rows += [["Sam", "Lee", "", "Contacted", "Phone", "Water heater"]]
    path = write_csv(tmp_path / "leads.csv", rows)
    first = run_import(cli, path)
    assert first["imported"]["leads created"] == 2
    before = book_state(store)
    events = len(store.events())
    for policy in ("skip", "update", "create"):
        again = run_import(cli, path, "--duplicates", policy)
        assert again["counts"]["create"] == 0, policy
        assert not any(again["imported"].values())  # an import of nothing: zero counts
    assert book_state(store) == before and len(store.events()) == events


# ---------------------------------------------------------------------------- duplicates
def test_duplicates_are_found_across_formats_and_the_owner_chooses(cli, tmp_path: Path, store: Store):
    dana = add_contact(store, name="Dana Reyes", phone="+1 850-644-4200")
    call(store, "create_contact", name="Lou Park", email="dana@example.com")
    smiths = call(store, "create_company", name="Smith and Sons")["company"]
    ann = add_contact(store, name="Ann Smith", company_id=smiths["company_id"])
    rows = [["Name", "Phone", "Email", "Company", "Address"]]
    rows.append(["Dana R.", "(850) 644-4200", "", "", "14 Oak St"])  # line 2: same phone, another format
    rows.append(["Lou Park", "", "Dana@Example.com", "", ""])  # line 3: same email, any case
    rows.append(["Ann Smith", "", "", "Smith & Sons", ""])  # line 4: same name at the same company
    rows.append(["Ann Smith", "", "", "Jones Hardware", ""])  # line 5: a namesake elsewhere: new
    rows.append(["Ann Smith", "555-777-0000", "", "Jones Hardware", ""])  # line 6: same person as line 5
    path = write_csv(tmp_path / "mixed.csv", rows)

    plan = {r["line"]: r for r in run_import(cli, path, "--dry-run")["rows"]}
    assert (
        plan[2]["action"] == "skip"
        and "same phone (850) 644-4200" in plan[2]["why"]
        and dana["contact_id"] in plan[2]["why"]
    )
    assert plan[3]["action"] == "skip" and "same email dana@example.com" in plan[3]["why"]
    assert plan[4]["action"] == "skip" and "same company" in plan[4]["why"] and ann["contact_id"] in plan[4]["why"]
    assert plan[5]["action"] == "create"
    assert plan[6]["action"] == "skip" and "same person as line 5" in plan[6]["why"]

    report = run_import(cli, path, "--duplicates", "update", "--line", "3=create")
    assert report["imported"]["contacts created"] == 2  # Ann at Jones Hardware, and line 3 by choice
    updated = store.require("contacts", dana["contact_id"])
    assert updated["address"] == "14 Oak St" and updated["first_name"] == "Dana"  # filled, never overwritten
    jones = [c for c in records(store, "contacts") if c["first_name"] == "Ann" and c["contact_id"] != ann["contact_id"]]
    assert len(jones) == 1 and jones[0]["phones"] == ["+15557770000"]  # line 6 folded into line 5
    assert len([c for c in records(store, "companies") if c["name"] == "Smith & Sons"]) == 0  # no second company


# ---------------------------------------------------------------------------- all or nothing
def test_a_crash_mid_import_leaves_the_book_exactly_as_before(tmp_path: Path, store: Store, monkeypatch):
    add_contact(store, name="Dana Reyes", phone="555-201-7788")
    rows = [["Name", "Phone"]] + [[f"Person {i}", f"555-400-{i:04d}"] for i in range(1, 21)]
    source = importer.read_source(write_csv(tmp_path / "many.csv", rows))
    plan = importer.plan_import(store, source)
    before, events = book_state(store), len(store.events())
    real_insert, calls = Store.insert, {"n": 0}

    def dying_insert(self: Store, table: str, fields: dict[str, Any], action: str = "created") -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 12:
            raise RuntimeError("power cut")
        return real_insert(self, table, fields, action)

    monkeypatch.setattr(Store, "insert", dying_insert)
    with pytest.raises(RuntimeError):
        importer.apply_plan(store, plan)
    monkeypatch.setattr(Store, "insert", real_insert)
    assert book_state(store) == before and len(store.events()) == events
    fresh = Store(store.directory)  # and on disk, for the next process
    assert book_state(fresh) == before
    fresh.close()


def test_a_row_the_store_refuses_mid_import_rolls_everything_back(cli, tmp_path: Path, store: Store, monkeypatch):
    rows = [
        ["Name", "Phone"],
        ["Dana Reyes", "555-201-7788"],
        ["Sam Lee", "555-301-2222"],
        ["Ann Smith", "555-620-1000"],
    ]
    path = write_csv(tmp_path / "three.csv", rows)
    build = importer.RowBuilder.build

    def sneak(self: importer.RowBuilder, row: Any) -> importer.Candidate:
        cand = build(self, row)
        if row.line == 4:  # passes the preview but breaks the schema when written
            cand.contact["lifecycle_stage"] = "VIP"
        return cand

    monkeypatch.setattr(importer.RowBuilder, "build", sneak)
    code, out = cli("import", "--yes", str(path))
    assert code == 1 and "stopped at line 4 and wrote nothing" in out and "lifecycle_stage" in out
    assert records(store, "contacts") == [] and store.events() == []


# ---------------------------------------------------------------------------- formula injection
def test_formulas_are_neutralised_on_import_and_on_export(cli, tmp_path: Path, store: Store):
    rows = [["First Name", "Last Name", "Phone", "Notes"]]
    rows.append(['=HYPERLINK("http://evil.example","x")', "Reyes", "+1 555 201 7788", "@SUM(A1:A9)"])
    rows.append(["Sam", "Lee", "-", "-2+3+cmd|' /C calc'!A0"])
    run_import(cli, write_csv(tmp_path / "evil.csv", rows))
    people = {c["last_name"]: c for c in records(store, "contacts")}
    assert people["Reyes"]["first_name"].startswith("'=HYPERLINK")
    assert people["Reyes"]["notes"] == "'@SUM(A1:A9)"
    assert people["Reyes"]["phones"] == ["+15552017788"]  # a phone is not a formula
    assert people["Lee"]["phones"] == [] and people["Lee"]["notes"].startswith("'-2+3+cmd")

    call(store, "update_contact", contact_id=people["Lee"]["contact_id"], append_note="=1+2")
    out = tmp_path / "contacts.csv"
    export(store, "contacts", out)
    with open(out, encoding="utf-8-sig", newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not any(cell[:1] in ("=", "@") for cell in cells)
    assert not any(
        cell.startswith(("+", "-")) and not cell.replace("+", "").replace("-", "").isdigit() for cell in cells if cell
    )
    assert "+15552017788" in cells  # phones go out as they are


# ---------------------------------------------------------------------------- export
def test_export_has_every_field_and_reads_back_into_the_same_book_as_nothing_new(cli, tmp_path: Path, store: Store):
    from backoffice.tools.demo import load_demo

    load_demo(store)
    before = book_state(store)
    for kind in ("contacts", "leads", "opportunities", "interactions"):
        code, out = cli("export", kind, str(tmp_path / f"{kind}.csv"))
        assert code == 0 and f"to {tmp_path / f'{kind}.csv'}" in out
        code, out = cli("--json", "export", kind, str(tmp_path / f"{kind}.json"))
        saved = json.loads((tmp_path / f"{kind}.json").read_text())
        table = "opportunities" if kind == "opportunities" else kind
        assert len(saved) == len(records(store, table))
        with open(tmp_path / f"{kind}.csv", encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle))
        every = {k for r in records(store, table) for k in r}
        assert every <= set(header), every - set(header)
    for kind in ("contacts", "leads"):
        report = run_import(cli, tmp_path / f"{kind}.csv")
        assert report["counts"]["create"] == 0 and report["counts"]["reject"] == 0, report["rows"]
        report = run_import(cli, tmp_path / f"{kind}.csv", "--duplicates", "update")
        assert report["counts"]["create"] == 0
    assert book_state(store) == before
    code, out = cli("import", str(tmp_path / "opportunities.csv"))
    assert code == 1 and "export of jobs" in out


def test_a_contacts_export_recreates_the_people_in_an_empty_book(cli, tmp_path: Path, store: Store):
    from backoffice.tools.demo import load_demo

    load_demo(store)
    out = tmp_path / "contacts.csv"
    export(store, "contacts", out)
    other = Store(tmp_path / "other")
    importer.apply_plan(other, importer.plan_import(other, importer.read_source(out)))
    same = ("first_name", "last_name", "phones", "emails", "address", "lifecycle_stage", "tags", "notes", "source")
    company = lambda s, c: s.get("companies", c["company_id"])["name"] if c.get("company_id") else None  # noqa: E731
    mine = sorted((tuple(str(c.get(f)) for f in same), company(store, c)) for c in records(store, "contacts"))
    theirs = sorted((tuple(str(c.get(f)) for f in same), company(other, c)) for c in records(other, "contacts"))
    other.close()
    assert mine == theirs


def test_export_to_the_screen_and_bad_kinds(cli, store: Store):
    add_contact(store, name="Dana Reyes", phone="555-201-7788")
    code, out = cli("export", "contacts", "-")
    assert code == 0 and out.startswith("contact_id,first_name,last_name") and "Dana" in out
    code, out = cli("export", "customers", "x.csv")
    assert code == 1 and "'customers' is not something to export" in out


def test_planning_never_writes(tmp_path: Path, store: Store):
    add_contact(store, name="Dana Reyes", phone="555-201-7788")
    before = book_state(store)
    path = write_csv(tmp_path / "p.csv", [["Name", "Phone"], ["Dana Reyes", "555 201 7788"], ["Sam Lee", "5553012222"]])
    plan = importer.plan_import(store, importer.read_source(path))
    assert [s.action for s in plan.steps] == ["skip", "create"]
    assert book_state(store) == before


def test_parse_maps_rejects_nonsense():
    with pytest.raises(BadInput, match="COLUMN=FIELD"):
        importer.parse_maps(["just-a-column"])
    assert importer.parse_maps(["Cell = mobile", "Fax="]) == {"Cell": "mobile", "Fax": "ignore"}


def test_a_hubspot_contacts_export_makes_leads_only_of_rows_with_a_lead_status(tmp_path: Path, store: Store):
    rows = [["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Lifecycle Stage", "Lead Status"]]
    rows.append(["101", "Dana", "Reyes", "dana@example.com", "555-201-7788", "customer", ""])
    rows.append(["102", "Sam", "Lee", "sam@example.com", "", "lead", "Attempted to contact"])
    rows.append(["103", "Lou", "Park", "lou@example.com", "", "salesqualifiedlead", "Bad timing"])
    source = importer.read_source(write_csv(tmp_path / "hubspot.csv", rows))
    assert source.profile.key == "hubspot"
    importer.apply_plan(store, importer.plan_import(store, source))
    people = {c["first_name"]: c for c in records(store, "contacts")}
    assert people["Dana"]["lifecycle_stage"] == "customer" and people["Dana"]["source_ref"] == "hubspot:101"
    leads = {lead["contact_id"]: lead for lead in records(store, "leads")}
    assert people["Dana"]["contact_id"] not in leads
    assert leads[people["Sam"]["contact_id"]]["status"] == "working"
    lou = leads[people["Lou"]["contact_id"]]
    assert (lou["status"], lou["disqualification_reason"]) == ("disqualified", "timing")


def test_a_file_of_only_bad_rows_imports_nothing_and_says_why(cli, tmp_path: Path, store: Store):
    path = write_csv(
        tmp_path / "bad.csv", [["Name", "Email"], ["Dana Reyes", "dana at example"], ["", ""], ["Sam", "sam@"]]
    )
    code, out = cli("import", "--yes", str(path))
    assert code == 1 and "2 rejected row(s)" in out
    assert "'dana at example' is not an email address" in out
    assert records(store, "contacts") == []
    assert (tmp_path / "bad.rejected.csv").exists()
