"""The offline planner: the embedded default. No key, no network, deterministic.

What it understands is declared beside the procedures (``procedures/crm.requests.yaml``; see
``requests``): each request's cues, example phrasings and the slots it asks for. A line is first
made regular (``words``: shorthand, typos), read for what it names (``understand``: phones,
emails, dates, amounts, reasons; ``resolve``: the book's own people, titles and streets), matched
to a request, and handed to that request's flow, which asks for what is missing one question at a
time (``engine``) and calls the same tools through the same gate as Claude does.
"""

from __future__ import annotations

from backoffice.agent.planners.offline.flows_calls import CallFlows
from backoffice.agent.planners.offline.flows_jobs import JobFlows
from backoffice.agent.planners.offline.flows_leads import LeadFlows
from backoffice.agent.planners.offline.flows_measure import MeasureFlows
from backoffice.agent.planners.offline.flows_people import PeopleFlows
from backoffice.agent.planners.offline.flows_reports import ReportFlows
from backoffice.agent.planners.offline.requests import Understanding, load_understanding
from backoffice.agent.procedures import Procedure, load_procedures, procedure_dirs


class OfflinePlanner(ReportFlows, PeopleFlows, LeadFlows, CallFlows, JobFlows, MeasureFlows):
    def __init__(self, understanding: Understanding | None = None) -> None:
        super().__init__(understanding or understanding_for(load_procedures(procedure_dirs())[0]))


def flows() -> set[str]:
    """The built-in flows a declared request may name."""
    return {name[3:] for name in dir(OfflinePlanner) if name.startswith("on_")}


def understanding_for(procedures: list[Procedure]) -> Understanding:
    return load_understanding(procedures, flows())
