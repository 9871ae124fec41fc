"""Lead sources: where leads come from in the owner's words, which of them are named, and what the
business spends on each per month.

A lead keeps how it arrived (``source``: phone call, email, web form, referral, ad, other) and,
when known, where it came from (``source_detail``: "Google Ads", "yard sign"). A detail that matches
a named source of the playbook (by name or alias) is stored under that name; any other is kept as
the owner said it — an "other" source is always allowed — and once it has brought
``sources.suggest_after`` leads (3) it is suggested as a named one. A lead's source can be set
later, and the reports count it where it is now.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from backoffice.tools.book.models import Amount
from backoffice.tools.book.normalize import fold, money
from backoffice.tools.book.playbook import CHANNELS, NamedSource, Playbook, changed, save_playbook
from backoffice.tools.book.store import Doc, Store
from backoffice.tools.errors import BadInput
from backoffice.tools.registry import ToolInput, tool

UNATTRIBUTED = "unattributed"
CHANNEL_LABELS = {"phone_call": "phone call", "email": "email", "web_form": "web form", "referral": "referral",
                  "ad": "ad (unnamed)", "other": UNATTRIBUTED}  # fmt: skip
MONTH = r"\d{4}-(0[1-9]|1[0-2])"


def attribution(playbook: Playbook, source: str | None, detail: str | None) -> str:
    """The source a lead counts under in the reports: its named source, else the owner's own words
    for it, else how it arrived; a lead nobody knows the origin of is "unattributed"."""
    if detail and detail.strip():
        return playbook.sources.canonical(detail) or " ".join(detail.split())
    return CHANNEL_LABELS.get(source or "other", UNATTRIBUTED)


def clean_detail(store: Store, text: str | None) -> str | None:
    """A source detail as it is stored: the named source it means, else the words as given."""
    if text is None or not text.strip():
        return None
    return store.playbook.sources.canonical(text) or " ".join(text.split())


def suggestion(store: Store, detail: str | None) -> str:
    """A sentence suggesting an ad-hoc source be named, once it has brought enough leads ("" if not)."""
    if not detail or store.playbook.sources.canonical(detail):
        return ""
    uses = store.count_where("leads", source_key=fold(detail))
    if uses < store.playbook.sources.suggest_after:
        return ""
    return (f" {detail!r} has now brought {uses} leads: make it a named source, so its spend and results are "
            f"tracked (name_source)?")  # fmt: skip


# ---------------------------------------------------------------------------- naming a source
class NameSourceInput(ToolInput):
    name: str = Field(
        min_length=1, max_length=60, description="the source's name as reports show it, e.g. 'Yard signs'"
    )
    aliases: list[str] = Field(default_factory=list, description="other ways the owner says it, e.g. ['yard sign']")
    channel: str | None = Field(
        default=None, description=f"how its leads usually arrive: one of {', '.join(CHANNELS)}; leave out if mixed"
    )


def _preview_name(store: Store, args: dict[str, Any]) -> tuple[str, str]:
    uses = store.count_where("leads", source_key=fold(args["name"]))
    also = f" (also said as {', '.join(args.get('aliases') or [])})" if args.get("aliases") else ""
    return f"Add {args['name']!r} to the named sources", (
        f"{args['name']}{also} becomes a named lead source in playbook.json: the source report, spend and scores "
        f"treat it as one of yours. {uses} lead(s) already say it."
    )


@tool("write", preview=_preview_name)
def name_source(store: Store, args: NameSourceInput) -> dict[str, Any]:
    """Make a lead source a named one (playbook.json): the reports and spend then track it by this name,
    and leads that said it (or an alias) count under it. Use when the owner agrees to a suggested source."""
    playbook = store.playbook
    words = [args.name, *args.aliases]
    taken = [w for w in words if playbook.sources.canonical(w)]
    if taken:
        named = playbook.sources.canonical(taken[0])
        raise BadInput(f"Source {args.name!r}", [f"{taken[0]!r} already names {named!r}"])
    sources = playbook.sources.model_copy(deep=True)
    sources.named.append(NamedSource(name=" ".join(args.name.split()), aliases=args.aliases, channel=args.channel))
    try:
        saved = save_playbook(store.directory, changed(playbook, "sources", sources))
    except ValueError as exc:
        raise BadInput(f"Source {args.name!r}", [str(exc)]) from None
    renamed = _rename_leads(store, words, args.name)
    return {
        "source": args.name,
        "playbook_version": saved.version,
        "leads_renamed": renamed,
        "message": f"{args.name} is now a named source (playbook version {saved.version})"
        + (f"; {renamed} lead(s) that said it now count under it." if renamed else "."),
    }


def _rename_leads(store: Store, words: list[str], name: str) -> int:
    keys = {fold(w) for w in words}
    count = 0
    with store.transaction():
        for key in keys:
            for lead in store.scan("leads", source_key=key):
                if lead.get("source_detail") != name:
                    store.update("leads", lead["lead_id"], {"source_detail": name}, action="source_named")
                    count += 1
    return count


# ---------------------------------------------------------------------------- spend
class SourceSpendInput(ToolInput):
    source: str = Field(min_length=1, description="the source the money went to, e.g. 'Google Ads', 'Yelp', 'flyers'")
    amount: Amount = Field(description="dollars spent in that month")
    month: str | None = Field(default=None, pattern=f"^{MONTH}$", description="YYYY-MM; default this month")
    add: bool = Field(
        default=False, description="true adds to what is already recorded for that month; false replaces it"
    )
    note: str | None = Field(default=None, description="what it was for, in the owner's words")


def spend_for(store: Store, source: str, month: str) -> Doc | None:
    found = store.scan("source_spend", source_key=fold(source), month=month)
    return found[0] if found else None


@tool("write")
def record_source_spend(store: Store, args: SourceSpendInput) -> dict[str, Any]:
    """Record what was spent on a lead source in a month ("we spent $400 on Google ads this month"): one
    record per source and month, replaced by a new figure (or added to, with add). The source is matched to
    a named one by name or alias; a new name becomes a named source, since money is being spent on it."""
    month = args.month or f"{store.today():%Y-%m}"
    playbook = store.playbook
    name = playbook.sources.canonical(args.source) or _title(args.source)
    newly_named = playbook.sources.canonical(args.source) is None
    if newly_named:
        sources = playbook.sources.model_copy(deep=True)
        sources.named.append(NamedSource(name=name, aliases=[args.source] if fold(args.source) != fold(name) else []))
        save_playbook(store.directory, changed(playbook, "sources", sources))
        _rename_leads(store, [args.source, name], name)
    with store.transaction():
        existing = spend_for(store, name, month)
        if existing is None:
            record = store.insert("source_spend", {"source": name, "month": month, "amount": args.amount,
                                                   "note": args.note or ""}, action="recorded")  # fmt: skip
            before = None
        else:
            before = existing["amount"]
            amount = round(existing["amount"] + args.amount, 2) if args.add else args.amount
            changes: Doc = {"amount": amount}
            if args.note:
                changes["note"] = args.note
            record = store.update("source_spend", existing["spend_id"], changes, action="spend_changed")
    said = f"{money(record['amount'])} on {name} for {month}"
    if before is not None and before != record["amount"]:
        said += f" (was {money(before)})"
    return {
        "spend": record,
        "named_now": newly_named,
        "message": f"Recorded {said}." + (f" {name} is now a named source." if newly_named else ""),
    }


def _title(text: str) -> str:
    words = " ".join(text.split())
    return words if any(c.isupper() for c in words) else re.sub(r"\b[a-z]", lambda m: m.group(0).upper(), words)
