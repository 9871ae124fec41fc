"""The book as vocabulary: which contacts, leads, jobs and companies a message mentions.

Owners refer to records the way they think of them: "tom", "becker's", "marcos chen" (a typo),
"the kitchen remodel guy", "the Oak St job", "410 main", "smith n sons", "L-4". ``Mentions`` finds
every such reference in a normalised message, scored 0-100 (an id is certain), and
``Mentions.candidates`` turns them into the records of one kind a request is about, best first:
a lead named by its title *and* its person beats one named by either alone.

Every lookup goes through the store's queries (name words, fuzzy names, addresses, title words),
so a book of 100,000 leads is searched, never scanned.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from backoffice.tools.book.models import OPEN_LEAD_STATUSES, is_open_job
from backoffice.tools.book.normalize import fold
from backoffice.tools.book.store import Doc, Store

Kind = str  # contact | lead | job | company
TABLE = {"contact": "contacts", "lead": "leads", "job": "opportunities", "company": "companies"}
ID_FIELD = {"contact": "contact_id", "lead": "lead_id", "job": "opportunity_id", "company": "company_id"}
PREFIX = {"c": "contact", "l": "lead", "o": "job", "co": "company"}
SUFFIXES = {"st", "street", "ave", "avenue", "rd", "road", "ln", "lane", "dr", "drive", "ct", "court", "way",
            "blvd", "pl", "place", "ter", "terrace", "pkwy", "hwy", "cir", "trl", "loop"}  # fmt: skip
# Words in many job titles that say little about which job is meant.
GENERIC_TITLE = {
    "install",
    "installation",
    "replacement",
    "replace",
    "service",
    "plumbing",
    "repair",
    "repairs",
    "new",
    "annual",
    "whole",
    "house",
    "home",
    "job",
    "work",
    "fix",
    "check",
    "inspection",
    "quote",
}
# Words never looked up as a name or a title word: how owners talk, not what they talk about.
STOP = set(
    """a an the and or but if of to in on at by for from with without about into onto off over under up down out
    is are was were be been being am do does did done doing have has had having will would can could should shall
    may might must i me my mine we us our ours you your yours he him his she her hers it its they them their theirs
    this that these those there here what whats which who whom whose when where why how all any both each every
    few more most other some such no nor not only own same so than too very just now then also again still yet
    ok okay yes yeah yep sure please pls thanks thank hi hey hello lol no nope
    lead leads job jobs deal deals contract customer customers client clients contact contacts person guy guys
    lady woman man people folks one ones fella dude family record records file account project projects work
    call called calling calls phone phoned rang ring text texted txt sms email emailed mail message note notes
    log logged jot down record mark marked set update change changed move moved push pushed bump add added
    new old open closed follow followup following followed back draft write send sent nudge chase ping remind
    reminder callback callbacks check done complete completed cancel canceled cancelled clear forget reschedule
    qualify qualified disqualify disqualified dq convert converted won win lost lose loss dead kill drop scratch
    pipeline digest report summary history timeline everything happened notes last time today tomorrow yesterday
    week weeks month months day days year years morning afternoon tonight monday tuesday wednesday thursday
    friday saturday sunday next since ago long said says say told tell asked ask wants want needs need went go
    going got get gave give made make took take came come looked look show find pull list lookup search
    quote quotes quoted estimate estimates proposal proposals price priced bid amount value worth close date
    stage status visit visited booked book meeting met spoke talked heard voicemail vm left msg answer answered
    someone anyone everyone everything anything something nothing nobody lately recently latest newest recent
    yet really actually maybe probably prob like just already since till until instead anymore either
    address addy cell mobile number email tag tags archive archived name named rename delete remove
    quickbooks qb approval approve pending waiting numbers weekly daily morning rundown plate
    """.split()  # noqa: SIM905 - a word list is easier to read as text
)


@dataclass
class Hit:
    kind: Kind
    doc: Doc
    score: float
    via: str
    words: frozenset[str] = frozenset()  # the words of the message that name it

    @property
    def id(self) -> str:
        return str(self.doc[ID_FIELD[self.kind]])


@dataclass
class Mentions:
    """The records a message names, each with how sure the reference is (0-100; an id is 1000)."""

    store: Store
    hits: dict[Kind, dict[str, Hit]] = field(default_factory=lambda: {k: {} for k in TABLE})
    words: list[str] = field(default_factory=list)

    def add(self, kind: Kind, doc: Doc, score: float, via: str, words: Iterable[str] = ()) -> None:
        rid = str(doc[ID_FIELD[kind]])
        old = self.hits[kind].get(rid)
        if old is None or score > old.score:
            self.hits[kind][rid] = Hit(kind, doc, score, via, frozenset(words))

    def of(self, kind: Kind) -> list[Hit]:
        return sorted(self.hits[kind].values(), key=lambda h: -h.score)

    @property
    def empty(self) -> bool:
        return not any(self.hits.values())

    # ------------------------------------------------------------------ records of one kind
    def candidates(self, kind: Kind, open_only: bool = False) -> list[Hit]:
        """The records of ``kind`` the message is about, best first. A lead is found by its own
        title words and through its person or company; evidence from both adds up."""
        scored: dict[str, Hit] = {}

        def give(doc: Doc, score: float, via: str, words: frozenset[str]) -> None:
            rid = str(doc[ID_FIELD[kind]])
            old = scored.get(rid)
            if old is None:
                scored[rid] = Hit(kind, doc, score, via, words)
            elif words and not (words & old.words):  # separate evidence adds up; the same words count once
                scored[rid] = Hit(kind, doc, max(old.score, score) + min(old.score, score) * 0.6,
                                  f"{old.via}+{via}", old.words | words)  # fmt: skip
            elif score > old.score:
                scored[rid] = Hit(kind, doc, score, via, old.words | words)

        for hit in self.hits[kind].values():
            give(hit.doc, hit.score, hit.via, hit.words)
        store = self.store
        if kind == "company":
            pass
        elif kind == "contact":
            for other in ("lead", "job"):
                for hit in self.hits[other].values():
                    if hit.doc.get("contact_id") and hit.score < 1000:
                        contact = store.get("contacts", hit.doc["contact_id"])
                        if contact and not contact.get("archived"):
                            give(contact, hit.score * 0.9, f"{other} {hit.id}", hit.words)
            for hit in self.hits["company"].values():
                for contact in store.scan("contacts", company_id=hit.id):
                    if not contact.get("archived"):
                        give(contact, hit.score * 0.9, f"company {hit.id}", hit.words)
        else:
            table = TABLE[kind]
            people = [h for h in self.hits["contact"].values() if h.score < 1000]
            for hit in people:
                for doc in store.linked(table, "contact_id", hit.id):
                    give(doc, hit.score * 0.8, f"contact {hit.id}", hit.words)
            for hit in self.hits["company"].values():
                for doc in store.linked(table, "company_id", hit.id):
                    give(doc, hit.score * 0.8, f"company {hit.id}", hit.words)
            if kind == "job":
                # a lead named by its title became this job when it was converted
                for hit in self.hits["lead"].values():
                    if hit.doc.get("converted_opportunity_id") and hit.score < 1000:
                        job = store.get("opportunities", hit.doc["converted_opportunity_id"])
                        if job:
                            give(job, hit.score * 0.5, f"lead {hit.id}", hit.words)
        found = list(scored.values())
        if open_only:
            found = [h for h in found if is_open(kind, h.doc)]
        return sorted(found, key=lambda h: (-h.score, h.id))


def is_open(kind: Kind, doc: Doc) -> bool:
    if kind == "lead":
        return doc.get("status") in OPEN_LEAD_STATUSES
    if kind == "job":
        return is_open_job(doc)
    if kind == "contact":
        return not doc.get("archived")
    return True


def best(hits: list[Hit], margin: float = 15.0) -> list[Hit]:
    """The hits that are not clearly beaten: one when one stands out, several when they tie."""
    if not hits:
        return []
    top = hits[0].score
    return [h for h in hits if h.score >= top - margin and h.score > 0]


# ---------------------------------------------------------------------------- finding mentions
_ID = re.compile(r"\b(co|c|l|o)-?(\d+)\b")
LOOSE_ID = 50  # an id written without its hyphen: below every name, title or address signal
_TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _forms(word: str) -> list[str]:
    """The word and its base: 'toms' -> 'tom', 'beckers' -> 'becker', 'boilers' -> 'boiler'."""
    forms = [word]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        forms.append(word[:-1])
        if word.endswith("es") and len(word) > 4:
            forms.append(word[:-2])
    return forms


def find_mentions(store: Store, text: str, skip: Iterable[str] = ()) -> Mentions:
    """Every record ``text`` (normalised) refers to. ``skip``: words of the request itself that are
    not references (the cue words), so "mark" in "mark it won" is never taken for a Mark."""
    found = Mentions(store)
    ignore = STOP | {w for w in skip if w}
    if not text.isascii():  # "maría" is looked up as the book indexes it: "maria"
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    for m in _ID.finditer(text):
        kind = PREFIX[m.group(1)]
        doc = store.get(TABLE[kind], f"{m.group(1).upper()}-{m.group(2)}")
        if doc:
            # "C-3" is an id; "c3" may be one ("log a call with c3") or a part's name in a note ("wants
            # the C3 valve"): alone it is taken, beside anyone named it gives way
            written = "-" in m.group(0)
            found.add(kind, doc, 1000 if written else LOOSE_ID, "id" if written else "loose id", [m.group(0)])
    cleaned = _ID.sub(" ", text)
    words = _TOKEN.findall(cleaned)
    found.words = words
    _people(store, found, words, ignore)
    _id_beside_another_name(found)
    _places(store, found, words, ignore)
    _titles(store, found, words, ignore)
    _companies(store, found, words, ignore)
    return found


def _id_beside_another_name(found: Mentions) -> None:
    """A contact's id and another person's full name in one message ("log a call with Linda Ortiz -
    wants the C-3 valve"): neither wins unasked. The id comes down to a name's weight, so the two
    tie and the owner is asked which one."""
    contacts = found.hits["contact"]
    ids = [h for h in contacts.values() if h.via == "id"]
    named = {h.id for h in contacts.values() if h.via == "name" and h.score >= 100}
    if ids and named - {h.id for h in ids}:
        for hit in ids:
            contacts[hit.id] = Hit(hit.kind, hit.doc, 100.0, hit.via, hit.words)


def _name_words(doc: Doc) -> tuple[str, str]:
    return fold(doc.get("first_name")), fold(doc.get("last_name"))


def _people(store: Store, found: Mentions, words: list[str], ignore: set[str]) -> None:
    matched: dict[str, list[tuple[int, str]]] = {}  # contact id -> (position, which part)
    docs: dict[str, Doc] = {}
    fuzzy_tried: set[str] = set()
    for i, word in enumerate(words):
        if word in ignore or word.isdigit() or len(word) < 2 or "-" in word:
            continue
        hit = False
        for form in _forms(word):
            for doc in store.search_tokens("contacts", form):
                if doc.get("archived"):
                    continue
                first, last = _name_words(doc)
                parts = [p for p, value in (("first", first), ("last", last)) if form in value.split()]
                if parts:
                    docs[doc["contact_id"]] = doc
                    matched.setdefault(doc["contact_id"], []).append((i, parts[0]))
                    hit = True
            if hit:
                break
        # a name word (letters; digits too, as in the benchmark's "First4138") that matched no name exactly
        if not hit and len(word) >= 4 and word.isalnum() and sum(c.isalpha() for c in word) >= 3:
            fuzzy_tried.add(word)
    spoken = f" {' '.join(words)} "
    for cid, places in matched.items():
        doc = docs[cid]
        first, last = _name_words(doc)
        positions = {p for p, _ in places}
        both = {part for _, part in places} >= {"first", "last"} and any(p + 1 in positions for p in positions)
        said = [words[p] for p, _ in places]
        whole = f" {first} {last} " if first and last else ""
        if both or (not last and first) or (whole and whole in spoken):  # "D. Reyes" is D. Reyes, not Dana
            found.add("contact", doc, 100, "name", said)
            continue
        part = places[0][1]
        # an initial before the last name: "D. Reyes" is the contact entered as D. Reyes, and only may
        # be Dana Reyes
        initial = next((words[p - 1] for p, which in places if which == "last" and p > 0
                        and len(words[p - 1]) == 1 and words[p - 1].isalpha()), None)  # fmt: skip
        if initial and first == initial:
            found.add("contact", doc, 100, "initial and last name", [*said, initial])
            continue
        if initial and first.startswith(initial):
            found.add("contact", doc, 80, "initial and last name", [*said, initial])
            continue
        same = [d for d in store.search_tokens("contacts", first if part == "first" else last)
                if not d.get("archived")]  # fmt: skip
        found.add("contact", doc, 90 if len(same) <= 1 else 70, f"{part} name", said)
    # typos: "marcos chen", "beker"
    tries = []
    for i, word in enumerate(words):
        if word not in fuzzy_tried:
            continue
        pair = f"{word} {words[i + 1]}" if i + 1 < len(words) and words[i + 1] not in ignore else None
        tries += [(word, probe) for probe in (pair, word) if probe]
    alike = store.contacts_like_each([probe for _, probe in tries], limit=4) if tries else {}
    for word, probe in tries:
        for score, doc in alike[probe]:
            first, last = _name_words(doc)
            best_part = max(
                fuzz.ratio(word, first) if first else 0,
                fuzz.ratio(word, last) if last else 0,
                fuzz.ratio(probe, f"{first} {last}".strip()) if " " in probe else 0,
            )
            if best_part >= 80 and score >= 80:
                found.add("contact", doc, min(88.0, best_part * 0.95), "similar name", probe.split())


def _places(store: Store, found: Mentions, words: list[str], ignore: set[str]) -> None:
    """Street references: "410 main", "oak st", "77 pine ave", "5 birch"."""
    for i, word in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        third = words[i + 2] if i + 2 < len(words) else ""
        phrases = []
        if word.isdigit() and nxt.isalpha() and nxt not in STOP:
            phrases.append(f"{word} {nxt}")
        if word.isalpha() and word not in STOP and nxt in SUFFIXES:
            phrases.append(f"{word} {nxt}")
        if word.isdigit() and nxt.isalpha() and third in SUFFIXES:
            phrases.append(f"{word} {nxt} {third}")
        for phrase in phrases:
            for _, doc in store.contacts_like(phrase, limit=8):
                if phrase in fold(doc.get("address")):
                    found.add("contact", doc, 80 if phrase[0].isdigit() else 65, "address", phrase.split())
            for kind in ("lead", "job"):
                for doc in store.search_tokens(TABLE[kind], phrase):
                    title = fold(doc.get("title") or doc.get("name"))
                    if phrase in title or all(w in title.split() for w in phrase.split()):
                        found.add(kind, doc, 80 if phrase[0].isdigit() else 60, "address in title", phrase.split())


def _titles(store: Store, found: Mentions, words: list[str], ignore: set[str]) -> None:
    """Lead and job titles: "the kitchen remodel", "the fan lead", "the boiler job", "re-pipe"."""
    content = []
    for word in words:
        parts = word.split("-") if "-" in word else [word]
        for part in [word, *parts] if "-" in word else parts:
            if part in ignore or part in SUFFIXES or part.isdigit() or len(part) < 3:
                continue
            content.append(part)
    for kind in ("lead", "job"):
        table = TABLE[kind]
        tally: dict[str, tuple[Doc, float, set[str]]] = {}
        for word in dict.fromkeys(content):
            for form in _forms(word):
                docs = [
                    d for d in store.search_tokens(table, form) if form in fold(d.get("title") or d.get("name")).split()
                ]
                if not docs:
                    continue
                weight = 70.0 if len(docs) == 1 else 55.0 if len(docs) == 2 else 30.0 if len(docs) <= 5 else 12.0
                if form in GENERIC_TITLE:
                    weight = min(weight, 10.0)
                for doc in docs[:200]:
                    rid = doc[ID_FIELD[kind]]
                    _, prev, said = tally.get(rid, (doc, 0.0, set()))
                    tally[rid] = (doc, prev + weight, said | {word})
                break
        for doc, score, said in tally.values():
            found.add(kind, doc, min(score, 95.0), "title", said)


def _companies(store: Store, found: Mentions, words: list[str], ignore: set[str]) -> None:
    generic = {"and", "the", "property", "properties", "management", "mgmt", "inc", "llc", "co", "company", "ltd",
               "group", "services", "service", "corp", "of"}  # fmt: skip
    text = " ".join(words)
    for company in store.scan("companies"):
        name = fold(company["name"]).split()
        significant = [w for w in name if w not in generic]
        if not significant:
            continue
        lead_words = " ".join(name[: name.index(significant[-1]) + 1]) if len(significant) > 1 else significant[0]
        if re.search(rf"\b{re.escape(lead_words)}\b", text) or (
            len(significant) > 1 and all(re.search(rf"\b{re.escape(w)}\b", text) for w in significant[:2])
        ):
            found.add("company", company, 95, "company name", significant)
        elif fold(company["name"]) in text:
            found.add("company", company, 100, "company name", significant)
