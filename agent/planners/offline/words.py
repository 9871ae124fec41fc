"""How owners type, made regular before anything is read: abbreviations spelled out, apostrophes
dropped, and a mistyped word of the planner's own vocabulary corrected ("folow" -> "follow",
"pipline" -> "pipeline", "qualfy" -> "qualify").

Only the words the requests' cues are written in (and the book's own names, given by the caller)
are ever corrected to; anything else is left as typed, so a plumber's "sump" never becomes "dump".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rapidfuzz import fuzz, process

# Shorthand an owner types, and what it stands for. Whole words only; the normalised text is
# lower case and has no apostrophes, so "what's" is "whats".
ABBREVIATIONS: dict[str, str] = {
    "w/": "with", "w/o": "without", "w": "with", "wt": "with", "abt": "about", "re": "about", "ph": "phone",
    "phn": "phone", "tel": "phone", "cel": "cell", "vm": "voicemail", "vmail": "voicemail", "msg": "message",
    "msgs": "messages", "txt": "text", "txted": "texted", "txtd": "texted", "pls": "please", "plz": "please",
    "u": "you", "ur": "your", "r": "are", "n": "and", "tmrw": "tomorrow", "tmr": "tomorrow", "tmw": "tomorrow",
    "tomm": "tomorrow", "2moro": "tomorrow", "thru": "through", "bldg": "building",
    "bldgs": "buildings", "est": "estimate", "mgr": "manager", "addy": "address", "addr": "address",
    "cust": "customer", "custs": "customers", "hv": "have", "yr": "year", "yrs": "years", "fwd": "forward",
    "appt": "appointment", "appts": "appointments", "dq": "disqualify", "dqd": "disqualified", "qb": "quickbooks",
    "qbo": "quickbooks", "rn": "now", "info": "information", "wat": "what", "wats": "what is", "wht": "what",
    "wk": "week", "wks": "weeks", "mo": "month", "mos": "months", "mon": "monday", "tue": "tuesday",
    "tues": "tuesday", "wed": "wednesday", "weds": "wednesday", "thu": "thursday", "thur": "thursday",
    "thurs": "thursday", "fri": "friday", "sat": "saturday", "sun": "sunday", "b4": "before", "pics": "pictures",
    "bc": "because", "cuz": "because", "coz": "because", "bcuz": "because", "tho": "though", "thx": "thanks",
    "ty": "thanks", "k": "ok", "kk": "ok", "np": "no problem", "ppl": "people", "govt": "government",
    "asap": "soon", "eom": "end of month", "eow": "end of the week", "nxt": "next", "yday": "yesterday",
    "yest": "yesterday", "morn": "morning", "aft": "afternoon", "em": "them",
    "walkthru": "walkthrough", "folowup": "follow up", "followup": "follow up", "followups": "follow ups",
    "callback": "call back", "callbacks": "call backs", "checkin": "check in", "fu": "follow up",
    "f/u": "follow up",
}  # fmt: skip
CONTRACTIONS: dict[str, str] = {
    "whats": "what is", "whos": "who is", "whens": "when is", "wheres": "where is", "hows": "how is",
    "thats": "that is", "theyre": "they are", "theyve": "they have", "hes": "he is", "shes": "she is",
    "im": "i am", "ive": "i have", "dont": "do not", "didnt": "did not", "doesnt": "does not",
    "cant": "can not", "cannot": "can not", "wont": "will not", "isnt": "is not", "arent": "are not",
    "wasnt": "was not", "havent": "have not", "hasnt": "has not", "couldnt": "could not", "wouldnt": "would not",
    "lets": "let us", "youre": "you are", "weve": "we have", "were": "were", "theres": "there is",
    "whove": "who have", "wed": "wed", "ill": "i will", "hed": "he would", "shed": "she would",
}  # fmt: skip
HYPHENATED: dict[str, str] = {
    "follow-up": "follow up", "follow-ups": "follow ups", "followup": "follow up", "call-back": "call back",
    "call-backs": "call backs", "check-in": "check in", "to-do": "to do", "to-dos": "to dos", "e-mail": "email",
    "e-mails": "emails", "e-mailed": "emailed", "walk-through": "walkthrough", "walk-thru": "walkthrough",
    "no-show": "no show", "no-showed": "no showed", "no-shows": "no shows", "win-loss": "win loss",
    "re-schedule": "reschedule", "re-scheduled": "rescheduled", "site-visit": "site visit",
}  # fmt: skip
# Words the normaliser must never "correct", though a cue word is close to them.
KEEP = {
    "called", "calls", "calling", "call", "cancel", "canceled", "cancelled", "won", "win", "lost", "lose", "loss",
    "last", "list", "lead", "leads", "led", "load", "deal", "dead", "done", "dana", "date", "data", "note", "notes",
    "now", "new", "news", "next", "text", "test", "send", "sent", "spent", "mark", "marks", "market", "move",
    "more", "most", "show", "shows", "showed", "snow", "book", "booked", "look", "looked", "took", "today", "toms",
    "tom", "time", "ping", "pipe", "pipes", "pump", "sump", "fan", "main", "pine", "oak", "birch", "jobs", "job",
    "joe", "joes", "log", "logs", "lag", "good", "great", "need", "needs", "kill", "bill", "drop", "drip",
    "their", "there", "then", "than", "them", "they", "want", "wants", "went", "what", "when", "where", "who",
    "why", "how", "whom", "whose", "yes", "yet", "you", "your", "able", "also", "back", "black", "fine", "find",
    "found", "fund", "gone", "give", "gave", "like", "line", "lime", "lines", "liked", "made", "make", "maybe",
    "mind", "minds", "other", "others", "over", "ever", "even", "every", "some", "same", "sure", "soon",
    "spoke", "spoken", "smoke", "still", "stale", "stage", "state", "story", "sales", "said", "says", "such",
    "asked", "ask", "asks", "task", "tasks", "dont", "down", "town", "walk", "work", "worked", "worth",
    "wrote", "write", "quote", "quotes", "quoted", "quite", "quiet", "quit", "recent", "remind", "rewind",
    "visit", "visited", "visits", "vista", "week", "weeks", "weekly", "well", "were", "will", "with", "without",
}  # fmt: skip

_WORD = re.compile(r"[a-z0-9]+(?:[/'][a-z0-9]+)*/?|[^\sa-z0-9]")


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def plain(text: str) -> str:
    """Lower case, curly quotes made straight, apostrophes and most punctuation kept as typed."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = text.replace("\u2014", " - ").replace("\u2013", " - ")
    return " ".join(text.lower().split())


class Normaliser:
    """Turns a line as typed into the regular form the requests' cues are written against."""

    def __init__(self, vocabulary: Iterable[str]):
        self.vocabulary = sorted({w for w in vocabulary if len(w) >= 4 and w.isalpha()})
        self.known = set(self.vocabulary) | KEEP | set(ABBREVIATIONS) | set(CONTRACTIONS)
        self.stems = [w for w in self.vocabulary if len(w) >= 5]

    def __call__(self, text: str, extra: Iterable[str] = ()) -> str:
        out: list[str] = []
        extra_words = {w for w in extra if w}
        for raw in re.findall(r"\S+", plain(text)):
            out.append(self._word(raw, extra_words))
        return " ".join(" ".join(out).split())

    def _word(self, raw: str, extra: set[str]) -> str:
        # keep what carries its own meaning: ids, emails, numbers with punctuation, times
        if "@" in raw or re.fullmatch(r"[a-z]{1,2}-\d+[.,;:!?)]*", raw) or re.search(r"\d", raw):
            return re.sub(r"([a-z0-9])'s\b", r"\1s", raw)
        lead = re.match(r"^[(\"\[]*", raw)
        trail = re.search(r"[.,;:!?)\"\]]*$", raw)
        head = lead.group(0) if lead else ""
        tail = trail.group(0) if trail else ""
        core = raw[len(head) : len(raw) - len(tail)] if tail else raw[len(head) :]
        core = core.replace("'", "")
        if not core:
            return raw
        if core in HYPHENATED:
            core = HYPHENATED[core]
        elif core in ABBREVIATIONS:
            core = ABBREVIATIONS[core]
        elif core in CONTRACTIONS:
            core = CONTRACTIONS[core]
        elif "/" in core and core not in ("w/", "w/o"):
            core = " / ".join(self._fix(p, extra) for p in core.split("/") if p)
        else:
            core = self._fix(core, extra)
            core = CONTRACTIONS.get(core, core)
        spaced = f" {tail.strip()}" if tail.strip(".!?") else tail
        return f"{head}{core}{spaced}"

    def _fix(self, word: str, extra: set[str]) -> str:
        """A mistyped cue word corrected; a word the planner does not know is left alone."""
        if len(word) < 4 or not word.isalpha() or word in self.known or word in extra:
            return word
        if any(word.startswith(stem) for stem in self.stems if stem[0] == word[0]):
            return word  # an inflection of a cue's stem ("disqualifying" for "disqualif")
        spread = 1 if len(word) <= 5 else 2
        pool = [w for w in (*self.vocabulary, *extra) if w[0] == word[0] and abs(len(w) - len(word)) <= spread]
        if not pool:
            return word
        best = process.extractOne(word, pool, scorer=fuzz.ratio, score_cutoff=85)
        return best[0] if best else word


YES = {"y", "yes", "yeah", "yep", "yup", "ya", "yea", "sure", "ok", "okay", "k", "please", "do it", "go ahead",
       "yes please", "send", "send it", "correct", "right", "thats right", "that is right", "confirm", "absolutely",
       "definitely", "of course", "go for it", "sounds good", "perfect", "affirmative"}  # fmt: skip
NO = {"n", "no", "nope", "nah", "don't", "dont", "do not", "cancel", "not now", "no thanks", "stop", "negative",
      "wrong", "not right", "never mind", "nevermind", "skip it", "leave it"}  # fmt: skip
_NEGATED = re.compile(r"\b(?:not|don'?t|do not|never|no)\b")


def yes_no(text: str) -> bool | None:
    """True for a yes ("yep add them to quickbooks"), False for a no, None for anything else."""
    t = plain(text).strip(" .!")
    if not t:
        return None
    if t in YES:
        return True
    if t in NO:
        return False
    first = re.split(r"[,;:\-]|\s+", t, maxsplit=1)[0].strip(" .!")
    rest = t[len(first) :]
    if first in YES and not _NEGATED.search(rest):
        return True
    if first in NO and first not in ("n",):
        return False
    head = re.split(r"[,;:.!]| - ", t, maxsplit=1)[0].strip()
    if head in YES:
        return True
    if head in NO:
        return False
    return None


SKIP_WORDS = {"skip", "no", "none", "n/a", "na", "-", "don't know", "dont know", "do not know", "not sure",
              "unknown", "nope", "pass", "no idea", "dunno", "idk", "nothing", "not yet", "later", "none yet",
              "no email", "no phone", "no address", "no number"}  # fmt: skip


def is_skip(text: str) -> bool:
    return plain(text).strip(" .!") in SKIP_WORDS
