"""Reading what the owner typed, without a model: phones, emails, addresses, names, dates, amounts,
reasons and outcomes. Small pure functions, each tested on the phrasings owners actually use."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from backoffice.tools.book.normalize import email_normal, phone_e164
from backoffice.tools.reports.winloss import previous_month

# Linear time on any input: a match starts only where a run of its characters starts, and the runs
# are possessive (never given back), so a long line without an "@" is scanned once, not once per
# character; a phone is at most 40 characters of digits and separators.
EMAIL = re.compile(r"(?<![\w.+'-])[\w.+'-]++@[\w-]++(?:\.[\w-]++)+")
PHONE = re.compile(r"(?<![\w/])\+?\(?\d[\d\s().\-]{5,40}\d(?:\s*(?:x|ext\.?)\s*\d+)?(?![\w/])")
STREET = (
    r"st|street|ave|avenue|rd|road|blvd|boulevard|dr|drive|ln|lane|ct|court|way|pl|place|ter|terrace|pkwy|parkway|"
    r"hwy|highway|cir|circle|sq|square|trl|trail|loop|row"
)
ADDRESS = re.compile(
    rf"\b\d+[A-Za-z]?(?:\s+[A-Za-z0-9.'\-]+){{1,5}}?\s+(?:{STREET})\b\.?(?:,?\s+(?:apt|unit|suite|#)\s*\w+)?", re.I
)
SKIP_WORDS = {"skip", "no", "none", "n/a", "na", "-", "don't know", "dont know", "not sure", "unknown", "nope", "pass"}
YES = {"y", "yes", "yeah", "yep", "sure", "ok", "okay", "please", "do it", "go ahead", "yes please", "send", "send it"}
NO = {"n", "no", "nope", "nah", "don't", "dont", "cancel", "not now", "no thanks", "stop"}


def is_skip(text: str) -> bool:
    return text.strip().lower().strip(".!") in SKIP_WORDS


def yes_no(text: str) -> bool | None:
    t = text.strip().lower().strip(".!")
    first = t.split(",")[0].strip()
    if t in YES or first in YES:
        return True
    if t in NO or first in NO:
        return False
    return None


def find_email(text: str) -> str | None:
    m = EMAIL.search(text)
    return email_normal(m.group(0)) if m else None


def find_phone(text: str, region: str) -> tuple[str, str] | None:
    """(as typed, E.164) for the first thing in ``text`` that parses as a phone number."""
    for m in PHONE.finditer(EMAIL.sub(" ", text)):
        raw = m.group(0).strip()
        if sum(c.isdigit() for c in raw) >= 7 and phone_e164(raw, region):
            return raw, phone_e164(raw, region) or raw
    return None


def find_address(text: str) -> str | None:
    m = ADDRESS.search(text)
    return m.group(0).strip(" ,.") if m else None


NOT_NAME = {
    "add", "new", "a", "an", "the", "customer", "client", "contact", "please", "called", "phone", "email", "named",
    "name", "is", "their", "his", "her", "and", "with", "from", "for", "inquiry", "enquiry", "lead", "as", "to", "of",
}  # fmt: skip


def find_name(text: str) -> str | None:
    """The first run of name-like words (letters, apostrophes, hyphens) not part of the command."""
    for chunk in re.split(r"[,;:\n]| - | — ", text):
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z.'\-]*", chunk)]
        words = [w for w in words if w.lower() not in NOT_NAME]
        if words and not any(ch.isdigit() for ch in chunk) and "@" not in chunk and len(words) <= 4:
            return " ".join(w[0].upper() + w[1:] for w in words)
    return None


# ---------------------------------------------------------------------------- dates
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
WEEKDAYS.update({name.lower(): i for i, name in enumerate(calendar.day_abbr)})
WEEKDAYS.update({"tues": 1, "thur": 3, "thurs": 3, "weds": 2})
MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9


@dataclass(frozen=True)
class When:
    day: dt.date
    span: tuple[int, int]


def find_date(text: str, today: dt.date) -> When | None:
    """The first date ``text`` names: today, tomorrow, (next) Friday, next week, in 3 days/weeks/months,
    end of the week, 2026-12-03, 12/3, Dec 3, 3rd of December. Weekdays mean the next one after today."""
    t = text.lower()
    found: list[When] = []

    def add(m: re.Match[str], day: dt.date | None) -> None:
        if day:
            found.append(When(day, m.span()))

    for m in re.finditer(r"\b(today|tonight|tomorrow|tmrw)\b", t):
        add(m, today if m.group(1) in ("today", "tonight") else today + dt.timedelta(days=1))
    for m in re.finditer(r"\b(?:(next|this|on)\s+)?(" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")\b", t):
        target = WEEKDAYS[m.group(2)]
        ahead = (target - today.weekday()) % 7 or 7
        add(m, today + dt.timedelta(days=ahead))
    for m in re.finditer(r"\bin\s+(a|an|one|two|three|four|six|\d+)\s+(day|week|month)s?\b", t):
        words = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "six": 6}
        n = int(m.group(1)) if m.group(1).isdigit() else words[m.group(1)]
        add(
            m,
            add_months(today, n)
            if m.group(2) == "month"
            else today + dt.timedelta(days=n * (7 if m.group(2) == "week" else 1)),
        )
    for m in re.finditer(r"\bnext week\b", t):
        add(m, today + dt.timedelta(days=7 - today.weekday()))
    for m in re.finditer(r"\b(?:end of (?:the|this) week|this weekend)\b", t):
        add(m, today + dt.timedelta(days=(4 - today.weekday()) % 7))
    for m in re.finditer(r"\b(\d{4})-(\d{2})-(\d{2})\b", t):
        add(m, _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
    for m in re.finditer(r"(?<![\d-])(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?(?![\d-])", t):
        year = int(m.group(3)) if m.group(3) else None
        add(m, _upcoming(today, int(m.group(1)), int(m.group(2)), year))
    month_names = "|".join(sorted(MONTHS, key=len, reverse=True))
    for m in re.finditer(rf"\b({month_names})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", t):
        add(m, _upcoming(today, MONTHS[m.group(1)], int(m.group(2)), None))
    for m in re.finditer(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({month_names})\b", t):
        add(m, _upcoming(today, MONTHS[m.group(2)], int(m.group(1)), None))
    return min(found, key=lambda w: w.span[0]) if found else None


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _upcoming(today: dt.date, month: int, day: int, year: int | None) -> dt.date | None:
    if year is not None:
        return _safe_date(year + 2000 if year < 100 else year, month, day)
    this_year = _safe_date(today.year, month, day)
    if this_year and this_year >= today:
        return this_year
    return _safe_date(today.year + 1, month, day)


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


FOLLOW_UP_CUE = re.compile(
    r"(call(?:ing)?\s+(?:\w+\s+)?back|callback|try\s+(?:\w+\s+)?(?:again|back)|ring\s+(?:\w+\s+)?back|follow[\s-]?up|check\s+(?:in|back)|get\s+back\s+to|chase|remind|"
    r"next\s+step|send\s+(?:\w+\s+)?(?:the\s+|a\s+|an\s+)?(?:quote|estimate|proposal)|come\s+by|visit|"
    r"meet(?:ing)?\s+again|call\s+(?:her|him|them)|touch\s+base|wants?\s+(?:a\s+)?(?:call|answer)|by\b)",
    re.I,
)


def find_follow_up(text: str, today: dt.date) -> dt.date | None:
    """A committed next step: a date named after a cue such as 'call back', 'follow up', 'by'."""
    for cue in FOLLOW_UP_CUE.finditer(text):
        clause = re.split(r"[.;\n]", text[cue.start() :], maxsplit=1)[0]
        when = find_date(clause, today)
        if when:
            return when.day
    return None


# ---------------------------------------------------------------------------- amounts and reasons
def find_amount(text: str) -> float | None:
    m = re.search(
        r"\$\s*(\d[\d,]*(?:\.\d+)?)\s*(k|thousand)?\b|\b(\d[\d,]*(?:\.\d+)?)\s*(k|thousand|dollars|bucks)\b", text, re.I
    )
    if not m:
        return None
    number = float((m.group(1) or m.group(3)).replace(",", ""))
    scale = (m.group(2) or m.group(4) or "").lower()
    return number * 1000 if scale in ("k", "thousand") else number


DISQUALIFY_REASONS = [
    ("budget", r"budget|price|expensive|afford|cost|money|cheap"),
    ("timing", r"timing|time|later|not now|next year|postpon|wait"),
    ("outside_scope", r"scope|don't do|dont do|not (?:something|what) we do|out of area|outside|not our"),
    ("no_response", r"no response|never (?:replied|answered|called back)|ghost|unresponsive|no answer|went quiet"
                    r"|not responding"),
    ("other", r"\bother\b"),
]  # fmt: skip
LOST_REASONS = [
    ("price", r"price|expensive|cheaper|cost|budget"),
    ("competition", r"competit|another (?:company|contractor|plumber|builder)|went with|someone else|other quote"),
    ("timing", r"timing|time|later|next year|postpon"),
    ("no_decision", r"no decision|undecided|never decided|couldn't decide|on hold|went quiet|ghost"),
    ("scope", r"scope|changed (?:their|the) plans|smaller|different job"),
    ("other", r"\bother\b"),
]  # fmt: skip


def find_reason(text: str, table: list[tuple[str, str]]) -> str | None:
    for reason, pattern in table:
        if re.search(pattern, text, re.I):
            return reason
    return None


OUTCOMES = [
    ("left_voicemail", r"voice ?mail|left a message|no answer|didn't pick up|didn't answer"),
    ("no_show", r"no[\s-]show|didn't show|did not show|stood (?:me|us) up"),
    ("rescheduled", r"reschedul|moved (?:it|the visit|the meeting)"),
    ("accepted_proposal", r"accepted|signed|said yes|going ahead|agreed to the (?:quote|estimate|proposal)"),
    ("rejected_proposal", r"rejected|declined|turned (?:it|us) down|said no"),
    ("sent_proposal", r"sent (?:\w+ )?(?:the |a |an |our )?(?:quote|estimate|proposal)"),
]


def find_outcome(text: str, spoke: bool) -> str:
    for outcome, pattern in OUTCOMES:
        if re.search(pattern, text, re.I):
            return outcome
    return "spoke" if spoke else "none"


FILLER = re.compile(
    r"^(?:the|a|an|our|my|that|this)\s+|\b(?:lead|leads|job|jobs|deal|deals|opportunity|inquiry|customer|client|"
    r"contact|project|account)\b|'s\b|[?.!]+$",
    re.I,
)


def clean_ref(text: str) -> str:
    """'the Oak St lead' -> 'Oak St'; "Dana's job" -> 'Dana'."""
    previous = None
    ref = text.strip()
    while previous != ref:
        previous = ref
        ref = FILLER.sub(" ", ref).strip(" ,")
        ref = " ".join(ref.split())
    return ref


def find_month(text: str, today: dt.date) -> str | None:
    """The month a report request names, as YYYY-MM: "this month", "last month", "2026-10",
    "October" or "Oct 2025" (a bare month name means its most recent one, this month included).
    None when no month is named."""
    t = text.lower()
    if m := re.search(r"\b(20\d\d)-(0[1-9]|1[0-2])\b", t):
        return f"{m.group(1)}-{m.group(2)}"
    if re.search(r"\bthis month\b", t):
        return f"{today:%Y-%m}"
    if re.search(r"\blast month\b|\bprevious month\b", t):
        return previous_month(today)
    names = "|".join(sorted(MONTHS, key=len, reverse=True))
    if m := re.search(rf"\b({names})\b\.?(?:\s+(20\d\d))?", t):
        month = MONTHS[m.group(1)]
        year = int(m.group(2)) if m.group(2) else today.year - (month > today.month)
        return f"{year}-{month:02d}"
    return None
