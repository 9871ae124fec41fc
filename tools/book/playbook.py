"""The playbook: how this business qualifies leads, what each class of work is worth in effort, how
leads are scored, which stages a job goes through, and which lead sources it pays for.

It lives beside the book as ``playbook.json`` (optional: everything has a default) and is versioned:
``version`` goes up with every change saved through the tools, and a qualification record keeps the
version it was answered against. An owner who edits the file by hand raises the version too when
the qualification questions change. A file that does not validate is refused with the path and each
field's problem, and nothing runs on a half-read playbook.

Sections:

- ``qualification``: the questions a lead is qualified with; ``required`` ones must be answered
  before a qualification is completed as qualified.
- ``classes``: gold, silver and bronze, each with how soon a quiet lead is nudged, where it sorts
  in the digest, and how deep a follow-up draft goes.
- ``scoring``: each criterion's weight (the weights are scaled to 100) and its rule.
- ``stages``: the job stages in order (the seed's three by default; the owner may add their own),
  each with a probability, an optional gate (what must be known before a job enters it) and a stale
  threshold; and the same for the five lead stages of the core procedure (their names are fixed).
- ``sources``: the named lead sources (with aliases), and after how many uses an ad-hoc source is
  suggested as a named one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backoffice.tools.book.normalize import fold
from backoffice.tools.book.storage import atomic_write_bytes
from backoffice.tools.errors import ConfigError

PLAYBOOK_FILE = "playbook.json"
CLASSES = ("gold", "silver", "bronze")
EffortClass = Literal["gold", "silver", "bronze"]
CHANNELS = ("phone_call", "email", "web_form", "referral", "ad", "other")
CLOSED_JOB_STAGES = ("won", "lost")
BUILT_IN_JOB_STAGES = ("estimating", "scheduled", "proposal_sent")
LEAD_STAGES = ("inquiry", "needs_analysis", "scheduled_visit", "estimate_sent", "follow_up")
NAME = r"^[a-z][a-z0-9_]{0,39}$"

# What a stage gate may ask for before a job (or lead) enters the stage.
JOB_REQUIREMENTS = {
    "amount": "an amount",
    "expected_close_date": "an expected close date",
    "proposal_sent_date": "the date the proposal went out",
    "effort_class": "a class (gold, silver or bronze)",
    "competitors": "the competitors bidding",
    "contact_phone": "a phone number for the customer",
    "contact_email": "an email address for the customer",
    "service_address": "the service address",
    "qualification_complete": "a completed qualification of the lead it came from",
    "site_visit": "a site visit (a meeting) logged",
}
LEAD_REQUIREMENTS = {
    "estimated_value": "an estimated value",
    "expected_close_date": "an expected close date",
    "effort_class": "a class (gold, silver or bronze)",
    "contact": "a contact",
    "contact_phone": "a phone number for the customer",
    "contact_email": "an email address for the customer",
    "service_address": "the service address",
    "qualification_complete": "a completed qualification",
    "site_visit": "a site visit (a meeting) logged",
}


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# ---------------------------------------------------------------------------- qualification
class Question(_Part):
    key: str = Field(pattern=NAME, description="the answer's name in the qualification record")
    ask: str = Field(min_length=3, description="the question, as the owner is asked it")
    kind: Literal["text", "yes_no", "choice", "amount", "date"] = "text"
    choices: list[str] = Field(default_factory=list)
    required: bool = True

    @model_validator(mode="after")
    def _choices(self) -> Question:
        if self.kind == "choice" and len(self.choices) < 2:
            raise ValueError(f"question {self.key!r} is a choice and needs at least two choices")
        if self.kind != "choice" and self.choices:
            raise ValueError(f"question {self.key!r} has choices but is a {self.kind} question")
        return self


def _default_questions() -> list[Question]:
    return [
        Question(key="need", ask="What do they need done, and is it work we do?"),
        Question(
            key="budget",
            ask="Is there a budget signal: a figure they named, or how they took a ballpark?",
            kind="choice",
            choices=["confirmed", "rough", "unknown", "too_low"],
        ),
        Question(
            key="decision_maker",
            ask="Who decides? Are we talking to them?",
            kind="choice",
            choices=["yes", "shared", "no"],
        ),
        Question(
            key="timeline",
            ask="When do they want it done?",
            kind="choice",
            choices=["urgent", "this_month", "this_quarter", "later", "unknown"],
        ),
        Question(key="site_access", ask="Can we get at the work: access, parking, pets, permits?", required=False),
    ]


class Qualification(_Part):
    questions: list[Question] = Field(default_factory=_default_questions, min_length=1)

    @field_validator("questions")
    @classmethod
    def _unique(cls, value: list[Question]) -> list[Question]:
        keys = [q.key for q in value]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"two questions share the key {', '.join(twice)}")
        return value

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)

    @property
    def required(self) -> list[str]:
        return [q.key for q in self.questions if q.required]


# ---------------------------------------------------------------------------- classes
class ClassEffort(_Part):
    label: str
    nudge_after_business_days: int = Field(ge=1, le=60, description="a quiet lead of this class is nudged after")
    digest_order: int = Field(ge=0, le=9, description="lower sorts first in the digest")
    draft: Literal["full", "standard", "brief"] = "standard"


def _default_classes() -> dict[str, ClassEffort]:
    return {
        "gold": ClassEffort(label="Gold", nudge_after_business_days=1, digest_order=0, draft="full"),
        "silver": ClassEffort(label="Silver", nudge_after_business_days=3, digest_order=1, draft="standard"),
        "bronze": ClassEffort(label="Bronze", nudge_after_business_days=5, digest_order=3, draft="brief"),
    }


# ---------------------------------------------------------------------------- scoring
Fraction = float  # 0..1: how much of a criterion's weight a lead earns


class Criterion(_Part):
    weight: float = Field(ge=0, le=100, description="how much it counts; the weights are scaled to add up to 100")


class SourceCriterion(Criterion):
    weight: float = Field(default=15, ge=0, le=100)
    channels: dict[str, float] = Field(
        default_factory=lambda: {"referral": 1.0, "web_form": 0.7, "phone_call": 0.7, "email": 0.6, "ad": 0.4,
                                 "other": 0.3})  # fmt: skip
    named: dict[str, float] = Field(default_factory=dict, description="a named source's share, overriding its channel")

    @field_validator("channels")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(set(value) - set(CHANNELS))
        if bad:
            raise ValueError(f"unknown channel {', '.join(bad)}; channels are {', '.join(CHANNELS)}")
        return value


class BandsCriterion(Criterion):
    bands: list[tuple[float, float]]

    @field_validator("bands")
    @classmethod
    def _fractions(cls, value: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if any(not 0 <= share <= 1 for _, share in value):
            raise ValueError("each band is [threshold, share] with a share between 0 and 1")
        return value


class ValueCriterion(BandsCriterion):
    weight: float = Field(default=20, ge=0, le=100)
    # [at least this many dollars, share]: the first band the estimate reaches counts
    bands: list[tuple[float, float]] = Field(
        default_factory=lambda: [(10_000.0, 1.0), (3_000.0, 0.75), (1_000.0, 0.5), (1.0, 0.25)]
    )


class RecencyCriterion(BandsCriterion):
    weight: float = Field(default=15, ge=0, le=100)
    # [at most this many days since the last touch, share]
    bands: list[tuple[float, float]] = Field(default_factory=lambda: [(2.0, 1.0), (7.0, 0.66), (14.0, 0.33)])


class ClassCriterion(Criterion):
    weight: float = Field(default=10, ge=0, le=100)
    shares: dict[str, float] = Field(default_factory=lambda: {"gold": 1.0, "silver": 0.6, "bronze": 0.2})


class AreaCriterion(Criterion):
    weight: float = Field(default=0, ge=0, le=100)
    places: list[str] = Field(default_factory=list, description="towns or zip codes of the service area")


class Scoring(_Part):
    source: SourceCriterion = Field(default_factory=SourceCriterion)
    value: ValueCriterion = Field(default_factory=ValueCriterion)
    completeness: Criterion = Field(default_factory=lambda: Criterion(weight=10))
    responsiveness: Criterion = Field(default_factory=lambda: Criterion(weight=20))
    recency: RecencyCriterion = Field(default_factory=RecencyCriterion)
    effort_class: ClassCriterion = Field(default_factory=ClassCriterion, alias="class")
    qualification: Criterion = Field(default_factory=lambda: Criterion(weight=10))
    area: AreaCriterion = Field(default_factory=AreaCriterion)
    # the health check says nothing about calibration before this many leads have an outcome
    min_outcomes: int = Field(default=20, ge=5, le=10_000)

    @model_validator(mode="after")
    def _some_weight(self) -> Scoring:
        if self.total_weight() <= 0:
            raise ValueError("every criterion weighs 0; give at least one a weight")
        return self

    def weights(self) -> dict[str, float]:
        return {name: self.criterion(name).weight for name in CRITERIA}

    def criterion(self, name: str) -> Criterion:
        found: Criterion = getattr(self, "effort_class" if name == "class" else name)
        return found

    def total_weight(self) -> float:
        return sum(self.weights().values())

    def with_weights(self, weights: dict[str, float]) -> Scoring:
        """A copy with some weights changed (unknown names are refused)."""
        unknown = sorted(set(weights) - set(CRITERIA))
        if unknown:
            raise ValueError(f"no criterion {', '.join(unknown)}; the criteria are {', '.join(CRITERIA)}")
        data = self.model_dump(by_alias=True)
        for name, weight in weights.items():
            data[name]["weight"] = weight
        return Scoring.model_validate(data)


CRITERIA = ("source", "value", "completeness", "responsiveness", "recency", "class", "qualification", "area")


# ---------------------------------------------------------------------------- stages
class StageDef(_Part):
    name: str = Field(pattern=NAME)
    label: str = ""
    probability: float = Field(ge=0, le=1, description="the chance a job at this stage is won")
    stale_after_days: int | None = Field(default=None, ge=1, le=3650, description="stuck after this many days")
    requires: list[str] = Field(default_factory=list, description="what must be known before entering")

    @model_validator(mode="after")
    def _label(self) -> StageDef:
        if not self.label:
            self.label = self.name.replace("_", " ").capitalize()
        return self


def _job_stages() -> list[StageDef]:
    return [
        StageDef(name="estimating", label="Estimating", probability=0.3, stale_after_days=14),
        StageDef(name="scheduled", label="Visit booked", probability=0.4, stale_after_days=7),
        StageDef(name="proposal_sent", label="Proposal sent", probability=0.6, stale_after_days=14,
                 requires=["amount"]),  # fmt: skip
    ]


def _lead_stages() -> list[StageDef]:
    return [
        StageDef(name="inquiry", label="Inquiry", probability=0.05, stale_after_days=7),
        StageDef(name="needs_analysis", label="Needs analysis", probability=0.1, stale_after_days=14),
        StageDef(name="scheduled_visit", label="Visit booked", probability=0.2, stale_after_days=10),
        StageDef(name="estimate_sent", label="Estimate sent", probability=0.35, stale_after_days=14),
        StageDef(name="follow_up", label="Follow up", probability=0.35, stale_after_days=21),
    ]


class Stages(_Part):
    jobs: list[StageDef] = Field(default_factory=_job_stages)
    leads: list[StageDef] = Field(default_factory=_lead_stages)

    @model_validator(mode="after")
    def _sound(self) -> Stages:
        for kind, stages, known in (("jobs", self.jobs, JOB_REQUIREMENTS), ("leads", self.leads, LEAD_REQUIREMENTS)):
            names = [s.name for s in stages]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{kind}: the stage {', '.join(twice)} is listed twice")
            for stage in stages:
                bad = [r for r in stage.requires if r not in known]
                if bad:
                    raise ValueError(f"{kind}: stage {stage.name!r} requires {', '.join(map(repr, bad))}, which is not "
                                     f"something a gate can check; it can require {', '.join(known)}")  # fmt: skip
        closed = [n for n in (s.name for s in self.jobs) if n in CLOSED_JOB_STAGES]
        if closed:
            raise ValueError(f"jobs: {closed[0]} is final and not a stage to list (won and lost are always there)")
        missing = [n for n in BUILT_IN_JOB_STAGES if n not in {s.name for s in self.jobs}]
        if missing:
            raise ValueError(f"jobs: the stage {', '.join(missing)} is built in and cannot be left out "
                             "(relabel it, change its probability or gate, or add your own stages around it)")
        lead_names = {s.name for s in self.leads}
        if lead_names != set(LEAD_STAGES):
            extra = sorted(lead_names - set(LEAD_STAGES))
            gone = sorted(set(LEAD_STAGES) - lead_names)
            said = (f"{', '.join(extra)} is not one of them" if extra else "") + ("; " if extra and gone else "") + (
                f"{', '.join(gone)} is missing" if gone else "")  # fmt: skip
            raise ValueError(f"leads: the lead stages are the core procedure's {', '.join(LEAD_STAGES)} ({said}); "
                             "their probabilities, gates and stale thresholds are yours to set")  # fmt: skip
        return self

    def job(self, name: str) -> StageDef | None:
        return next((s for s in self.jobs if s.name == name), None)

    def lead(self, name: str) -> StageDef | None:
        return next((s for s in self.leads if s.name == name), None)

    def job_probability(self, name: str) -> float:
        if name == "won":
            return 1.0
        if name == "lost":
            return 0.0
        stage = self.job(name)
        return stage.probability if stage else 0.0

    def lead_probability(self, name: str) -> float:
        stage = self.lead(name)
        return stage.probability if stage else 0.0

    def job_label(self, name: str) -> str:
        stage = self.job(name)
        if stage:
            return stage.label
        return name.replace("_", " ").capitalize()

    def lead_label(self, name: str) -> str:
        stage = self.lead(name)
        return stage.label if stage else name.replace("_", " ").capitalize()

    def job_rank(self, name: str) -> float:
        """How far along a job stage is, for moves the book makes by itself (``states.forward``):
        the built-in stages keep their ranks (estimating and scheduled side by side, then
        proposal_sent); a stage of the owner's ranks just after the built-in stage before it."""
        built = {"estimating": 0.0, "scheduled": 0.0, "proposal_sent": 1.0, "won": 2.0, "lost": 2.0}
        if name in built:
            return built[name]
        rank = 0.0
        for stage in self.jobs:
            if stage.name in built:
                rank = built[stage.name]
            elif stage.name == name:
                return rank + 0.5
        return 0.5

    def named_job_stage(self, text: str) -> StageDef | None:
        """The job stage ``text`` names: its name or label, any case, spaces or underscores."""
        wanted = fold(text.replace("_", " "))
        for stage in self.jobs:
            if wanted in (fold(stage.name.replace("_", " ")), fold(stage.label)):
                return stage
        return None


# ---------------------------------------------------------------------------- sources
class NamedSource(_Part):
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    channel: str | None = Field(default=None, description="how its leads usually arrive")

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and value not in CHANNELS:
            raise ValueError(f"channel {value!r} is not one of {', '.join(CHANNELS)}")
        return value


def _named_sources() -> list[NamedSource]:
    return [
        NamedSource(name="Google Ads", aliases=["google ad", "adwords", "google adwords"], channel="ad"),
        NamedSource(name="Google Business Profile", aliases=["google maps", "google business", "gbp"]),
        NamedSource(name="Yelp", channel="ad"),
        NamedSource(name="Nextdoor"),
        NamedSource(name="Angi", aliases=["angie's list", "angies list", "angi leads"], channel="ad"),
        NamedSource(name="Facebook", aliases=["fb", "facebook ads", "instagram"], channel="ad"),
        NamedSource(name="Thumbtack", channel="ad"),
    ]


class Sources(_Part):
    named: list[NamedSource] = Field(default_factory=_named_sources)
    suggest_after: int = Field(default=3, ge=2, le=50, description="an ad-hoc source used this often is suggested")

    @field_validator("named")
    @classmethod
    def _unique(cls, value: list[NamedSource]) -> list[NamedSource]:
        seen: dict[str, str] = {}
        for source in value:
            for word in (source.name, *source.aliases):
                key = fold(word)
                if key in seen and seen[key] != source.name:
                    raise ValueError(f"{word!r} names both {seen[key]!r} and {source.name!r}")
                seen[key] = source.name
        return value

    def canonical(self, text: str | None) -> str | None:
        """The named source ``text`` means (by name or alias, any case), or None."""
        key = fold(text)
        if not key:
            return None
        # "google ads", "yelp ad", "flyers": the plain name, a plural, or the word "ads" after it
        keys = {key, key.removesuffix("s"), *(key.removesuffix(end).strip() for end in (" ads", " ad", " advertising"))}
        for source in self.named:
            names = {fold(source.name), *(fold(a) for a in source.aliases)}
            if keys & names:
                return source.name
        return None


# ---------------------------------------------------------------------------- the playbook
class Playbook(_Part):
    version: int = Field(default=1, ge=1)
    qualification: Qualification = Field(default_factory=Qualification)
    classes: dict[str, ClassEffort] = Field(default_factory=_default_classes)
    scoring: Scoring = Field(default_factory=Scoring)
    stages: Stages = Field(default_factory=Stages)
    sources: Sources = Field(default_factory=Sources)

    @field_validator("classes")
    @classmethod
    def _all_classes(cls, value: dict[str, ClassEffort]) -> dict[str, ClassEffort]:
        unknown = [c for c in value if c not in CLASSES]
        if unknown:
            raise ValueError(f"the classes are gold, silver and bronze; {', '.join(unknown)} is not one of them")
        missing = [c for c in CLASSES if c not in value]
        if missing:
            raise ValueError(f"the classes are gold, silver and bronze; {', '.join(missing)} is missing")
        return value

    def class_label(self, name: str | None) -> str:
        return self.classes[name].label if name in self.classes else "no class"

    def warnings(self) -> list[str]:
        """Settings that are allowed but deserve a second look (004's bias edge case)."""
        out = []
        if self.scoring.area.weight > 0:
            out.append(
                "Scoring gives points by where a customer lives (the area criterion). Make sure it stands for "
                "travel time or your service area, and not for who lives in a neighbourhood."
            )
        return out

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


_CACHE: dict[str, tuple[tuple[int, int], Playbook]] = {}


def playbook_path(directory: Path) -> Path:
    return Path(directory) / PLAYBOOK_FILE


def load_playbook(directory: Path) -> Playbook:
    """The business's playbook (the defaults when there is no file), read once per change of the file."""
    path = playbook_path(directory)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return Playbook()
    signature = (st.st_mtime_ns, st.st_size)
    cached = _CACHE.get(str(path))
    if cached and cached[0] == signature:
        return cached[1]
    playbook = parse_playbook(path.read_text(encoding="utf-8"), str(path))
    _CACHE[str(path)] = (signature, playbook)
    return playbook


def parse_playbook(text: str, where: str) -> Playbook:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from exc
    try:
        return Playbook.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            f"{where} was not used: {describe(exc)}. Fix it, or delete it to go back to the defaults."
        ) from exc


def describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        place = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "is not a playbook setting"
        parts.append(f"{place}: {message}" if place else message)
    return "; ".join(parts)


def save_playbook(directory: Path, playbook: Playbook) -> Playbook:
    """Write ``playbook`` as the next version (atomically) and return what was written."""
    current = load_playbook(directory)
    saved = playbook.model_copy(update={"version": max(current.version, playbook.version) + 1})
    saved = Playbook.model_validate(saved.to_json())  # the file always holds what loading accepts
    Path(directory).mkdir(parents=True, exist_ok=True)
    text = json.dumps(saved.to_json(), indent=2) + "\n"
    atomic_write_bytes(playbook_path(directory), text.encode("utf-8"))
    _CACHE.pop(str(playbook_path(directory)), None)
    return saved


def changed(playbook: Playbook, section: str, value: Any) -> Playbook:
    """A copy of ``playbook`` with one section replaced, validated as a whole (ValueError with the
    problems otherwise)."""
    data = playbook.to_json()
    data[section] = value.model_dump(mode="json", by_alias=True) if isinstance(value, BaseModel) else value
    try:
        return Playbook.model_validate(data)
    except ValidationError as exc:
        raise ValueError(describe(exc)) from exc
