"""``backoffice migrate``: a book of files into an empty PostgreSQL database and back, verified,
and never half-copied."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import psycopg
import pytest

from backoffice.agent.gate.pending import PendingStore
from backoffice.tools.book import moving
from backoffice.tools.book.store import Store

from .conftest import lines

pytestmark = pytest.mark.postgresql_only
ROOT = Path(__file__).resolve().parent.parent


def _tables_in(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return int(
            conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
            ).fetchone()[0]
        )


def _schema_exists(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT current_schema()").fetchone()[0] is not None


@pytest.fixture
def file_book(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A one-machine book of files with a bit of everything: records, events, a report the chat
    has shown, a pending action, an import."""
    monkeypatch.delenv("BACKOFFICE_DATABASE_URL")
    book = tmp_path / "files"
    assert cli("--data-dir", str(book), "demo")[0] == 0
    assert cli("--data-dir", str(book), "chat", stdin=lines("quit"))[0] == 0  # today's digest, shown
    PendingStore(book).propose("mark_opportunity_won", {"opportunity_id": "O-1"}, "Mark O-1 won", "Mark it won", "chat")
    csv = tmp_path / "people.csv"
    csv.write_text("First Name,Last Name,Phone\nAva,Stone,555-404-1212\n")
    assert cli("--data-dir", str(book), "import", str(csv), stdin="yes\n")[0] == 0
    return book


def _as_seen(cli: Callable[..., tuple[int, str]], data_dir: Path) -> dict[str, object]:
    """What the owner sees of a book, through the commands."""
    return {
        "pipeline": json.loads(cli("--data-dir", str(data_dir), "--json", "pipeline")[1]),
        "digest": json.loads(cli("--data-dir", str(data_dir), "--json", "digest")[1]),
        "pending": [a["id"] for a in json.loads(cli("--data-dir", str(data_dir), "--json", "pending")[1])],
        "contacts": cli("--data-dir", str(data_dir), "export", "contacts", "-")[1],
    }


def test_a_book_moves_to_postgresql_and_back_with_everything_the_owner_sees(
    cli, file_book: Path, new_database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    before = _as_seen(cli, file_book)
    events = len(Store(file_book).events())
    url = new_database()
    code, screen = cli("--data-dir", str(file_book), "migrate", "--to", url)
    assert code == 0, screen
    assert "Counts and checksums match the book" in screen and "BACKOFFICE_DATABASE_URL=postgresql://" in screen

    # another computer: nothing but the address
    monkeypatch.setenv("BACKOFFICE_DATABASE_URL", url)
    desk = tmp_path / "desk"
    assert _as_seen(cli, desk) == before
    assert len(Store(desk).events()) == events
    code, screen = cli("--data-dir", str(desk), "chat", stdin=lines("quit"))
    assert code == 0 and "Morning digest" not in screen  # already shown before the move
    assert "P-1" in screen  # the pending action came along
    assert cli("--data-dir", str(desk), "check")[0] == 0

    back = tmp_path / "back"
    code, screen = cli("--data-dir", str(desk), "--json", "migrate", "--to", str(back))
    assert code == 0 and json.loads(screen)["verified"] is True
    monkeypatch.delenv("BACKOFFICE_DATABASE_URL")
    assert _as_seen(cli, back) == before
    assert json.loads((back / "crm.json").read_text())["contacts"]["1"]["contact_id"] == "C-1"  # plain TinyDB
    assert len(Store(back).events()) == events
    assert (back / "pending.json").exists() and (back / "imports.json").exists()
    assert sorted(p.name for p in (back / "notifications").glob("*.json")) == sorted(
        p.name for p in (file_book / "notifications").glob("*.json")
    )  # the reports; a lock file is made by the first report added


def test_a_database_that_holds_a_book_is_refused_and_left_as_it_is(cli, file_book: Path, new_database):
    url = new_database()
    assert cli("--data-dir", str(file_book), "migrate", "--to", url)[0] == 0
    Store(file_book).close()
    code, screen = cli("--data-dir", str(file_book), "migrate", "--to", url)
    assert code == 1 and "already holds a book" in screen and "Nothing was changed" in screen
    assert Store(file_book.parent / "x", database_url=url).count("contacts") == Store(file_book).count("contacts")


def test_a_folder_that_is_not_empty_is_refused(cli, file_book: Path, tmp_path: Path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    code, screen = cli("--data-dir", str(file_book), "migrate", "--to", str(taken))
    assert code == 1 and "not an empty folder" in screen
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]


def test_a_copy_interrupted_before_the_end_leaves_the_database_empty(
    cli, file_book: Path, new_database, monkeypatch: pytest.MonkeyPatch
):
    url = new_database()

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt  # everything is copied, nothing is committed yet

    monkeypatch.setattr(moving, "_database_tally", interrupted)
    code, screen = cli("--data-dir", str(file_book), "migrate", "--to", url)
    assert code == 1 and "Interrupted" in screen
    assert not _schema_exists(url)  # not even the schema the address names


def test_a_copy_interrupted_before_the_end_leaves_no_folder(
    cli, file_book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(moving, "tally_store", interrupted)
    code, _ = cli("--data-dir", str(file_book), "migrate", "--to", str(tmp_path / "back"))
    assert code == 1
    assert not (tmp_path / "back").exists() and not list(tmp_path.glob(".back.migrating-*"))


def _big_book(folder: Path, contacts: int) -> None:
    folder.mkdir(parents=True)
    stamp = "2026-11-01T10:00:00+00:00"
    docs = {
        str(i): {
            "contact_id": f"C-{i}",
            "first_name": f"Pat{i}",
            "last_name": "Lee",
            "lifecycle_stage": "prospect",
            "phones": [f"555-{i // 10000:03d}-{i % 10000:04d}"],
            "created_at": stamp,
            "updated_at": stamp,
        }
        for i in range(1, contacts + 1)
    }
    (folder / "crm.json").write_bytes(orjson.dumps({"contacts": docs}))


def test_a_big_book_shows_progress_and_a_kill_mid_copy_leaves_the_database_empty(
    new_database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("BACKOFFICE_DATABASE_URL")
    book = tmp_path / "big"
    _big_book(book, 30_000)
    url = new_database()
    command = [sys.executable, "-m", "backoffice", "--data-dir", str(book), "migrate", "--to", url]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT)
    assert proc.stderr is not None
    first = proc.stderr.readline()
    assert first.startswith("copied ") and "of 30,000" in first
    proc.send_signal(signal.SIGKILL)  # mid-copy: some rows are in the open transaction
    proc.wait(timeout=60)
    assert not _schema_exists(url) or _tables_in(url) == 0

    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env={**os.environ}, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "copied 30,000 of 30,000" in done.stderr
    assert Store(tmp_path / "desk", database_url=url).count("contacts") == 30_000
    found = Store(tmp_path / "desk", database_url=url).contacts_by_phone("555-002-0001")
    assert [c["contact_id"] for c in found] == ["C-20001"]
