"""Every tool the agent offers, in one explicit list (as llm's DEFAULT_PLUGINS): the Claude planner
is offered these, the gate runs them, the offline planner calls them by name. A tool module adds
nothing by being imported; a new tool is added here."""

from __future__ import annotations

from backoffice.tools.accounting import sync
from backoffice.tools.crm import (
    companies,
    contacts,
    duplicates,
    interactions,
    leads,
    merge,
    messages,
    opportunities,
    qualification,
    scores,
    sources,
)
from backoffice.tools.errors import ToolArgumentError
from backoffice.tools.registry import Tool
from backoffice.tools.reports import activity, board, digest, measure, pipeline, winloss

TOOLS: tuple[Tool, ...] = (
    # people and companies
    contacts.find_contacts,
    contacts.create_contact,
    contacts.create_contact_anyway,
    contacts.attach_inquiry,
    contacts.update_contact,
    companies.create_company,
    companies.update_company,
    duplicates.find_duplicates,
    merge.merge_contacts,
    # leads
    leads.record_inquiry,
    leads.create_lead,
    leads.find_leads,
    leads.update_lead,
    leads.qualify_lead,
    leads.disqualify_lead,
    leads.convert_lead,
    # qualification, class and score
    qualification.qualification_status,
    qualification.answer_qualification,
    qualification.complete_qualification,
    scores.lead_score,
    scores.rank_leads,
    scores.preview_score_weights,
    scores.set_score_weights,
    scores.score_health,
    # lead sources and what they cost
    sources.record_source_spend,
    sources.name_source,
    # calls, emails, notes and follow-ups
    interactions.log_interaction,
    interactions.complete_follow_up,
    interactions.cancel_follow_up,
    interactions.reschedule_follow_up,
    messages.draft_follow_up,
    messages.send_message,
    # jobs
    opportunities.find_opportunities,
    opportunities.update_opportunity,
    opportunities.mark_opportunity_won,
    opportunities.mark_opportunity_lost,
    sync.create_quickbooks_customer,
    # reports
    activity.last_touchpoint,
    activity.newest_customers,
    activity.timeline,
    activity.lead_timeline,
    digest.follow_ups_due,
    digest.stale_leads,
    digest.morning_digest,
    pipeline.pipeline_summary,
    winloss.winloss_summary,
    measure.kpis,
    measure.source_report,
    measure.competitor_report,
    board.pipeline_board,
)

_BY_NAME = {t.name: t for t in TOOLS}
if len(_BY_NAME) != len(TOOLS):
    raise RuntimeError("two tools share a name in the catalog")


def get_tool(name: str) -> Tool:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ToolArgumentError(f"There is no tool called {name!r}.") from None


def all_tools() -> dict[str, Tool]:
    return dict(_BY_NAME)
