"""The "embedded database process" baseline for bench/cli_bench.py: the customer book in SQLite.

    python bench/sqlite_book.py build DATA_DIR BOOK.sqlite      # once per size, not timed
    python bench/sqlite_book.py open BOOK.sqlite                # connect + a count
    python bench/sqlite_book.py find BOOK.sqlite "First Last"   # by name; fuzzy when nothing matches
    python bench/sqlite_book.py log BOOK.sqlite "First Last" "left a voicemail"
    python bench/sqlite_book.py digest BOOK.sqlite
    python bench/sqlite_book.py pipeline BOOK.sqlite

Standard library only (sqlite3, json, difflib, zoneinfo), one short-lived process per question,
so that timing it as a whole process gives the least a Python program answering the same
question from a real embedded database costs. Each record is stored as its JSON document plus
the indexed columns a question needs: email, E.164 phone, name words, lead status, follow-up
status and date, the contact/lead links. WAL journal, ``synchronous=FULL``: a write is durable
when ``log`` returns, as backoffice's are.

What each question does, honestly:

- ``find``: the name's words looked up in the name-word index (every word must match), then
  the contacts' documents and their leads through the contact_id index.
- ``find`` of a typo: the exact lookup finds nothing, so it falls back to a fuzzy search: a
  trigram index over name words gives candidates (grams shared by more than 2% of contacts are
  skipped as uninformative; the 200 contacts sharing the most of the rest), which are ranked by
  difflib's ratio on the full name (cutoff 0.6, best 6). No fuzzy index beyond trigrams.
- ``log``: resolve the name as ``find`` does, pick the contact's newest open lead, insert the
  interaction document (and its index columns) and an audit-event row, one committed transaction.
- ``digest``: pending follow-ups due today or earlier joined with the contact names, plus open
  (new/working) leads whose newest interaction (one GROUP BY over the (lead_id, timestamp) index)
  or creation is older than 3 business days; every row printed, one line each.
- ``pipeline``: aggregate queries over the indexed lead and job columns (new this week, open and
  their average age, proposals out, won/lost this week, the oldest open lead, past expected close).
- ``open``: connect and count the leads.

The clock is BACKOFFICE_NOW (local time in America/New_York, backoffice's default time zone).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
import re
import sqlite3
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

TZ = ZoneInfo("America/New_York")
QUIET_LEADS = ("new", "working")  # the digest's quiet-lead nudges
OPEN_LEADS = ("new", "working", "qualified")  # the pipeline's leads in follow-up, the lead a call goes on
OPEN_JOBS = ("estimating", "scheduled", "proposal_sent")
GRAM_SKIP_SHARE = 0.02
CANDIDATES = 200

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE contacts(num INTEGER PRIMARY KEY, id TEXT UNIQUE, first_name TEXT, last_name TEXT,
                      archived INTEGER, doc TEXT);
CREATE TABLE contact_emails(email TEXT, contact INTEGER);
CREATE TABLE contact_phones(phone TEXT, contact INTEGER);
CREATE TABLE name_words(word TEXT, contact INTEGER);
CREATE TABLE name_grams(gram TEXT, contact INTEGER);
CREATE TABLE gram_counts(gram TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;
CREATE TABLE companies(num INTEGER PRIMARY KEY, id TEXT UNIQUE, name TEXT, doc TEXT);
CREATE TABLE leads(num INTEGER PRIMARY KEY, id TEXT UNIQUE, contact_id TEXT, status TEXT, pipeline_stage TEXT,
                   created_at TEXT, updated_at TEXT, expected_close_date TEXT, estimated_value REAL, doc TEXT);
CREATE TABLE interactions(num INTEGER PRIMARY KEY, id TEXT UNIQUE, contact_id TEXT, lead_id TEXT,
                          opportunity_id TEXT, timestamp TEXT, follow_up_status TEXT, follow_up_date TEXT, doc TEXT);
CREATE TABLE opportunities(num INTEGER PRIMARY KEY, id TEXT UNIQUE, contact_id TEXT, lead_id TEXT, stage TEXT,
                           amount REAL, close_date TEXT, expected_close_date TEXT, created_at TEXT, doc TEXT);
CREATE TABLE events(num INTEGER PRIMARY KEY, at TEXT, doc TEXT);
"""
INDEXES = """
CREATE INDEX contact_emails_email ON contact_emails(email);
CREATE INDEX contact_phones_phone ON contact_phones(phone);
CREATE INDEX name_words_word ON name_words(word);
CREATE INDEX name_grams_gram ON name_grams(gram);
CREATE INDEX leads_contact ON leads(contact_id);
CREATE INDEX leads_status ON leads(status, created_at);
CREATE INDEX interactions_contact ON interactions(contact_id);
CREATE INDEX interactions_lead_time ON interactions(lead_id, timestamp);
CREATE INDEX interactions_follow_up ON interactions(follow_up_status, follow_up_date);
CREATE INDEX opportunities_contact ON opportunities(contact_id);
CREATE INDEX opportunities_stage ON opportunities(stage, close_date);
"""


# ---------------------------------------------------------------------------- helpers
def words(text: str) -> list[str]:
    return [w for w in re.split(r"[^\w']+", text.lower()) if w]


def grams(word: str) -> set[str]:
    padded = f" {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def now_local() -> dt.datetime:
    pinned = os.environ.get("BACKOFFICE_NOW")
    if pinned:
        return dt.datetime.fromisoformat(pinned).replace(tzinfo=TZ)
    return dt.datetime.now(TZ)


def utc_stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def full_name(first: str | None, last: str | None) -> str:
    return " ".join(p for p in (first, last) if p)


# ---------------------------------------------------------------------------- build (not timed)
def build(data_dir: Path, target: Path) -> None:
    crm = json.loads((data_dir / "crm.json").read_text())
    jobs = json.loads((data_dir / "opportunity.json").read_text()).get("opportunities", {})
    if target.exists():
        target.unlink()
    db = sqlite3.connect(target, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    db.execute("BEGIN")
    contacts = crm.get("contacts", {})
    db.executemany(
        "INSERT INTO contacts VALUES (?,?,?,?,?,?)",
        (
            (
                int(k),
                c["contact_id"],
                c.get("first_name"),
                c.get("last_name"),
                int(bool(c.get("archived"))),
                json.dumps(c),
            )
            for k, c in contacts.items()
        ),
    )
    db.executemany(
        "INSERT INTO contact_emails VALUES (?,?)",
        ((e.lower(), int(k)) for k, c in contacts.items() for e in c.get("emails", [])),
    )
    db.executemany(
        "INSERT INTO contact_phones VALUES (?,?)",
        ((p, int(k)) for k, c in contacts.items() for p in c.get("phones", [])),
    )
    name_words = {int(k): set(words(full_name(c.get("first_name"), c.get("last_name")))) for k, c in contacts.items()}
    db.executemany("INSERT INTO name_words VALUES (?,?)", ((w, k) for k, ws in name_words.items() for w in ws))
    db.executemany(
        "INSERT INTO name_grams VALUES (?,?)",
        ((g, k) for k, ws in name_words.items() for g in set().union(*(grams(w) for w in ws))),
    )
    db.execute("INSERT INTO gram_counts SELECT gram, COUNT(*) FROM name_grams GROUP BY gram")
    db.executemany(
        "INSERT INTO companies VALUES (?,?,?,?)",
        ((int(k), c["company_id"], c.get("name"), json.dumps(c)) for k, c in crm.get("companies", {}).items()),
    )
    db.executemany(
        "INSERT INTO leads VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            (
                int(k),
                d["lead_id"],
                d.get("contact_id"),
                d["status"],
                d.get("pipeline_stage"),
                d["created_at"],
                d.get("updated_at"),
                d.get("expected_close_date"),
                d.get("estimated_value"),
                json.dumps(d),
            )
            for k, d in crm.get("leads", {}).items()
        ),
    )
    db.executemany(
        "INSERT INTO interactions VALUES (?,?,?,?,?,?,?,?,?)",
        (
            (
                int(k),
                d["interaction_id"],
                d.get("contact_id"),
                d.get("lead_id"),
                d.get("opportunity_id"),
                d["timestamp"],
                d.get("follow_up_status"),
                d.get("follow_up_date"),
                json.dumps(d),
            )
            for k, d in crm.get("interactions", {}).items()
        ),
    )
    db.executemany(
        "INSERT INTO opportunities VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            (
                int(k),
                d["opportunity_id"],
                d.get("contact_id"),
                d.get("lead_id"),
                d["stage"],
                d.get("amount"),
                d.get("close_date"),
                d.get("expected_close_date"),
                d.get("created_at"),
                json.dumps(d),
            )
            for k, d in jobs.items()
        ),
    )
    db.execute("INSERT INTO meta VALUES ('contacts', ?)", (str(len(contacts)),))
    db.execute("COMMIT")
    db.executescript(INDEXES)
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


# ---------------------------------------------------------------------------- questions
def exact_matches(db: sqlite3.Connection, name: str) -> list[int]:
    ws = words(name)
    if not ws:
        return []
    query = " INTERSECT ".join("SELECT contact FROM name_words WHERE word = ?" for _ in ws)
    return [r[0] for r in db.execute(query, ws)]


def fuzzy_matches(db: sqlite3.Connection, name: str, limit: int = 6) -> list[int]:
    wanted = set().union(*(grams(w) for w in words(name))) if words(name) else set()
    if not wanted:
        return []
    total = int(db.execute("SELECT value FROM meta WHERE key = 'contacts'").fetchone()[0])
    marks = ",".join("?" * len(wanted))
    counts = dict(db.execute(f"SELECT gram, n FROM gram_counts WHERE gram IN ({marks})", list(wanted)))
    useful = [g for g in wanted if g in counts and counts[g] <= max(50, GRAM_SKIP_SHARE * total)]
    if not useful:  # only common grams: use the three rarest
        useful = sorted((g for g in wanted if g in counts), key=counts.__getitem__)[:3]
    if not useful:
        return []
    marks = ",".join("?" * len(useful))
    candidates = db.execute(
        f"SELECT c.num, c.first_name, c.last_name FROM contacts c JOIN "
        f"(SELECT contact, COUNT(*) AS hits FROM name_grams WHERE gram IN ({marks}) "
        f"GROUP BY contact ORDER BY hits DESC LIMIT {CANDIDATES}) g ON g.contact = c.num",
        useful,
    ).fetchall()
    target = " ".join(words(name))
    scored = []
    matcher = difflib.SequenceMatcher(b=target)
    for num, first, last in candidates:
        matcher.set_seq1(" ".join(words(full_name(first, last))))
        score = matcher.ratio()
        if score >= 0.6:
            scored.append((score, num))
    scored.sort(reverse=True)
    return [num for _, num in scored[:limit]]


def find(db: sqlite3.Connection, name: str) -> int:
    nums = exact_matches(db, name)
    how = "exact"
    if not nums:
        nums, how = fuzzy_matches(db, name), "fuzzy"
    if not nums:
        print(f"Nobody called {name} in the book.")
        return 1
    print(f"Contacts ({how}):")
    for num in nums:
        doc = json.loads(db.execute("SELECT doc FROM contacts WHERE num = ?", (num,)).fetchone()[0])
        print(
            f"  {full_name(doc.get('first_name'), doc.get('last_name'))}  {doc['contact_id']}  "
            f"{', '.join(doc.get('phones', []))}  {', '.join(doc.get('emails', []))}  {doc.get('lifecycle_stage')}"
        )
        for (lead_doc,) in db.execute("SELECT doc FROM leads WHERE contact_id = ?", (doc["contact_id"],)):
            lead = json.loads(lead_doc)
            print(f"    lead {lead['lead_id']}  {lead['title']}  {lead['status']}  {lead.get('pipeline_stage')}")
    return 0


def log(db: sqlite3.Connection, name: str, body: str) -> int:
    stamp = utc_stamp(now_local())
    db.execute("BEGIN IMMEDIATE")
    nums = exact_matches(db, name)
    if len(nums) != 1:
        db.execute("ROLLBACK")
        print(f"Which {name}? {len(nums)} match.")
        return 1
    contact = json.loads(db.execute("SELECT doc FROM contacts WHERE num = ?", (nums[0],)).fetchone()[0])
    cid = contact["contact_id"]
    row = db.execute(
        "SELECT id, doc FROM leads WHERE contact_id = ? AND status IN (?, ?, ?) ORDER BY created_at DESC LIMIT 1",
        (cid, *OPEN_LEADS),
    ).fetchone()
    lead_id = row[0] if row else None
    num = (db.execute("SELECT MAX(num) FROM interactions").fetchone()[0] or 0) + 1
    doc = {
        "interaction_id": f"I-{num}",
        "type": "phone_call",
        "timestamp": stamp,
        "contact_id": cid,
        "lead_id": lead_id,
        "subject": "Call",
        "body": body,
        "outcome": "voicemail",
        "follow_up_date": None,
        "follow_up_status": "none",
        "created_at": stamp,
        "updated_at": stamp,
    }
    db.execute(
        "INSERT INTO interactions VALUES (?,?,?,?,?,?,?,?,?)",
        (num, doc["interaction_id"], cid, lead_id, None, stamp, "none", None, json.dumps(doc)),
    )
    event = {"at": stamp, "actor": "owner", "action": "create", "table": "interactions", "after": doc}
    db.execute("INSERT INTO events(at, doc) VALUES (?, ?)", (stamp, json.dumps(event)))
    db.execute("COMMIT")
    who = full_name(contact.get("first_name"), contact.get("last_name"))
    on = f" on the lead {lead_id}" if lead_id else ""
    print(f"Logged the call with {who}{on} ({doc['interaction_id']}).")
    return 0


def quiet_cutoff(today: dt.date, business_days: int = 3) -> str:
    """Activity before the returned UTC instant leaves a lead quiet today (Mon-Fri business days)."""
    edge, left = today, business_days
    while left:
        if edge.weekday() < 5:
            left -= 1
        edge -= dt.timedelta(days=1)
    return utc_stamp(dt.datetime.combine(edge + dt.timedelta(days=1), dt.time(), TZ))


def digest(db: sqlite3.Connection) -> int:
    today = now_local().date()
    follow_ups = db.execute(
        "SELECT i.id, i.follow_up_date, json_extract(i.doc, '$.subject'), c.first_name, c.last_name "
        "FROM interactions i LEFT JOIN contacts c ON c.id = i.contact_id "
        "WHERE i.follow_up_status = 'pending' AND i.follow_up_date <= ? ORDER BY i.follow_up_date, i.id",
        (today.isoformat(),),
    ).fetchall()
    # the newest interaction of every lead: one GROUP BY over the (lead_id, timestamp) index
    stale = db.execute(
        "SELECT l.id, json_extract(l.doc, '$.title'), c.first_name, c.last_name, "
        "       MAX(l.created_at, COALESCE(last.at, '')) AS touched "
        "FROM leads l "
        "LEFT JOIN (SELECT lead_id, MAX(timestamp) AS at FROM interactions WHERE lead_id IS NOT NULL "
        "           GROUP BY lead_id) last ON last.lead_id = l.id "
        "LEFT JOIN contacts c ON c.id = l.contact_id "
        "WHERE l.status IN (?, ?) AND MAX(l.created_at, COALESCE(last.at, '')) < ? ORDER BY touched",
        (*QUIET_LEADS, quiet_cutoff(today)),
    ).fetchall()
    out = [f"Morning digest — {today:%A %B %d}", f"Today's follow-ups: {len(follow_ups)}"]
    for iid, due, subject, first, last in follow_ups:
        late = (today - dt.date.fromisoformat(due)).days
        when = f"overdue {late} d" if late else "today"
        out.append(f"  {full_name(first, last)}  {subject}  {when}  {iid}")
    out.append(f"Quiet leads: {len(stale)}")
    for lid, title, first, last, touched in stale:
        days = (today - dt.datetime.fromisoformat(touched).astimezone(TZ).date()).days
        who = full_name(first, last)
        out.append(f"  Heads up: the {title} lead from {who} ({lid}) has had no activity in {days} days.")
    print("\n".join(out))  # one write: printing 50,000 lines one by one costs a third of a second
    return 0


def pipeline(db: sqlite3.Connection) -> int:
    end = now_local().date()
    start = end - dt.timedelta(days=6)
    lo, hi = start.isoformat(), (end + dt.timedelta(days=1)).isoformat()
    q = db.execute
    new_leads = q("SELECT COUNT(*) FROM leads WHERE created_at >= ? AND created_at < ?", (lo, hi)).fetchone()[0]
    open_count, avg_age = q(
        "SELECT COUNT(*), AVG(julianday(?) - julianday(substr(created_at, 1, 10))) FROM leads "
        "WHERE status IN (?, ?, ?)",
        (end.isoformat(), *OPEN_LEADS),
    ).fetchone()
    lead_props = q(
        "SELECT COUNT(*), TOTAL(estimated_value) FROM leads "
        "WHERE status IN (?, ?, ?) AND pipeline_stage = 'estimate_sent'",
        OPEN_LEADS,
    ).fetchone()
    job_props = q("SELECT COUNT(*), TOTAL(amount) FROM opportunities WHERE stage = 'proposal_sent'").fetchone()
    won = q(
        "SELECT COUNT(*), TOTAL(amount) FROM opportunities WHERE stage = 'won' AND close_date BETWEEN ? AND ?",
        (lo, end.isoformat()),
    ).fetchone()
    lost = q(
        "SELECT COUNT(*) FROM opportunities WHERE stage = 'lost' AND close_date BETWEEN ? AND ?", (lo, end.isoformat())
    ).fetchone()[0]
    oldest = q(
        "SELECT l.id, json_extract(l.doc, '$.title'), c.first_name, c.last_name, l.created_at FROM leads l "
        "LEFT JOIN contacts c ON c.id = l.contact_id WHERE l.status IN (?, ?, ?) ORDER BY l.created_at LIMIT 1",
        OPEN_LEADS,
    ).fetchone()
    past_due = q(
        "SELECT l.id, json_extract(l.doc, '$.title'), c.first_name, c.last_name, l.expected_close_date FROM leads l "
        "LEFT JOIN contacts c ON c.id = l.contact_id WHERE l.status IN (?, ?, ?) AND l.expected_close_date < ? "
        "UNION ALL "
        "SELECT o.id, json_extract(o.doc, '$.name'), c.first_name, c.last_name, o.expected_close_date "
        "FROM opportunities o LEFT JOIN contacts c ON c.id = o.contact_id "
        "WHERE o.stage IN (?, ?, ?) AND o.expected_close_date < ? ORDER BY 5",
        (*OPEN_LEADS, end.isoformat(), *OPEN_JOBS, end.isoformat()),
    ).fetchall()
    out = [
        f"Pipeline — {end} (the 7 days from {start})",
        f"New leads this week: {new_leads}",
        f"Leads in follow-up: {open_count} (avg age: {avg_age or 0:.1f} days)",
        f"Proposals out: {lead_props[0] + job_props[0]} (total value: ${lead_props[1] + job_props[1]:,.0f})",
        f"Won this week: {won[0]} (${won[1]:,.0f})",
        f"Lost this week: {lost}",
    ]
    if oldest:
        out.append(f"Oldest open lead: {oldest[1]} ({full_name(oldest[2], oldest[3])}) since {oldest[4][:10]}")
    out.append(f"Past their expected close date: {len(past_due)}")
    out.extend(f"  {title}  {full_name(first, last)}  {when}  {rid}" for rid, title, first, last, when in past_due)
    print("\n".join(out))
    return 0


def open_book(db: sqlite3.Connection) -> int:
    print(f"leads: {db.execute('SELECT COUNT(*) FROM leads').fetchone()[0]}")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    what, path, rest = argv[0], argv[1], argv[2:]
    if what == "build":
        build(Path(path), Path(rest[0]))
        return 0
    db = connect(path)
    try:
        if what == "open":
            return open_book(db)
        if what == "find":
            return find(db, rest[0])
        if what == "log":
            return log(db, rest[0], rest[1])
        if what == "digest":
            return digest(db)
        if what == "pipeline":
            return pipeline(db)
    finally:
        db.close()
    print(f"unknown question {what!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
