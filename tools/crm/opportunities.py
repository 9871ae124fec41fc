"""Opportunities (jobs being pursued): find, update, win (owner's yes required), lose (reason required)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from backoffice.tools.accounting.sync import sync_args
from backoffice.tools.book.models import Amount, EffortClass, LostReason, is_open_job
from backoffice.tools.book.normalize import full_name, money
from backoffice.tools.book.states import check
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.crm.contacts import FindContactsInput, find_contact_docs
from backoffice.tools.crm.interactions import system_note
from backoffice.tools.crm.stages import check_gate, job_stage
from backoffice.tools.errors import IllegalTransition, MissingInformation
from backoffice.tools.registry import ToolInput, tool


def opportunity_card(store: Store, opp: Doc) -> Doc:
    contact = store.get("contacts", opp["contact_id"]) if opp.get("contact_id") else None
    return {
        "opportunity_id": opp["opportunity_id"],
        "name": opp["name"],
        "customer": full_name(contact) if contact else None,
        "contact_id": opp.get("contact_id"),
        "stage": opp["stage"],
        "amount": opp.get("amount"),
        "expected_close_date": opp.get("expected_close_date"),
        "proposal_sent_date": opp.get("proposal_sent_date"),
        "close_date": opp.get("close_date"),
        "lost_reason": opp.get("lost_reason"),
        "competitor": opp.get("competitor"),
        "competitors": opp.get("competitors") or [],
        "class": opp.get("effort_class"),
    }


def merged_names(names: list[str], more: list[str]) -> list[str]:
    """``names`` with ``more`` added, each once whatever its case or spacing."""
    out = list(names)
    for name in more:
        name = " ".join(name.split())
        if name and name.casefold() not in {n.casefold() for n in out}:
            out.append(name)
    return out


class FindOpportunitiesInput(ToolInput):
    query: str | None = Field(
        default=None, description="words of the job name, or the customer's name/phone/email; leave out to list jobs"
    )
    open_only: bool = Field(default=False, description="only jobs still being pursued (not won or lost)")
    stage: list[str] = Field(
        default_factory=list,
        description="only jobs at these stages (the playbook's stages, e.g. estimating, scheduled, proposal_sent, "
        "or won or lost), e.g. ['lost'] when the owner talks about a job already lost; empty: any stage",
    )
    limit: int = Field(default=10, ge=1, le=100, description="at most this many")


def matching_opportunities(store: Store, args: FindOpportunitiesInput) -> list[Doc]:
    """Every job the arguments select, open ones first, oldest first."""
    wanted = [job_stage(store, s, closed_ok=True) for s in args.stage]
    found: dict[str, Doc] = {}
    query = (args.query or "").strip()
    if query.upper().startswith("O-") and query[2:].isdigit():
        found[query.upper()] = store.require("opportunities", query)
    elif query:
        for opp in store.search_tokens("opportunities", query):
            found.setdefault(opp["opportunity_id"], opp)
        for contact, _ in find_contact_docs(store, FindContactsInput(query=query, limit=20, include_archived=True)):
            for opp in store.linked("opportunities", "contact_id", contact["contact_id"]):
                found.setdefault(opp["opportunity_id"], opp)
    else:
        stages = tuple(wanted)
        if stages:
            docs = store.scan("opportunities", stage=stages)
        else:
            docs = store.open_jobs() if args.open_only else store.scan("opportunities")
        found = {o["opportunity_id"]: o for o in docs}
    opps = list(found.values())
    if args.open_only:
        opps = [o for o in opps if is_open_job(o)]
    if wanted:
        opps = [o for o in opps if o["stage"] in wanted]
    opps.sort(key=lambda o: (o["stage"] in ("won", "lost"), o["created_at"]))
    return opps


def find_opportunity_docs(store: Store, args: FindOpportunitiesInput) -> list[Doc]:
    return matching_opportunities(store, args)[: args.limit]


@tool("read")
def find_opportunities(store: Store, args: FindOpportunitiesInput) -> dict[str, Any]:
    """Find jobs (opportunities) by name words or by the customer's name, phone or email; with no query,
    list them. Won and lost jobs are included unless open_only is set, so "we lost the Reyes job" finds the
    job even once it is closed; stage narrows to some stages (['lost'], ['proposal_sent']...). Open ones
    first; ``total`` says how many matched in all."""
    opps = matching_opportunities(store, args)
    return {"opportunities": [opportunity_card(store, o) for o in opps[: args.limit]], "total": len(opps)}


class UpdateOpportunityInput(ToolInput):
    opportunity_id: str = Field(description="the job (O-7)")
    stage: str | None = Field(
        default=None,
        description="a stage of the playbook: by default estimating, scheduled (site visit booked) or "
        "proposal_sent (the price is with the customer; the proposal date becomes today unless given), and any "
        "stage the owner added. A stage's gate may need something first (an amount before proposal_sent): give it "
        "in the same call. Won and lost have their own tools",
    )
    name: str | None = Field(default=None, description="a new name for the job")
    amount: Amount | None = Field(default=None, description="the job's amount in dollars")
    expected_close_date: dt.date | None = Field(default=None, description="when the owner expects a decision")
    proposal_sent_date: dt.date | None = Field(default=None, description="the day the proposal went out")
    competitor: str | None = Field(default=None, description="who else is bidding, or who won it")
    needs_site_visit: bool | None = Field(default=None, description="a site visit must be booked first")
    notes: str | None = Field(default=None, description="replaces the job's notes")
    effort_class: EffortClass | None = Field(
        default=None, description="gold, silver or bronze: how much effort the job is worth (a change is logged)"
    )
    add_competitors: list[str] = Field(
        default_factory=list, description="other businesses known to be bidding for this job, e.g. ['Acme Plumbing']"
    )


CLOSED_EDITABLE = {"notes", "competitor", "competitors", "effort_class"}  # history a closed job may still gain


@tool("write")
def update_opportunity(store: Store, args: UpdateOpportunityInput) -> dict[str, Any]:
    """Change a job's stage (the playbook's stages: estimating, scheduled, proposal_sent and any the owner
    added), name, amount, expected close date, proposal date, competitor, class, site-visit flag or notes,
    or add competitors bidding for it. Moving to proposal_sent records the proposal date, so "Proposals
    out" counts it. A stage's gate is checked before the move (by default proposal_sent needs an amount):
    a refused move changes nothing and says what is missing. Won and lost jobs are final: only their notes,
    competitors and class can change. Every change is in the event log with before and after."""
    with store.transaction():
        opp = store.require("opportunities", args.opportunity_id)
        changes = args.model_dump(exclude={"opportunity_id", "add_competitors"}, exclude_none=True)
        if args.stage is not None:
            changes["stage"] = job_stage(store, args.stage)
        if args.add_competitors:
            changes["competitors"] = merged_names(opp.get("competitors") or [], args.add_competitors)
        target: str = changes.get("stage") or opp["stage"]
        if opp["stage"] in ("won", "lost"):
            if set(changes) - CLOSED_EDITABLE:
                raise IllegalTransition(
                    f"Job {opp['opportunity_id']} is {opp['stage']}, which is final; only its notes, competitors "
                    "and class can change."
                )
        else:
            check("opportunity", opp["opportunity_id"], opp["stage"], target)
        if target == "proposal_sent" and opp["stage"] != "proposal_sent" and "proposal_sent_date" not in changes:
            changes["proposal_sent_date"] = store.today()
        if target != opp["stage"]:
            check_gate(store, "job", {**opp, **changes}, target)
        if target != opp["stage"]:
            action = "stage_changed"
        elif changes.get("effort_class") and changes["effort_class"] != opp.get("effort_class"):
            action = "class_changed"
        else:
            action = "updated"
        updated = store.update("opportunities", args.opportunity_id, changes, action=action)
        if target != opp["stage"]:
            label = store.playbook.stages.job_label(target)
            system_note(store, f"Job moved to {label.lower()}.", opportunity_id=opp["opportunity_id"])
    changed = sorted(k for k in changes if opp.get(k) != updated.get(k))
    return {
        "opportunity": opportunity_card(store, updated),
        "changed": changed,
        "message": f"Updated job {updated['opportunity_id']} ({updated['name']})"
        + (f": {', '.join(c.replace('_', ' ') for c in changed)}." if changed else "; nothing was different."),
    }


class MarkWonInput(ToolInput):
    opportunity_id: str = Field(description="the job (O-7)")
    amount: Amount | None = Field(default=None, description="final amount in dollars, if it changed")


def _preview_won(store: Store, args: dict[str, Any]) -> tuple[str, str]:
    opp = store.require("opportunities", args["opportunity_id"])
    contact = store.get("contacts", opp["contact_id"]) if opp.get("contact_id") else None
    who = full_name(contact) if contact else "the customer"
    amount = args.get("amount") if args.get("amount") is not None else opp.get("amount")
    value = money(amount) if amount is not None else "no amount"
    title = f"Mark the job {opp['name']!r} ({opp['opportunity_id']}) won"
    lines = [
        f"Job: {opp['name']} for {who} — {value}, now {opp['stage'].replace('_', ' ')}.",
        f"Close date: {store.today():%a %b %d, %Y}. {who} becomes a customer; won is final.",
    ]
    company = store.get("companies", opp["company_id"]) if opp.get("company_id") else None
    billed = company if company is not None else contact  # QuickBooks bills the company when there is one
    if billed is not None and not billed.get("quickbooks_customer_id"):
        name = company["name"] if company is not None else who
        lines.append(f"Afterwards I will ask whether to create {name} in QuickBooks.")
    return title, "\n".join(lines)


def _quickbooks_next(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A won customer not yet in QuickBooks: the QuickBooks question comes next."""
    return [("create_quickbooks_customer", sync_args(who)) for who in result.get("quickbooks_needed", [])]


@tool("consequential", preview=_preview_won, then=_quickbooks_next)
def mark_opportunity_won(store: Store, args: MarkWonInput) -> dict[str, Any]:
    """Mark a job won: stage won, close date today, the contact becomes a customer. Needs the owner's yes
    (it starts QuickBooks sync and scheduling)."""
    with store.transaction():
        opp = store.require("opportunities", args.opportunity_id)
        if opp["stage"] == "won":
            return {
                "opportunity": opportunity_card(store, opp),
                "already": True,
                "message": f"{opp['name']} was already marked won on {opp.get('close_date')}.",
            }
        check("opportunity", opp["opportunity_id"], opp["stage"], "won")
        changes: Doc = {"stage": "won", "close_date": store.today()}
        if args.amount is not None:
            changes["amount"] = args.amount
        opp = store.update("opportunities", opp["opportunity_id"], changes, action="won")
        system_note(
            store, f"Opportunity won — {opp['name']}.", opportunity_id=opp["opportunity_id"], lead_id=opp.get("lead_id")
        )
        needs_qb = []
        if opp.get("contact_id"):
            contact = store.require("contacts", opp["contact_id"])
            if contact["lifecycle_stage"] != "customer":
                store.update(
                    "contacts", contact["contact_id"], {"lifecycle_stage": "customer"}, action="became_customer"
                )
            if not contact.get("quickbooks_customer_id"):
                needs_qb.append({"contact_id": contact["contact_id"], "name": full_name(contact)})
        if opp.get("company_id"):
            company = store.require("companies", opp["company_id"])
            if company["status"] != "active_customer":
                store.update(
                    "companies", company["company_id"], {"status": "active_customer"}, action="became_customer"
                )
            if not company.get("quickbooks_customer_id"):
                needs_qb = [{"company_id": company["company_id"], "name": company["name"]}]
    message = f"Marked {opp['name']} won. The job is ready to schedule."
    if needs_qb:
        message += f" {needs_qb[0]['name']} is not in QuickBooks yet."
    return {"opportunity": opportunity_card(store, opp), "quickbooks_needed": needs_qb, "message": message}


class MarkLostInput(ToolInput):
    opportunity_id: str = Field(description="the job (O-7)")
    reason: LostReason | None = Field(
        default=None,
        description="price | competition | timing | no_decision | scope | other. May be left out when a "
        "competitor is named: the reason is then competition",
    )
    competitor: str | None = Field(
        default=None, description="who the customer went with, when the owner names them (e.g. 'Acme Plumbing')"
    )
    note: str | None = Field(default=None, description="what the owner said about it, in their words")


@tool("write")
def mark_opportunity_lost(store: Store, args: MarkLostInput) -> dict[str, Any]:
    """Mark a job lost, with a reason and, when the owner names one, the competitor who got it (a reason of
    price with a competitor is fine: "went with a cheaper guy, Acme" is price and Acme). Nothing is deleted;
    afterwards offer a reminder to check back. A job already lost stays lost: its reason and close date are
    kept, and a competitor or note not recorded before is added."""
    reason = args.reason or ("competition" if args.competitor else None)
    competitor = " ".join(args.competitor.split()) if args.competitor else None
    with store.transaction():
        opp = store.require("opportunities", args.opportunity_id)
        if opp["stage"] == "lost":
            fill: Doc = {}
            if competitor and not opp.get("competitor"):
                fill["competitor"] = competitor
            if args.note and not opp.get("lost_note"):
                fill["lost_note"] = args.note
            if fill:
                opp = store.update("opportunities", opp["opportunity_id"], fill, action="loss_details")
            closed = dt.date.fromisoformat(opp["close_date"])
            why = (opp.get("lost_reason") or "other").replace("_", " ")
            to = f" to {opp['competitor']}" if opp.get("competitor") else ""
            return {
                "opportunity": opportunity_card(store, opp),
                "already": True,
                "message": f"{opp['name']} was already marked lost{to} on {closed:%a %b} {closed.day} ({why})."
                + (f" Added: {', '.join(k.replace('_', ' ') for k in fill)}." if fill else ""),
            }
        check("opportunity", opp["opportunity_id"], opp["stage"], "lost")
        if reason is None:
            raise MissingInformation(
                f"Why was {opp['name']} lost? price, competition, timing, no_decision, scope or other "
                "(and who they went with, if the owner knows). Nothing was changed.",
                ["reason"],
            )
        changes: Doc = {
            "stage": "lost",
            "close_date": store.today(),
            "lost_reason": reason,
            "lost_note": args.note,
            "competitor": competitor or opp.get("competitor"),
        }
        if competitor:  # who got it was bidding for it too
            changes["competitors"] = merged_names(opp.get("competitors") or [], [competitor])
        opp = store.update("opportunities", opp["opportunity_id"], changes, action="lost")
        said = reason.replace("_", " ") + (f", to {opp['competitor']}" if opp.get("competitor") else "")
        system_note(
            store,
            f"Opportunity lost — {said}." + (f" {args.note}" if args.note else ""),
            opportunity_id=opp["opportunity_id"],
            lead_id=opp.get("lead_id"),
        )
        contact = store.get("contacts", opp["contact_id"]) if opp.get("contact_id") else None
    who = full_name(contact) if contact else "them"
    return {
        "opportunity": opportunity_card(store, opp),
        "message": f"Marked {opp['name']} lost ({said}). Want a reminder to check back with {who} in a few months?",
    }
