"""Reading what the owner typed, without a model: phones, emails, addresses, names, dates, amounts,
reasons, outcomes and competitors. Small pure functions, each tested on phrasings owners use.

Everything here either finds a thing or says it found nothing; a value that is there but cannot be
used (a negative amount, "$" followed by 400 nines, the 31st of a month without one) comes back as
a problem the planner puts to the owner, never as a guess.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

import phonenumbers

from backoffice.agent.planners.offline.words import is_skip, yes_no  # noqa: F401  (the chat reads answers here)
from backoffice.tools.book.normalize import email_normal, phone_e164
from backoffice.tools.reports.winloss import previous_month

# Linear time on any input: a match starts only where a run of its characters starts, and the runs
# are possessive (never given back), so a long line without an "@" is scanned once, not once per
# character; a phone is at most 40 characters of digits and separators.
EMAIL = re.compile(r"(?<![\w.+'-])[\w.+'-]++@[\w-]++(?:\.[\w-]++)+")
PHONE = re.compile(r"(?<![\w/$.,])\+?\(?\d[\d\s().\-]{5,40}\d(?:\s*(?:x|ext\.?)\s*\d+)?(?![\w/%])")
STREET = (
    r"st|street|ave|avenue|rd|road|blvd|boulevard|dr|drive|ln|lane|ct|court|way|pl|place|ter|terrace|pkwy|parkway|"
    r"hwy|highway|cir|circle|sq|square|trl|trail|loop|row|crescent|cres"
)
ADDRESS = re.compile(
    rf"\b\d+[A-Za-z]?(?:\s+(?!(?:and|at|for|the|to|with|about)\b|\d+\b)[A-Za-z0-9.'\-]+){{1,4}}?\s+(?:{STREET})\b\.?"
    r"(?:,?\s+(?:apt|unit|suite|#)\.?\s*\w+)?",
    re.I,
)


def find_email(text: str) -> str | None:
    m = EMAIL.search(text)
    return email_normal(m.group(0).strip(".")) if m else None


def find_phone(text: str, region: str) -> tuple[str, str] | None:
    """(as typed, E.164) for the first whole phone number in ``text``, found by phonenumbers' own
    matcher (so "555 318 2210 … 17 Hillside Ave" never becomes one long number). A number without
    its area code ("555-0199") is not a whole number."""
    blanked = EMAIL.sub(lambda m: " " * len(m.group(0)), text)
    for m in phonenumbers.PhoneNumberMatcher(blanked, region, leniency=phonenumbers.Leniency.POSSIBLE):
        raw = m.raw_string.strip()
        digits = sum(c.isdigit() for c in raw)
        if digits >= 10 or (raw.startswith("+") and digits >= 8):
            e164 = phone_e164(raw, region)
            if e164 and e164.startswith("+"):
                return raw, e164
    return None


def partial_phone(text: str) -> str | None:
    """Something typed as a phone number that is too short to be one ("555-0199")."""
    for m in re.finditer(r"(?<![\w$])\d{3}[\s.\-]\d{4}(?![\w])|(?<![\w$])\d{7}(?![\w])", text):
        return m.group(0)
    return None


CITY = re.compile(r"\s*,\s*([A-Z][a-zA-Z]+(?:\s+[A-Z][a-zA-Z]+)?(?:\s*,?\s*[A-Z]{2})?(?:\s+\d{5})?)(?=\s*(?:[,.;]|$))")


def find_address(text: str, town: bool = False) -> str | None:
    """A street address ("14 Oak St", "410 Main St, Apt 2"); with ``town`` (the text answers a question
    for an address) also the town after a comma in capitals ("14 Oak St, Springfield")."""
    cleaned = EMAIL.sub(" ", text)
    m = ADDRESS.search(cleaned)
    if not m:
        return None
    address = m.group(0).strip(" ,.")
    place = CITY.match(cleaned, m.end()) if town else None
    if place:
        address = f"{address}, {place.group(1)}"
    # an owner typing in lower case gets a tidy address; one typed with care is kept as it is
    return " ".join(w.capitalize() if w.islower() and not w[0].isdigit() else w for w in address.split())


SOURCE = re.compile(
    r"\b(?:referred\s+by|referral\s+from|recommended\s+by|found\s+us\s+(?:on|through|via|at|from)|heard\s+(?:about\s+us\s+)?"
    r"(?:from|on|through|at)|came\s+(?:from|through|via)|via|source:?)\s+([^,;.]+)",
    re.I,
)


def find_source(text: str) -> tuple[str, str] | None:
    """(as typed, what it names) for how someone heard about the business: "referred by Bob"."""
    m = SOURCE.search(text)
    return (m.group(0), m.group(1).strip()) if m else None


DETAIL_WORDS = {"her", "his", "their", "its", "number", "phone", "cell", "mobile", "email", "address", "addy", "is",
                "and", "the", "it", "s", "service", "at", "lives", "ph", "e", "mail", "also", "oh", "ok", "yes", "sure",
                "plus", "with", "on", "new"}  # fmt: skip


def has_details(text: str, region: str) -> bool:
    """The text gives a phone, an email, an address or how someone heard about the business."""
    return bool(find_phone(text, region) or find_email(text) or find_address(text) or find_source(text))


def only_details(text: str, region: str) -> bool:
    """The text is nothing but contact details ("her number is 555 404 1188 and the address is 123 Main
    St", "referred by Bob"), so it answers a question for them rather than asking something else."""
    if not has_details(text, region):
        return False
    rest = text
    if phone := find_phone(rest, region):
        rest = rest.replace(phone[0], " ")
    if email := find_email(rest):
        rest = re.sub(re.escape(email), " ", rest, flags=re.I)
    if address := find_address(rest):
        rest = re.sub(re.escape(address), " ", rest, flags=re.I)
    if source := find_source(rest):
        rest = rest.replace(source[0], " ")
    words = [w for w in re.findall(r"[a-z]+", rest.lower()) if w not in DETAIL_WORDS]
    return len(words) <= 1


# ---------------------------------------------------------------------------- names
NOT_NAME = {
    "add", "new", "a", "an", "the", "customer", "customers", "client", "clients", "contact", "contacts", "please",
    "called", "call", "phone", "email", "named", "name", "names", "is", "their", "his", "her", "and", "with", "from",
    "for", "inquiry", "enquiry", "lead", "as", "to", "of", "me", "can", "you", "u", "pls", "put", "in", "save",
    "create", "enter", "record", "cust", "cell", "mobile", "ph", "tel", "number", "at", "on", "lives", "address",
    "addy", "hi", "hey", "some", "someone", "guy", "lady", "woman", "man", "person", "i", "we", "got", "via",
    "web", "form", "website", "online", "just", "they", "them", "he", "she", "it", "was", "who", "wants",
    "needs", "about", "re", "abt", "job", "also", "another", "referral", "referred", "by", "ad", "text",
    "texted", "emailed", "rang", "phoned", "left", "vm", "voicemail", "message", "msg", "this", "that", "owner",
    "mgr", "manager", "office", "w", "w/", "asap", "today",
    "tomorrow", "yesterday", "prospect", "prospects", "sms", "txt", "facebook", "google", "yelp", "nextdoor",
    "angi", "angie", "thumbtack", "home", "advisor", "homeadvisor", "instagram", "craigslist", "flyer", "mrs",
    "mr", "ms", "miss", "dr", "sir", "madam", "mister", "sure", "ok", "okay", "yes", "no", "one",
}  # fmt: skip
HONORIFICS = {"mr", "mrs", "ms", "miss", "dr", "mister"}
_NAME_WORD = re.compile(r"^[A-Za-z][A-Za-z'\-]*\.?$")


def title_word(word: str) -> str:
    """'o'brien' -> "O'Brien", 'mcd' stays sensible, 'roto-rooter' -> 'Roto-Rooter'."""
    parts = re.split(r"([\-'])", word)
    out = []
    for i, p in enumerate(parts):
        if p in ("-", "'") or i > 1 and parts[i - 1] == "'" and len(p) <= 1:
            out.append(p)
        else:
            out.append(p[:1].upper() + p[1:] if p.islower() or p.isupper() and len(p) > 3 else p)
    return "".join(out)


@dataclass(frozen=True)
class Name:
    first: str
    last: str
    honorific: str = ""

    @property
    def full(self) -> str:
        return " ".join(x for x in (self.first, self.last) if x)

    @property
    def shown(self) -> str:
        return " ".join(x for x in (self.honorific, self.first, self.last) if x)


def name_words(chunk: str, limit: int = 3) -> list[str] | None:
    """The leading name-like words of ``chunk`` (at most ``limit``), or None when it does not start
    with a name."""
    words: list[str] = []
    for raw in chunk.split():
        word = raw.strip(',;:()"')
        if word.lower().endswith("'s") and words:  # "dana reyes's husband": not part of this name
            return None
        if not _NAME_WORD.match(word) or word.lower().rstrip(".") in NOT_NAME - HONORIFICS:
            break
        words.append(word)
        if len(words) == limit or raw.endswith((",", ";", ":")):
            break
    return words or None


def make_name(words: list[str]) -> Name | None:
    words = [w for w in words if w]
    honorific = ""
    if words and words[0].lower().rstrip(".") in HONORIFICS:
        honorific = title_word(words[0].rstrip(".").lower())
        words = words[1:]
        if len(words) == 1:
            return Name("", title_word(words[0]), honorific)
    if not words or len(words) > 3:
        return None
    cased = [w if (w[:1].isupper() and not w.isupper()) else title_word(w.lower()) for w in words]
    if len(cased) == 1:
        return Name(cased[0], "", honorific)
    return Name(" ".join(cased[:-1]), cased[-1], honorific)


def find_name(text: str) -> str | None:
    """The first run of name-like words (letters, apostrophes, hyphens) not part of the command."""
    for chunk in re.split(r"[,;:\n]| - | — ", text):
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z.'\-]*", chunk) if w.lower() not in NOT_NAME]
        if words and not any(ch.isdigit() for ch in chunk) and "@" not in chunk and len(words) <= 4:
            return " ".join(title_word(w) if w.islower() else w for w in words)
    return None


# ---------------------------------------------------------------------------- dates
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
WEEKDAYS.update({name.lower(): i for i, name in enumerate(calendar.day_abbr)})
WEEKDAYS.update({"tues": 1, "thur": 3, "thurs": 3, "weds": 2})
MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "couple": 2, "a couple": 2, "few": 3,
                "a few": 3}  # fmt: skip
# Where the month comes before the day in a date like 12/3 (everywhere else the day comes first).
MONTH_FIRST = {"US", "PH", "CA", "FM", "MH", "PW", "GU", "AS", "MP", "VI", "PR", "UM", "BZ"}


def month_first(order: str) -> bool:
    """``order`` is the business's date order ("month_first", "day_first") or, failing that, its region."""
    if order in ("month_first", "day_first"):
        return order == "month_first"
    return order.upper() in MONTH_FIRST


@dataclass(frozen=True)
class When:
    day: dt.date
    span: tuple[int, int]
    past: bool = False  # "yesterday", "last friday": when something happened, not a next step


def find_dates(text: str, today: dt.date, region: str = "US") -> list[When]:
    """Every date ``text`` names, in order: today, tomorrow, yesterday, (next/last) Friday, next week,
    in 3 days/weeks/months, end of the week/month, the 3rd, 2026-12-03, 12/3 (in the region's
    order), Dec 3, 3rd of December. A weekday means the next one after today."""
    t = text.lower()
    found: list[When] = []

    def add(m: re.Match[str], day: dt.date | None, past: bool = False) -> None:
        if day:
            found.append(When(day, m.span(), past))

    for m in re.finditer(r"\b(today|tonight|this (?:morning|afternoon|evening)|tomorrow|yesterday)\b", t):
        word = m.group(1)
        if word == "yesterday":
            add(m, today - dt.timedelta(days=1), past=True)
        else:
            add(m, today + dt.timedelta(days=1) if word == "tomorrow" else today)
    for m in re.finditer(r"\b(\d{4})-(\d{2})-(\d{2})\b", t):
        add(m, _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
    for m in re.finditer(r"(?<![\d\-/$])(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2,4}))?(?![\d\-/%]|\.\d)", t):
        a, b = int(m.group(1)), int(m.group(2))
        month, day = (a, b) if month_first(region) else (b, a)
        year = int(m.group(3)) if m.group(3) else None
        add(m, _upcoming(today, month, day, year))
    month_names = "|".join(sorted(MONTHS, key=len, reverse=True))
    for m in re.finditer(rf"\b({month_names})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(20\d\d))?", t):
        add(m, _upcoming(today, MONTHS[m.group(1)], int(m.group(2)), int(m.group(3)) if m.group(3) else None))
    for m in re.finditer(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({month_names})\b", t):
        add(m, _upcoming(today, MONTHS[m.group(2)], int(m.group(1)), None))
    for m in re.finditer(r"\b(?:(next|this|on|last|coming)\s+)?(" + "|".join(sorted(WEEKDAYS, key=len, reverse=True))
                         + r")\b", t):  # fmt: skip
        target = WEEKDAYS[m.group(2)]
        if m.group(1) == "last":
            back = (today.weekday() - target) % 7 or 7
            add(m, today - dt.timedelta(days=back), past=True)
        else:
            ahead = (target - today.weekday()) % 7 or 7
            add(m, today + dt.timedelta(days=ahead))
    numbers = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
    for m in re.finditer(rf"\b(?:in|within|after)\s+(\d+|{numbers})\s+(day|week|month|year)s?\b", t):
        n = int(m.group(1)) if m.group(1).isdigit() else NUMBER_WORDS[m.group(1)]
        unit = m.group(2)
        if unit == "month":
            add(m, add_months(today, n))
        elif unit == "year":
            add(m, add_months(today, 12 * n))
        else:
            add(m, today + dt.timedelta(days=n * (7 if unit == "week" else 1)))
    for m in re.finditer(r"\b(?:in|within)\s+a\s+(day|week|month|year)\b", t):
        unit = m.group(1)
        add(m, add_months(today, 1 if unit == "month" else 12) if unit in ("month", "year")
            else today + dt.timedelta(days=7 if unit == "week" else 1))  # fmt: skip
    for m in re.finditer(r"\bnext week\b", t):
        add(m, today + dt.timedelta(days=7 - today.weekday()))
    for m in re.finditer(r"\bnext month\b", t):
        add(m, add_months(today.replace(day=1), 1))
    for m in re.finditer(r"\b(?:(?:the\s+)?end of (?:the |this )?week|this weekend|by the weekend)\b", t):
        add(m, today + dt.timedelta(days=(4 - today.weekday()) % 7))
    for m in re.finditer(r"\b(?:the\s+)?end of (?:the |this )?month\b|\bmonth[\s-]end\b", t):
        add(m, today.replace(day=calendar.monthrange(today.year, today.month)[1]))
    for m in re.finditer(r"\b(?:the\s+)?end of next month\b", t):
        nxt = add_months(today.replace(day=1), 1)
        add(m, nxt.replace(day=calendar.monthrange(nxt.year, nxt.month)[1]))
    for m in re.finditer(r"\b(?:on|by|before|until|for|til|till)?\s*the\s+(\d{1,2})(st|nd|rd|th)\b"
                         r"(?!\s+(?:of\s+)?\w*\s*(?:"
                         + month_names + r"))", t):  # fmt: skip
        add(m, _next_day_of_month(today, int(m.group(1))))
    # where two readings overlap ("next month" inside "end of next month") the longer one is meant
    kept: list[When] = []
    for when in sorted(found, key=lambda w: (-(w.span[1] - w.span[0]), w.span[0])):
        if not any(a < when.span[1] and when.span[0] < b for a, b in (k.span for k in kept)):
            kept.append(when)
    return sorted(kept, key=lambda w: w.span[0])


def find_date(text: str, today: dt.date, region: str = "US") -> When | None:
    found = find_dates(text, today, region)
    return found[0] if found else None


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


def _next_day_of_month(today: dt.date, day: int) -> dt.date | None:
    """'the 3rd': the next 3rd from today (this month's if it is still to come)."""
    if not 1 <= day <= 31:
        return None
    probe = today.replace(day=1)
    for _ in range(13):
        candidate = _safe_date(probe.year, probe.month, day)
        if candidate and candidate >= today:
            return candidate
        probe = add_months(probe, 1)
    return None


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


FOLLOW_UP_CUE = re.compile(
    r"(call(?:ing)?\s+(?:\w+\s+)?back|call\s+back|try\s+(?:\w+\s+)?(?:again|back)|try\s+(?:her|him|them)\b|ring\s+(?:\w+\s+)?back|"
    r"follow[\s-]?up|check\s+(?:in|back)|get\s+back\s+to|chase|remind|next\s+step|"
    r"send\s+(?:\w+\s+)?(?:the\s+|a\s+|an\s+)?(?:quote|estimate|proposal|price)|quote\s+by|estimate\s+by|"
    r"come\s+by|going\s+out|go\s+out|out\s+there|visit|walk\s*through|rebook|book(?:ed)?\s+for|"
    r"meet(?:ing)?\s+again|call\s+(?:her|him|them)|ping\s+(?:her|him|them)|text\s+(?:her|him|them)|"
    r"touch\s+base|wants?\s+(?:a\s+)?(?:call|answer)|wants?\s+to\s+(?:talk|meet|chat|speak|hear\s+back|decide)|"
    r"get\s+back\s+to\s+(?:us|me)|talk\s+again|decide\s+by|reschedul\w*\s+(?:\w+\s+){0,3}(?:to|for)|"
    r"rescheduled|moved?\s+(?:\w+\s+){0,3}to|set\s+(?:a\s+)?follow|by\b)",
    re.I,
)


def find_follow_up(text: str, today: dt.date, region: str = "US") -> dt.date | None:
    """A committed next step: a date named after a cue such as 'call back', 'follow up', 'by'. A date
    in the past ("called yesterday") is when something happened, never a next step."""
    # "wants a quote by fri, call him back thursday": the owner's own next step (call back, follow up)
    # outranks a deadline the customer named ("by")
    cues = sorted(FOLLOW_UP_CUE.finditer(text), key=lambda cue: (WEAK_CUE.fullmatch(cue.group(0)) is not None,
                                                                 cue.start()))  # fmt: skip
    for cue in cues:
        clause = re.split(r"[.;\n]|, (?=\w+ (?:said|says|wants|is|was)\b)", text[cue.start() :], maxsplit=1)[0]
        for when in find_dates(clause, today, region):
            if not when.past and when.day >= today:
                return when.day
    return None


WEAK_CUE = re.compile(r"by|quote\s+by|estimate\s+by|decide\s+by|wants?\s+to\s+decide", re.I)


# ---------------------------------------------------------------------------- amounts
ABSURD = 100_000_000  # no job of a small service business is worth this; said to the owner, never stored


@dataclass(frozen=True)
class Amount:
    value: float | None  # None when the text names an amount that cannot be used
    typed: str
    span: tuple[int, int]
    problem: str = ""


_SCALE = {"k": 1_000, "grand": 1_000, "thousand": 1_000, "m": 1_000_000, "mil": 1_000_000, "million": 1_000_000}
_BEFORE = (r"about|around|roughly|approx\.?|approximately|maybe|prob|probably|likely|worth|value|valued|budget|"
           r"budgeted|price|priced|quote|quoted|bid|cost|costs|charge|for|at|to|is|was|be|final|total|amount|"
           r"estimate|est|of|like|~|under|over|upwards of|ballpark|came to|comes to|paid|pay|only")  # fmt: skip
_AFTER = r"installed|total|all in|for|with|w|plus|\+|including|incl|each|now|as|then|flat|even|firm|dollars|bucks"
_MONEY = re.compile(
    r"(?P<neg>-|minus\s+|negative\s+)?(?P<dollar>\$)\s*(?P<neg2>-)?\s*(?P<num>\d[\d,]*(?:\.\d+)?)\s*"
    r"(?P<scale>k|grand|thousand|m|mil|million)?\b"
    r"|(?<![\w$.\-/])(?P<neg3>-|minus\s+|negative\s+)?(?P<num2>\d[\d,]*(?:\.\d+)?)\s*(?P<scale2>k|grand|thousand|mil|million)\b"
    r"|(?<![\w$.\-/])(?P<num3>\d[\d,]*(?:\.\d+)?)\s*(?:dollars|bucks|usd)\b"
    rf"|(?:\b(?:{_BEFORE})\s+|~\s*)(?P<neg4>-)?(?P<num4>\d[\d,]*(?:\.\d+)?)(?=\s*(?:$|[,.;!?)](?!\d)|\s(?:{_AFTER})\b))"
    rf"|(?:^|(?<=[,;:])\s*|(?<=\s-)\s)(?P<num5>\d[\d,]*(?:\.\d+)?)(?=\s+(?:{_AFTER})\b)",
    re.I,
)


def find_amounts(text: str) -> list[Amount]:
    """Money named in ``text``: "$8,500", "15k", "1.2k", "300 bucks", "about 1500", "~4500". Phone
    numbers, dates, times and counts ("3 bldgs", "2 weeks", "8am") are not money."""
    blanked = EMAIL.sub(lambda m: " " * len(m.group(0)), text)
    for pattern in (PHONE, ADDRESS, re.compile(r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b|\b\d{4}-\d{2}-\d{2}\b")):
        blanked = pattern.sub(lambda m: " " * len(m.group(0)), blanked)
    found = []
    for m in _MONEY.finditer(blanked):
        number = m.group("num") or m.group("num2") or m.group("num3") or m.group("num4") or m.group("num5")
        scale = (m.group("scale") or m.group("scale2") or "").lower()
        negative = bool(m.group("neg") or m.group("neg2") or m.group("neg3") or m.group("neg4"))
        typed = text[m.start() : m.end()].strip()
        digits = number.replace(",", "")
        if len(digits.split(".")[0]) > 12:
            found.append(Amount(None, typed, m.span(), f"{typed[:24]}… is not an amount I can store"))
            continue
        value = float(digits) * _SCALE.get(scale, 1)
        if negative:
            found.append(Amount(None, typed, m.span(), f"{typed} is a negative amount"))
        elif value >= ABSURD:
            found.append(Amount(None, typed, m.span(), f"{typed} is more than any job here is worth"))
        else:
            found.append(Amount(round(value, 2), typed, m.span()))
    return found


def find_amount(text: str) -> float | None:
    """The first usable amount in ``text`` (None when there is none, or it cannot be used)."""
    amounts = find_amounts(text)
    return amounts[0].value if amounts else None


# ---------------------------------------------------------------------------- reasons and outcomes
DISQUALIFY_REASONS = [
    ("no_response", r"no response|never (?:replied|answered|responded|called (?:us )?back|got back|wrote back)|ghost|"
                    r"unresponsive|no answer|went (?:quiet|silent|dark)|not responding|stopped responding|"
                    r"(?:no|not) (?:returning|returned) (?:my |our )?calls|can ?not reach|could not reach|"
                    r"did not (?:respond|reply|call back)|never heard back|no reply|no word"),
    ("budget", r"budget|price|pricey|expensive|afford|cost|money|cheap|\$\$|too much|too high|broke|tight"),
    ("outside_scope", r"scope|do not do|dont do|not (?:something|what) we do|out of (?:our )?(?:area|range)|"
                      r"outside|not our (?:thing|kind|line|area)|not our|wrong trade|we do not|not a plumbing|"
                      r"roof|electrical|pool|too small for us|too big for us|not worth (?:our|the) time"),
    ("timing", r"timing|\btime\b|later|not now|next (?:year|yr|spring|summer|fall|winter|month)|new (?:year|yr)|"
               r"postpon|wait|hold off|holding off|on hold|after the|slammed|busy|too soon|not ready"),
    ("other", r"\bother\b"),
]  # fmt: skip
LOST_REASONS = [
    ("no_decision", r"no decision|undecided|never (?:made (?:a |any |up (?:their|his|her) mind)|)(?:decid|decis)|"
                    r"could not decide|couldnt decide|went quiet|"
                    r"ghost|never heard back|indecis|still thinking|sat on it"),
    ("timing", r"timing|\btime\b|later|next (?:year|yr|spring|summer)|new (?:year|yr)|postpon|hold(?:ing)? off|"
               r"on hold|not ready|too soon|delay"),
    ("scope", r"scope|changed (?:their|the) plans|smaller|only want|only need|just want|different job|"
              r"full replacement|not worth doing|cut back|downsiz|bigger job"),
    ("competition", r"competit|another (?:company|contractor|plumber|builder|guy|outfit|firm|shop)|went with|"
                    r"going with|picked|chose|hired|someone else|somebody else|other quote|lost (?:\w+ ){0,4}to\b|"
                    r"signed with|gave it to"),
    ("price", r"price|expensive|cheaper|cost|budget|too (?:much|high)|\$\$|undercut|underbid|lower bid"),
    ("other", r"\bother\b"),
]  # fmt: skip


def find_reason(text: str, table: list[tuple[str, str]]) -> str | None:
    for reason, pattern in table:
        if re.search(pattern, text, re.I):
            return reason
    return None


def named_reason(text: str, table: list[tuple[str, str]]) -> str | None:
    """A reason the owner names outright ("price", "reason: scope", "outside scope")."""
    names = {reason: reason.replace("_", " ") for reason, _ in table}
    t = text.lower().replace("_", " ")
    for reason, words in names.items():
        if re.search(rf"(?:^|reason(?: was| is)?:?\s*|\bon\s+|\bbecause of\s+|\bdue to\s+)\b{words}\b", t):
            return reason
    for reason, words in names.items():
        if re.fullmatch(rf"\s*{words}[.!]?\s*", t):
            return reason
    return None


def lost_reason(text: str, competitor: str | None) -> str | None:
    """Why a job was lost. A named competitor makes it competition unless the owner says price."""
    named = named_reason(text, LOST_REASONS)
    if named:
        return named
    found = find_reason(text, LOST_REASONS)
    if competitor and found in (None, "price"):
        return "competition"
    return found


def disqualify_reason(text: str) -> str | None:
    return named_reason(text, DISQUALIFY_REASONS) or find_reason(text, DISQUALIFY_REASONS)


OUTCOMES = [
    ("no_show", r"no[\s-]?show|did not show|didnt show|never showed|stood (?:me|us) up|was not (?:home|there)"),
    ("left_voicemail", r"voice ?mail|left (?:a |another |an )?(?:message|msg)|left word|no answer|no one answered|"
                       r"did not (?:pick up|answer)|didnt (?:pick up|answer)|went to voice|not picking up|\bvm\b"),
    ("rescheduled", r"reschedul|moved (?:it|the visit|the meeting|the appointment)|push(?:ed)? (?:it|the visit) to"),
    ("accepted_proposal", r"accepted|said yes|going ahead|go ahead|going with us|go with us|is a go|approved|"
                          r"agreed to|signed (?:off|the)|gave (?:us|me) the (?:job|go)"),
    ("rejected_proposal", r"rejected|declined|turned (?:it |us |me )?down|said no|passed on|not going ahead|"
                          r"not interested in the (?:quote|estimate|proposal)"),
    ("sent_proposal", r"(?:called|rang|phoned)\b(?:\s+\w+){0,3}\s+with\s+(?:the |a |our |my )?"
                      r"(?:quote|price|estimate|proposal|numbers)\b|"
                      r"(?:sent|send|emailed|texted|gave|dropped off|mailed|delivered|went over|quoted)\b"
                      r"(?:\s+\w+){0,6}"
                      r"\s+(?:the |a |an |our |my |his |her |their |revised |new |updated )*"
                      r"(?:quote|estimate|proposal|price|pricing|bid|numbers)\b|quoted (?:him|her|them)"),
]  # fmt: skip


def find_outcome(text: str, spoke: bool) -> str:
    for outcome, pattern in OUTCOMES:
        if re.search(pattern, text, re.I):
            return outcome
    return "spoke" if spoke else "none"


# ---------------------------------------------------------------------------- competitors
_GENERIC_RIVAL = re.compile(
    r"^(?:a|an|another|some|someone|somebody|her|his|their|the other|other|a cheaper|cheaper|the cheaper|"
    r"the|a local|local|a different|different|them|him|us|it|my|our|someone else)\b",
    re.I,
)


def find_competitor(text: str) -> str | None:
    """Who a job was lost to: "went with a competitor, Acme Mechanical", "lost smith and sons to budget
    pipes", "they picked roto-rooter". A phrase like "another plumber" names nobody."""
    m = re.search(
        r"\b(?:went|go|going|gone|goes)\s+(?:with|w/?)\s+|\b(?:picked|chose|hired|signed with|gave it to|"
        r"lost (?:it |the \w+(?: \w+)? |out |(?:\w+ ){0,4})to|lost to|used)\s+",
        text,
        re.I,
    )
    if not m:
        return None
    rest = text[m.end() :]
    phrase = re.split(
        r"[.;!?\n(]| - | because | since | bc | cuz | they | who | on price| for | over ", rest, maxsplit=1
    )[0]
    parts = [p.strip() for p in phrase.split(",") if p.strip()]
    if not parts:
        return None
    head = parts[0]
    if _GENERIC_RIVAL.match(head):
        if len(parts) > 1 and not _GENERIC_RIVAL.match(parts[1]) and len(parts[1].split()) <= 4:
            head = parts[1]
        else:
            return None
    head = re.sub(r"\s+(?:instead|now|then|this time|again)$", "", head, flags=re.I).strip(" '\"")
    words = head.split()
    if not words or len(words) > 4 or any(ch.isdigit() for ch in head):
        return None
    return " ".join(title_word(w) if w.islower() else w for w in words)


# ---------------------------------------------------------------------------- months
def find_month(text: str, today: dt.date) -> str | None:
    """The month a report request names, as YYYY-MM: "this month", "last month", "2026-10",
    "October" or "Oct 2025" (a bare month name means its most recent one, this month included).
    None when no month is named."""
    t = text.lower()
    if m := re.search(r"\b(20\d\d)-(0[1-9]|1[0-2])\b", t):
        return f"{m.group(1)}-{m.group(2)}"
    if re.search(r"\bthis month\b|\bso far\b|\bmonth to date\b", t):
        return f"{today:%Y-%m}"
    if re.search(r"\blast month\b|\bprevious month\b", t):
        return previous_month(today)
    names = "|".join(sorted(MONTHS, key=len, reverse=True))
    if m := re.search(rf"\b({names})\b\.?(?:\s+(20\d\d))?", t):
        if m.group(1) == "may" and not re.search(r"\bin may\b|\bfor may\b|\bmay\s+20\d\d\b|^may\b", t):
            return None
        month = MONTHS[m.group(1)]
        year = int(m.group(2)) if m.group(2) else today.year - (month > today.month)
        return f"{year}-{month:02d}"
    return None
