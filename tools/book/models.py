"""pydantic models of the stored records. They mirror schemas/*.json field for field; a test
checks both directions so neither can drift."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

PreferredChannel = Literal["phone", "email", "sms"]
LifecycleStage = Literal["prospect", "customer", "past_customer"]
CompanyType = Literal["business", "individual", "nonprofit", "government", "other"]
CompanyStatus = Literal["prospect", "active_customer", "inactive", "archived"]
LeadSource = Literal["phone_call", "email", "web_form", "referral", "ad", "other"]
LeadStatus = Literal["new", "working", "qualified", "disqualified", "converted"]
DisqualificationReason = Literal["budget", "timing", "outside_scope", "no_response", "other"]
PipelineStage = Literal["inquiry", "needs_analysis", "estimate_sent", "follow_up", "scheduled_visit"]
InteractionType = Literal["phone_call", "email_inbound", "email_outbound", "sms", "meeting", "note", "system"]
Outcome = Literal[
    "none",
    "left_voicemail",
    "spoke",
    "no_show",
    "rescheduled",
    "sent_proposal",
    "accepted_proposal",
    "rejected_proposal",
]
FollowUpStatus = Literal["none", "pending", "completed", "canceled"]
# A job's stage is one of the playbook's stages (estimating, scheduled and proposal_sent by default,
# and any the owner adds), or won or lost; the tools check it against the playbook.
OpportunityStage = str
STAGE_NAME = r"^[a-z][a-z0-9_]{0,39}$"
EffortClass = Literal["gold", "silver", "bronze"]
QualificationStatus = Literal["open", "complete"]
QualificationOutcome = Literal["qualified", "disqualified"]
LostReason = Literal["price", "competition", "timing", "no_decision", "scope", "other"]

OPEN_LEAD_STATUSES = ("new", "working", "qualified")
OPEN_OPPORTUNITY_STAGES = ("estimating", "scheduled", "proposal_sent")  # the default open stages
CLOSED_OPPORTUNITY_STAGES = ("won", "lost")


def is_open_job(opp: dict[str, Any]) -> bool:
    """A job still being pursued: any stage but won or lost (the owner may add stages of their own)."""
    return opp.get("stage") not in CLOSED_OPPORTUNITY_STAGES


def choices(literal: object) -> tuple[str, ...]:
    return tuple(get_args(literal))


MAX_AMOUNT = 1_000_000_000  # dollars; anything larger is a typo, not a job


def _plausible_amount(value: Any) -> Any:
    """Refuse, with a sentence, what must never be stored as money: a negative amount (a "$-5k"
    read as $5,000 would be worse than asking), infinity or NaN (400 nines overflow to inf), and
    sums no small business quotes. Text and other types are left to the float validator."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return value
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    except ValueError:
        return value
    if math.isnan(number) or math.isinf(number):
        raise PydanticCustomError("amount", "is not an amount of money I can use (too large, or not a number); "
                                  "give the dollar figure")  # fmt: skip
    if number < 0:
        raise PydanticCustomError("amount", "cannot be negative ({value}); give the amount without a minus sign",
                                  {"value": value})  # fmt: skip
    if number > MAX_AMOUNT:
        raise PydanticCustomError("amount", "is more than $1,000,000,000 ({value}); check the figure",
                                  {"value": f"{number:.4g}"})  # fmt: skip
    return number


# an amount of dollars as the tools take it: zero or more, finite, below MAX_AMOUNT
Amount = Annotated[float, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False), BeforeValidator(_plausible_amount)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    created_at: dt.datetime
    updated_at: dt.datetime


class Contact(_Record):
    contact_id: str = Field(pattern=r"^C-[0-9]+$")
    first_name: str = ""
    last_name: str = ""
    company_id: str | None = Field(default=None, pattern=r"^CO-[0-9]+$")
    phones: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    address: str | None = None
    preferred_channel: PreferredChannel | None = None
    lifecycle_stage: LifecycleStage
    source: str | None = None
    tags: list[str] = Field(default_factory=list)
    quickbooks_customer_id: str | None = None
    notes: str = ""
    archived: bool = False
    merged_into: str | None = Field(default=None, pattern=r"^C-[0-9]+$")
    source_ref: str | None = None

    @model_validator(mode="after")
    def _identifiable(self) -> Contact:
        if not (self.first_name or self.last_name or self.phones or self.emails):
            raise ValueError("a contact needs at least a name, a phone or an email")
        return self


class Company(_Record):
    company_id: str = Field(pattern=r"^CO-[0-9]+$")
    name: str = Field(min_length=1)
    type: CompanyType
    main_phone: str | None = None
    billing_address: str | None = None
    primary_contact_id: str | None = Field(default=None, pattern=r"^C-[0-9]+$")
    status: CompanyStatus
    quickbooks_customer_id: str | None = None
    notes: str = ""


class Lead(_Record):
    model_config = ConfigDict(extra="allow", defer_build=True)  # leads are permissive: unknown fields are kept
    lead_id: str = Field(pattern=r"^L-[0-9]+$")
    title: str = Field(min_length=1)
    description: str = ""
    contact_id: str | None = Field(default=None, pattern=r"^C-[0-9]+$")
    company_id: str | None = Field(default=None, pattern=r"^CO-[0-9]+$")
    source: LeadSource
    status: LeadStatus
    disqualification_reason: DisqualificationReason | None = None
    disqualification_note: str | None = None
    estimated_value: float | None = Field(default=None, ge=0)
    pipeline_stage: PipelineStage
    expected_close_date: dt.date | None = None
    owner: str | None = None
    converted_opportunity_id: str | None = Field(default=None, pattern=r"^O-[0-9]+$")
    email: str | None = None
    phone: str | None = None
    url: str | None = None
    notes: str = ""
    tags: list[str] = Field(default_factory=list)
    source_ref: str | None = None
    source_detail: str | None = None
    effort_class: EffortClass | None = None
    competitors: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    score: int | None = Field(default=None, ge=0, le=100)
    score_points: dict[str, Annotated[int, Field(ge=0, le=100)]] | None = None

    @model_validator(mode="after")
    def _status_needs(self) -> Lead:
        if self.status == "disqualified" and not self.disqualification_reason:
            raise ValueError("a disqualified lead needs a disqualification_reason")
        if self.status == "converted" and not self.converted_opportunity_id:
            raise ValueError("a converted lead needs its converted_opportunity_id")
        return self


class Interaction(_Record):
    interaction_id: str = Field(pattern=r"^I-[0-9]+$")
    type: InteractionType
    timestamp: dt.datetime
    contact_id: str | None = Field(default=None, pattern=r"^C-[0-9]+$")
    lead_id: str | None = Field(default=None, pattern=r"^L-[0-9]+$")
    opportunity_id: str | None = Field(default=None, pattern=r"^O-[0-9]+$")
    subject: str = ""
    body: str = ""
    outcome: Outcome
    follow_up_date: dt.date | None = None
    follow_up_status: FollowUpStatus
    ai_summary: str | None = None
    message_id: str | None = None
    thread_id: str | None = None
    references: list[str] | None = Field(default=None, max_length=50)

    @model_validator(mode="after")
    def _linked(self) -> Interaction:
        if not (self.contact_id or self.lead_id or self.opportunity_id):
            raise ValueError("an interaction needs at least one of contact_id, lead_id, opportunity_id")
        if self.follow_up_status == "pending" and self.follow_up_date is None:
            raise ValueError("a pending follow-up needs a follow_up_date")
        return self


class Opportunity(_Record):
    opportunity_id: str = Field(pattern=r"^O-[0-9]+$")
    lead_id: str | None = Field(default=None, pattern=r"^L-[0-9]+$")
    contact_id: str | None = Field(default=None, pattern=r"^C-[0-9]+$")
    company_id: str | None = Field(default=None, pattern=r"^CO-[0-9]+$")
    name: str = Field(min_length=1)
    stage: str = Field(pattern=STAGE_NAME)
    amount: float | None = Field(default=None, ge=0)
    expected_close_date: dt.date | None = None
    close_date: dt.date | None = None
    lost_reason: LostReason | None = None
    lost_note: str | None = None
    competitor: str | None = None
    proposal_sent_date: dt.date | None = None
    needs_site_visit: bool = False
    quickbooks_synced: bool = False
    notes: str = ""
    effort_class: EffortClass | None = None
    competitors: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _closed_needs(self) -> Opportunity:
        if self.stage in ("won", "lost") and self.close_date is None:
            raise ValueError(f"a {self.stage} opportunity needs a close_date")
        if self.stage == "lost" and not self.lost_reason:
            raise ValueError("a lost opportunity needs a lost_reason")
        return self


class Qualification(_Record):
    qualification_id: str = Field(pattern=r"^Q-[0-9]+$")
    lead_id: str = Field(pattern=r"^L-[0-9]+$")
    definition_version: int = Field(ge=1)
    answers: dict[str, str | float | bool | None]
    status: QualificationStatus
    outcome: QualificationOutcome | None = None
    effort_class: EffortClass | None = None
    disqualification_reason: DisqualificationReason | None = None
    notes: str = ""
    completed_at: dt.datetime | None = None

    @model_validator(mode="after")
    def _complete_needs(self) -> Qualification:
        if self.status == "complete" and (self.outcome is None or self.completed_at is None):
            raise ValueError("a complete qualification needs its outcome and completed_at")
        if self.outcome == "disqualified" and not self.disqualification_reason:
            raise ValueError("a disqualified outcome needs a disqualification_reason")
        return self


class SourceSpend(_Record):
    spend_id: str = Field(pattern=r"^SP-[0-9]+$")
    source: str = Field(min_length=1)
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    amount: float = Field(ge=0)
    note: str = ""


RECORD_MODELS: dict[str, type[_Record]] = {
    "contacts": Contact,
    "companies": Company,
    "leads": Lead,
    "interactions": Interaction,
    "opportunities": Opportunity,
    "qualifications": Qualification,
    "source_spend": SourceSpend,
}
