"""The book on PostgreSQL: what only a database server has to prove. Everything else (validation,
states, capture, reports, the chat) is proven by the whole suite run with --backend=postgresql."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg
import pytest

from backoffice.tools.book import pgschema
from backoffice.tools.book.spec import NUMBERS, SPEC
from backoffice.tools.book.store import Store
from backoffice.tools.errors import StoreError

from .conftest import add_contact, call, lines

pytestmark = pytest.mark.postgresql_only


def _sql(url: str, query: str, *params: object) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []  # an INSERT without RETURNING gives no rows


def test_a_database_without_a_book_reads_empty_and_the_first_write_makes_it(data_dir: Path):
    url = os.environ["BACKOFFICE_DATABASE_URL"]
    store = Store(data_dir)
    assert not store.exists() and store.scan("contacts") == [] and store.events() == []
    assert _sql(url, "SELECT to_regclass('t_contacts') IS NULL") == [(True,)]  # reading made nothing
    add_contact(store, phone="555-201-7788")
    assert store.exists()
    shipped = [(level, name) for level, name, _ in pgschema.shipped()]
    assert shipped[0] == (1, "0001_book.sql")
    assert _sql(url, "SELECT level, name FROM backoffice_migrations ORDER BY level") == shipped
    store.close()


def test_the_migrated_tables_hold_every_indexed_column_of_spec(store: Store):
    """A new column in spec.SPEC needs a migration that adds it: this fails until one does."""
    url = store.database_url
    assert url
    for table, spec in SPEC.items():
        found = dict(
            _sql(
                url,
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = %s",
                f"t_{table}",
            )
        )
        for column in ["key", "doc", *spec.columns]:
            assert column in found, f"t_{table}.{column} is in SPEC but no migration creates it"
            if column in NUMBERS.get(table, ()):
                assert found[column] in ("numeric", "integer", "bigint"), (table, column)
        assert found["doc"] == "jsonb"


def test_a_newer_migration_is_applied_once_by_the_next_command(store: Store, data_dir: Path, monkeypatch):
    add_contact(store, phone="555-201-7788")
    store.close()
    now = pgschema.latest()
    extra = (now + 1, f"{now + 1:04d}_nicknames.sql", "ALTER TABLE t_contacts ADD COLUMN nickname text;")
    shipped = pgschema.shipped()
    monkeypatch.setattr(pgschema, "shipped", lambda: (*shipped, extra))
    again = Store(data_dir)
    assert again.count("contacts") == 1  # the read brought the book up to the new level first
    url = again.database_url
    levels = list(range(1, now + 2))
    assert url and [r[0] for r in _sql(url, "SELECT level FROM backoffice_migrations ORDER BY level")] == levels
    assert Store(data_dir).count("contacts") == 1  # and only once
    assert len(_sql(url, "SELECT level FROM backoffice_migrations")) == now + 1
    again.close()


def test_a_book_upgraded_by_a_newer_backoffice_is_refused_untouched(store: Store, data_dir: Path, cli):
    add_contact(store, phone="555-201-7788")
    url = store.database_url
    assert url
    now = pgschema.latest()
    future = f"{now + 1:04d}_from_the_future.sql"
    _sql(url, f"INSERT INTO backoffice_migrations (level, name) VALUES ({now + 1}, '{future}') RETURNING level")
    code, screen = cli("pipeline")
    assert code == 1 and f"migration level {now + 1}" in screen and f"only up to level {now}" in screen
    with pytest.raises(StoreError, match="Upgrade backoffice"):
        Store(data_dir).count("contacts")


def test_doctor_names_the_server_its_version_and_the_migration_level(cli, store: Store):
    code, screen = cli("--json", "doctor")
    storage = next(row for row in json.loads(screen) if row["name"] == "Storage")
    version = _sql(store.database_url or "", "SHOW server_version")[0][0].split()[0]
    assert storage["ok"] and f"PostgreSQL {version} at postgresql://" in storage["note"]
    assert f"migration level {pgschema.latest()} of {pgschema.latest()}" in storage["note"]


def test_the_lookups_the_tools_make_are_answered_by_indexes(store: Store):
    """With sequential scans priced out, every lookup still finds a plan: an index serves it, so at
    100,000 leads it reads a few rows, not the table."""
    contact = add_contact(store, phone="555-201-7788", email="dana@example.com")
    call(store, "create_lead", title="Leaky faucet", contact_id=contact["contact_id"])
    url = store.database_url
    assert url
    lookups = {
        "email": "SELECT key FROM multi WHERE tbl = 'contacts' AND name = 'email' AND value = 'dana@example.com'",
        "phone": "SELECT key FROM multi WHERE tbl = 'contacts' AND name = 'phone' AND value = '+15552017788'",
        "name word": "SELECT key FROM multi WHERE tbl = 'contacts' AND name = 'word' AND value >= 'rey' "
        "AND value < 'rey\U0010ffff'",
        "follow-ups due": "SELECT doc FROM t_interactions WHERE follow_up_status = 'pending' "
        "AND follow_up_date <= '2026-11-20' ORDER BY follow_up_date, key",
        "capture key (lead)": "SELECT doc FROM t_leads WHERE source_ref = 'abc@mail'",
        "capture key (message)": "SELECT doc FROM t_interactions WHERE message_id = '<abc@mail>'",
        "quiet leads": "SELECT key FROM t_leads WHERE status IN ('new', 'working') "
        "AND coalesce(last_ts, created_at) < '2026-11-01'",
        "a lead's interactions": "SELECT doc FROM t_interactions WHERE lead_id = 'L-1' ORDER BY ts DESC LIMIT 1",
    }
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        for what, query in lookups.items():
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + query))
            assert "Seq Scan" not in plan, f"{what}:\n{plan}"


def test_two_computers_share_pending_actions_and_run_an_approval_once(cli, store: Store, tmp_path: Path):
    """Two data dirs (two computers' settings) on one database: one list of actions, and an action
    approved on both at once is claimed by one of them only."""
    from concurrent.futures import ThreadPoolExecutor

    from backoffice.agent.gate.pending import PendingStore

    laptop, desk = tmp_path / "laptop", tmp_path / "desk"
    action, new = PendingStore(laptop).propose(
        "mark_opportunity_won", {"opportunity_id": "O-1"}, "Mark O-1 won", "Mark the job O-1 won", "chat"
    )
    assert new and [a.id for a in PendingStore(desk).open()] == [action.id]
    code, screen = cli("--data-dir", str(desk), "pending")
    assert code == 0 and "Mark O-1 won" in screen
    with ThreadPoolExecutor(6) as pool:
        claims = list(pool.map(lambda d: PendingStore(d).claim(action.id, "owner")[1], [laptop, desk] * 3))
    assert claims.count(True) == 1
    assert PendingStore(laptop).get(action.id).status == "running"
    assert not (laptop / "pending.json").exists() and not (desk / "pending.json").exists()


def test_the_chat_seen_reports_follow_the_book_not_the_computer(cli, store: Store, tmp_path: Path):
    laptop, desk = tmp_path / "laptop", tmp_path / "desk"
    code, screen = cli("--data-dir", str(laptop), "chat", stdin=lines("quit"))
    assert "Morning digest — Friday November 20" in screen
    code, screen = cli("--data-dir", str(desk), "chat", stdin=lines("quit"))
    assert code == 0 and "Morning digest" not in screen  # made and shown once for the office


def test_pending_actions_in_the_database_that_do_not_fit_their_schema_are_refused_and_left_as_they_are(
    cli, store: Store
):
    """What main guarantees for pending.json holds for its row: read as untrusted, named, untouched."""
    url = os.environ["BACKOFFICE_DATABASE_URL"]
    bad = json.dumps({"next": 1, "actions": [{"id": "P-1", "tool": "mark_opportunity_won"}]})
    _sql(url, "INSERT INTO state_docs (name, doc) VALUES ('pending', %s) "
              "ON CONFLICT (name) DO UPDATE SET doc = EXCLUDED.doc RETURNING name", bad)  # fmt: skip
    before = _sql(url, "SELECT doc::text FROM state_docs WHERE name = 'pending'")
    for argv in (("pending",), ("approve", "P-1"), ("reject", "P-1")):
        code, screen = cli(*argv)
        assert code == 1 and "does not fit its schema" in screen, (argv, screen)
        assert "The row holding actions waiting for your approval in postgresql://" in screen, (argv, screen)
        assert "Traceback" not in screen
    assert _sql(url, "SELECT doc::text FROM state_docs WHERE name = 'pending'") == before


def test_check_reads_the_records_in_the_database_and_names_one_that_breaks_its_schema(
    cli, store: Store, data_dir: Path
):
    url = os.environ["BACKOFFICE_DATABASE_URL"]
    add_contact(store, phone="555-201-7788")
    data_dir.chmod(0o700)  # made by the fixture, not by backoffice
    code, screen = cli("check")
    assert code == 0 and "and the book in postgresql://" in screen, screen
    _sql(url, "UPDATE t_contacts SET doc = jsonb_set(doc, '{lifecycle_stage}', '\"royalty\"') "
              "WHERE key = 1 RETURNING key")  # fmt: skip
    code, screen = cli("check")
    assert code == 1 and "postgresql://" in screen and "C-1" in screen and "lifecycle_stage" in screen, screen
