"""Reading an everyday edit: which field the owner is changing, on which kind of record, to what.

"change Tom's phone to 555-880-9999", "danas new email …", "kevin moved, new addy 22 harbor view
rd", "bump the kitchen remodel to 5k", "marcus expects to decide by end of month", "tag dana as
maintenance contract", "move the boiler job to visit booked", "give lindas lead to mike",
"smith & sons main line is now 555-310-2500", "archive kevin marsh", "ray is a past customer now".

``read_edit`` returns what ``PeopleFlows.flow_edit`` needs: the kind of record, the tool
arguments, and a problem to put to the owner when a value cannot be used (a partial phone, a
negative amount). The most specific reading wins: a stage phrase before a value, a value before a
phone ("they want a new number" after "back to estimating" is a price, not a phone).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from backoffice.agent.planners.offline.understand import (
    find_address,
    find_amounts,
    find_dates,
    find_email,
    find_phone,
    partial_phone,
)
from backoffice.tools.book.store import Doc

if TYPE_CHECKING:
    from backoffice.agent.planners.offline.engine import Engine, Said

JOB_STAGES = [("proposal_sent", r"proposal sent|quote sent|estimate sent|sent the (?:proposal|quote)"),
              ("scheduled", r"visit booked|visit scheduled|site visit|scheduled|booked"),
              ("estimating", r"estimating|pricing")]  # fmt: skip
LEAD_STAGES = [("scheduled_visit", r"visit booked|visit scheduled|site visit|scheduled|booked"),
               ("estimate_sent", r"estimate sent|quote sent|proposal sent|price sent"),
               ("needs_analysis", r"needs analysis|needs assessment"),
               ("follow_up", r"follow up stage|follow up"),
               ("inquiry", r"inquiry")]  # fmt: skip
LIFECYCLE = [("past_customer", r"past customer|former customer|ex customer|not a customer anymore"),
             ("customer", r"is a customer now|now a customer|is a customer|became a customer"),
             ("prospect", r"back to (?:a )?prospect|is a prospect")]  # fmt: skip
CHANNELS = [("sms", r"texts?|texting|sms|texted"), ("email", r"emails?|emailed"),
            ("phone", r"calls?|phone|called|a call")]  # fmt: skip


RIVAL = re.compile(
    r"^(?:(?:it looks like|looks like|fyi|heads up)[,:]?\s+)?(?P<who>[\w&'. ]{2,40}?)\s+(?:is|are)\s+(?:also\s+)?"
    r"(?:quoting|bidding(?:\s+on)?|pricing|putting in a (?:quote|bid) for)\b"
    r"|\b(?:up against|competing with|going up against)\s+(?P<who2>[\w&'. \-]{2,40}?)\s+(?:on|for)\b",
    re.I,
)
LEAD_SOURCE_LATER = re.compile(
    r"\blead\b.{0,40}?\b(?:came (?:in )?(?:from|through|via)|was from|is from)\s+(?P<src>.+)$"
)
SOURCE_LATER = re.compile(
    r"\bsource (?:for|of|on) .+? (?:is|was|=)\s+(?P<src>.+)$"
    r"|\b(?:heard (?:about|of) us|found us|came to us|was referred) (?:from|on|through|via|by)\s+(?P<src2>.+)$"
)


def read_edit(engine: Engine, said: Said) -> Doc | None:
    t, raw = said.norm, said.raw
    today, region = engine.store.today(), said.region
    d: Doc = {"said": said}

    def done(kind: str, **args: object) -> Doc:
        d.update(kind=kind, args={k: v for k, v in args.items() if v is not None})
        return d

    # renaming: "rename the leaky faucet lead to …", "call it …"
    m = re.search(r"\brename\b.+?\bto\b\s+(?P<new>.+)$", raw, re.I)
    if m:
        kind = "job" if re.search(r"\bjob\b", t) else "record"
        field = "name" if kind == "job" else "title"
        d["field"] = field
        return (
            done(kind, **{field: m.group("new").strip(" .")})
            if kind == "job"
            else _record(d, field, m.group("new").strip(" ."))
        )
    # stages
    stage = re.search(r"\b(?:to|into|in|back to|as|at)\s+(proposal sent|quote sent|estimate sent|visit booked|visit "
                      r"scheduled|site visit|scheduled|estimating|needs analysis|follow up stage|inquiry)\b",
                      t)  # fmt: skip
    booked = re.search(r"\b(?:booked|scheduled|set up) (?:a |the )?(?:site )?visit\b", t)
    if stage or booked:
        words = stage.group(1) if stage else "visit booked"
        job_stage = next((s for s, p in JOB_STAGES if re.search(p, words)), None)
        lead_stage = next((s for s, p in LEAD_STAGES if re.search(p, words)), None)
        d["stages"] = {"job": job_stage, "lead": lead_stage}
        d["field"] = "stage"
        if booked:
            when = next((w.day for w in find_dates(t, today, said.order) if not w.past), None)
            if when:
                d["visit_day"] = when.isoformat()
        return _record(d, "stage", None)
    # owner: "give lindas lead to mike", "assign the boiler job to sam"
    m = re.search(r"\b(?:give|assign|hand)\b.+?\bto\s+(?P<who>[a-z][a-z .'\-]{0,30}?)\s*$", t)
    if m and re.search(r"\b(?:lead|job)\b", t):
        owner = " ".join(w.capitalize() for w in m.group("who").split())
        d["field"] = "owner"
        return _record(d, "owner", owner, lead_only=True)
    # a rival quoting the same work: "acme plumbing is also quoting the kitchen remodel", "we're up
    # against budget pipes on the boiler job"
    m = RIVAL.search(raw)
    if m:
        rival = (m.group("who") or m.group("who2") or "").strip(" ,.")
        rival = re.sub(r"^(?:the|a|an)\s+", "", rival, flags=re.I)
        if rival:
            d["field"] = "competitor"
            name = " ".join(w.capitalize() if w.islower() else w for w in rival.split())
            return _record(d, "add_competitors", [name])
    # where a lead came from, set later: "the kitchen remodel lead came from google ads"
    m = LEAD_SOURCE_LATER.search(t)
    if m and re.search(r"\blead\b", t):
        where = re.sub(r"^(?:a|an|the|our)\s+", "", m.group("src").strip(" .!"))
        if where:
            d["field"] = "source_detail"
            return _record(d, "source_detail", " ".join(w.capitalize() for w in where.split()), lead_only=True)
    # how they heard about us, set later: "source for mike is yelp", "mike heard about us from yelp"
    m = SOURCE_LATER.search(t)
    if m:
        said_where = m.group("src") or m.group("src2") or ""
        where = re.sub(r"^(?:a|an|the|our)\s+", "", said_where.strip(" .!"))
        where = re.sub(r"\s+(?:ad|ads|advert)$", " ad", where)
        if where:
            d["field"] = "source"
            return done("contact", source=" ".join(w.capitalize() if w.islower() else w for w in where.split()))
    # tags
    if re.search(r"^tag\b|\btag\b.{0,40}\b(?:as|with)\b|\b(?:add|put|stick|give \w+) (?:a |the |another )?tag\b", t):
        tag = _tag_text(said)
        if not tag:
            d.update(kind="contact", field="add_tags", problem="What should the tag say?", value_kind="text")
            return d
        return done("contact", add_tags=[tag])
    # archive
    if re.search(r"\barchive\b|\boff (?:my|the|our) list\b|\bremove\b.{0,30}\bfrom (?:my |the |our )?(?:list|book)", t):
        return done("contact", archived=True)
    # a note on the record
    m = re.search(r"(?:add (?:a )?note to|note (?:to|on)|on)\s.+?\brecord\b\s*[:,\-]?\s*(?P<note>.+)$", raw, re.I)
    if m and m.group("note").strip():
        return done("contact", append_note=m.group("note").strip())
    # preferred channel and lifecycle
    m = re.search(r"\bprefers?\s+(?:to be\s+)?(\w+)", t)
    if m:
        channel = next((c for c, p in CHANNELS if re.fullmatch(p, m.group(1))), None)
        if channel:
            return done("contact", preferred_channel=channel)
    stage_name = next((s for s, p in LIFECYCLE if re.search(p, t)), None)
    if stage_name:
        return done("contact", lifecycle_stage=stage_name)
    # dates: "close date -> 12/20", "expects to decide by end of month", "should close by the 3rd"
    if re.search(r"\bclose date\b|\bdecide by\b|\bclose (?:by|on)\b|\bclosing (?:by|on)\b", t):
        when = next((w.day for w in find_dates(t, today, said.order) if not w.past), None)
        d["field"] = "expected_close_date"
        if when is None:
            d.update(problem="Which day should it close by?", value_kind="date")
            return _record(d, "expected_close_date", None)
        return _record(d, "expected_close_date", when.isoformat())
    # money: "bump … to 5k", "more like $1,200", "amount to 2,650"
    amounts = find_amounts(raw)
    money_words = re.search(r"\b(?:bump|value|amount|worth|price|estimate|more like|budget|total)\b", t)
    if amounts and (money_words or not find_phone(raw, region)):
        amount = amounts[-1] if len(amounts) > 1 and re.search(r"\bto\b", t) else amounts[0]
        d["field"] = "value"
        if amount.value is None:
            d.update(problem=f"{amount.problem}; I did not change anything.", ask="What should the amount be?",
                     value_kind="money")  # fmt: skip
            return _record(d, "value", None)
        return _record(d, "value", amount.value)
    if money_words and re.search(r"\b(?:bump|value|amount)\b", t):
        unread = "I could not read an amount there. What should the amount be? (e.g. $2,600 or 2.6k)"
        d.update(field="value", problem=unread, value_kind="money")
        return _record(d, "value", None)
    # company line
    phone = find_phone(raw, region)
    if re.search(r"\bmain (?:line|phone|number)\b|\boffice (?:line|phone|number)\b", t) and said.mentions.of("company"):
        company = said.mentions.of("company")[0]
        d["record_id"] = company.id
        if phone is None:
            d.update(kind="company", field="main_phone", problem="What's the new main number?", value_kind="phone")
            return d
        return done("company", main_phone=phone[1])
    # contact details
    email = find_email(raw)
    if email and re.search(r"\bemail|e-mail|\bmail\b", t):
        return done("contact", email=email)
    if phone:
        return done("contact", phone=phone[1])
    if re.search(r"\b(?:phone|number|cell|mobile|line)\b", t):
        short = partial_phone(raw)
        problem = (f"{short} is not a whole phone number (it needs the area code)." if short
                   else "What's the new number?")  # fmt: skip
        d.update(kind="contact", field="phone", problem=problem, value_kind="phone", ask="What's the whole number?")
        return d
    if email:
        return done("contact", email=email)
    address = find_address(raw, town=True)
    if address and re.search(r"\baddress|\bmoved\b|\blives\b|\bnew place\b", t):
        return done("contact", address=address)
    if re.search(r"\baddress\b|\bmoved\b", t):
        d.update(kind="contact", field="address", problem="What's the new address?", value_kind="address")
        return d
    if address:
        return done("contact", address=address)
    return None


def _record(d: Doc, field: str, value: object, lead_only: bool = False) -> Doc:
    """An edit of a lead or a job, whichever the owner means; the field names differ per kind."""
    d["kind"] = "lead" if lead_only else "record"
    d["pending_field"] = field
    d["pending_value"] = value
    return d


def args_for(d: Doc, kind: str) -> dict[str, object]:
    field, value = d.get("pending_field"), d.get("pending_value")
    if field == "stage":
        stage = (d.get("stages") or {}).get(kind)
        return {"stage" if kind == "job" else "pipeline_stage": stage} if stage else {}
    if value is None:
        return {}
    if field == "value":
        return {"amount" if kind == "job" else "estimated_value": value}
    if field == "title":
        return {"name" if kind == "job" else "title": value}
    return {str(field): value}


def _tag_text(said: Said) -> str:
    """The words after "tag", less the words that named the record: "tag dana as maintenance
    contract" -> "maintenance_contract"."""
    m = re.search(r"\b(?:as|with)\s+(?:an?\s+|the\s+)?(?P<tag>[a-z][a-z0-9 \-]*?)\s*[.!]?$", said.norm)
    if m:
        return "_".join(m.group("tag").split())
    words = said.norm.split()
    if "tag" in words:
        words = words[words.index("tag") + 1 :]
    named: list[str] = []
    for hit in said.mentions.candidates("contact")[:1]:
        named = list(hit.words)
    for kind in ("lead", "job"):
        for hit in said.mentions.of(kind)[:1]:
            named += list(hit.words)
    for w in named:
        for form in (w, w + "s"):
            if form in words:
                words.remove(form)
                break
    words = [w.strip(".,!?:;") for w in words]
    words = [w for w in words if w and w not in {"the", "a", "an", "as", "with", "lead", "job", "contact", "customer",
                                                 "record", "please", "tag", "to", "is", "on", "for", "them", "him",
                                                 "her", "it"}]  # fmt: skip
    tag = "_".join(words)
    return tag
