"""The command line as hands use it: options anywhere, typos, pipes, exports into streams, and
which book a command opens (and that a read never creates one)."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from backoffice.agent.cli import COMMANDS
from backoffice.tools.book.store import Store

from .conftest import backoffice

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def demo_book(data_dir: Path, tmp_path: Path) -> Path:
    assert backoffice("demo", cwd=tmp_path).returncode == 0
    return data_dir


# ---------------------------------------------------------------------------- the command table
def test_every_command_in_the_table_resolves_to_its_module():
    for command in COMMANDS.values():
        assert callable(command.handler()), command.name
        if command.arguments:
            import argparse

            command.add_arguments(argparse.ArgumentParser())


IMPORTED = (
    "import sys\n"
    "from backoffice.agent.cli import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    "print('MODULES', ' '.join(sorted(sys.modules)))\n"
)


def _modules_after(tmp_path: Path, *argv: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", IMPORTED, *argv], capture_output=True, text=True, cwd=tmp_path).stdout
    return set(out.rpartition("MODULES ")[2].split())


def test_help_and_a_typo_import_no_command_module_and_no_heavy_library(tmp_path: Path):
    for argv in (["--help"], ["pipline"], []):
        loaded = _modules_after(tmp_path, *argv)
        assert loaded, argv
        assert not {m for m in loaded if m.startswith("backoffice.agent.cli.")}, argv
        heavy = ("rich", "pydantic", "jsonschema", "anthropic", "argcomplete", "importlib.metadata")
        assert not {m for m in loaded if m in heavy or m.split(".")[0] in heavy}, argv


def test_running_a_command_imports_its_own_module_only(demo_book: Path, tmp_path: Path):
    loaded = _modules_after(tmp_path, "--json", "pipeline")
    assert "backoffice.agent.cli.reports" in loaded
    others = {"conversation", "book", "connections", "daemon"}
    assert not {m for m in loaded if m.rpartition(".")[2] in others and m.startswith("backoffice.agent.cli.")}


def test_a_mistyped_command_suggests_the_closest_one(cli):
    code, screen = cli("pipline")
    assert code == 2 and "Did you mean pipeline?" in screen
    code, screen = cli("--json", "dgest", "--date", "2026-11-20")
    assert code == 2 and "Did you mean digest?" in screen
    code, screen = cli("zzzz")
    assert code == 2 and "not a backoffice command" in screen and "Did you mean" not in screen


def test_tab_completion_names_commands_and_their_options(tmp_path: Path):
    answers = tmp_path / "completions"

    def complete(line: str) -> set[str]:
        env = {"_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line))}
        backoffice(cwd=tmp_path, env={**env, "_ARGCOMPLETE_STDOUT_FILENAME": str(answers)})
        return set(answers.read_text().replace("\v", " ").split())

    assert complete("backoffice pip") == {"pipeline"}
    assert complete("backoffice d") == {"digest", "doctor", "demo", "duplicates"}
    assert {"--json", "--data-dir", "--date"} <= complete("backoffice digest --")


def test_version_and_python_dash_m(tmp_path: Path):
    from importlib.metadata import version

    result = backoffice("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"backoffice {version('backoffice')}"
    result = backoffice("--help", cwd=tmp_path)
    assert result.returncode == 0 and "pipeline" in result.stdout and "usage: backoffice" in result.stdout


# ---------------------------------------------------------------------------- global options
def test_global_options_work_before_or_after_the_command(cli, store: Store, data_dir: Path, tmp_path: Path):
    from tests.conftest import add_contact

    add_contact(store, phone="555-201-7788")
    for argv in (("digest", "--json"), ("--json", "digest"), ("pipeline", "--date", "2026-11-20", "--json")):
        code, screen = cli(*argv)
        assert code == 0 and isinstance(json.loads(screen), dict), argv
    code, screen = cli("export", "contacts", "-", "--json")
    assert code == 0 and json.loads(screen)[0]["first_name"] == "Dana"
    # between the command's own words too (found by a new owner: "unrecognized arguments")
    code, screen = cli("export", "contacts", "--json", str(tmp_path / "out.json"))
    assert code == 0 and json.loads((tmp_path / "out.json").read_text())[0]["first_name"] == "Dana"
    code, screen = cli("chat", "--offline", stdin="quit\n")
    assert code == 0 and "Offline planner answering (--offline)" in screen

    other = tmp_path / "other"
    other.mkdir()
    for argv in (("--data-dir", str(other), "--json", "pending"), ("pending", "--json", "--data-dir", str(other))):
        code, screen = cli(*argv)
        assert code == 0 and json.loads(screen) == [], argv
    # the same option after the command wins over the one before it
    code, screen = cli("--data-dir", str(tmp_path / "nowhere"), "pending", "--data-dir", str(other))
    assert code == 0 and "Nothing is waiting" in screen


# ---------------------------------------------------------------------------- pipes
def _reader_leaves_at_once(*args: str, cwd: Path) -> tuple[int, str]:
    """Run ``backoffice ARGS`` into a pipe whose reader has already gone (``| head`` done)."""
    environ = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "backoffice", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=environ,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=60), err


@pytest.mark.parametrize("argv", [("export", "contacts", "-"), ("digest",), ("pipeline", "--json"), ("--help",)])
def test_output_into_a_pipe_that_closes_ends_quietly(demo_book: Path, tmp_path: Path, argv):
    code, err = _reader_leaves_at_once(*argv, cwd=tmp_path)
    assert code in (0, 141) and err == ""


def test_an_export_bigger_than_the_pipe_stops_when_the_reader_leaves(cli, store: Store, tmp_path: Path):
    # A pipe takes 64 KiB and the write returns short instead of failing: the export once ended
    # with exit 0 after the first 64 KiB, as if everything had been read.
    from tests.conftest import add_contact

    for n, name in enumerate(("Dana Reyes", "Marcus Chen", "Priya Patel", "Tom Becker")):
        add_contact(store, name=name, phone=f"555-301-{1000 + n}", notes="gate code and parking notes " * 1000)
    store.close()
    environ = {**os.environ, "BACKOFFICE_DATA_DIR": str(store.directory)}
    proc = subprocess.Popen([sys.executable, "-m", "backoffice", "export", "contacts", "-"], cwd=tmp_path, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert first.startswith(b"contact_id") and proc.wait(timeout=60) == 141 and err == ""


def test_a_reader_leaving_mid_output_gives_exit_141_in_process(cli, store: Store, monkeypatch):
    class GoneReader(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", GoneReader())
    code, _ = cli("--json", "pipeline")
    assert code == 141


def test_output_into_a_pipe_is_neither_wrapped_nor_padded(demo_book: Path, tmp_path: Path):
    out = backoffice("digest", cwd=tmp_path).stdout
    lines = out.splitlines()
    assert not [line for line in lines if line != line.rstrip()]
    heads_up = next(line for line in lines if line.startswith("Heads up:"))
    assert len(heads_up) > 80 and heads_up.endswith("sent a ballpark estimate by email.")
    table_rows = [line for line in lines if line.startswith("│ Tom Becker")]
    assert table_rows and "He wants a price before the holidays; call back with a quote." in table_rows[0]


def test_padding_is_dropped_even_when_a_line_ends_in_the_next_write():
    from backoffice.agent.cli.output import Unpadded

    out = io.StringIO()
    stream = Unpadded(out)
    for chunk in ("Pipeline   \nword ", "word   ", "\n", "you> ", "quit\n"):
        stream.write(chunk)
    assert out.getvalue() == "Pipeline\nword word\nyou> quit\n"


def _colours(text: str) -> set[str]:
    codes = {p for params in re.findall(r"\x1b\[([0-9;]*)m", text) for p in params.split(";")}
    return {c for c in codes if c.isdigit() and (30 <= int(c) <= 38 or 90 <= int(c) <= 97)}


def test_no_color_keeps_working(demo_book: Path, tmp_path: Path):
    forced = backoffice("check", cwd=tmp_path, env={"FORCE_COLOR": "1", "TERM": "xterm-256color"}).stdout
    assert _colours(forced)  # the tick is green
    plain = backoffice("check", cwd=tmp_path, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout
    assert not _colours(plain) and "Every record" in plain


# ---------------------------------------------------------------------------- export targets
def test_export_into_a_fifo_writes_into_it_and_leaves_it_a_fifo(cli, demo_book: Path, tmp_path: Path):
    fifo = tmp_path / "contacts.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    code, screen = cli("export", "contacts", str(fifo))
    reader.join(timeout=30)
    assert code == 0 and "Traceback" not in screen
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received and received[0].startswith(b"contact_id,") and b"Dana" in received[0]


def test_export_to_a_stream_path_writes_to_the_stream(demo_book: Path, tmp_path: Path):
    # /dev/fd/1 is what /dev/stdout points at; stdout is a pipe here
    result = backoffice("export", "leads", "/dev/fd/1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("lead_id,") and "Wrote" not in result.stdout
    with open(tmp_path / "out.csv", "w") as target:  # `> out.csv`: the shell's file gets the bytes
        subprocess.run(
            [sys.executable, "-m", "backoffice", "export", "contacts", "/dev/fd/1"], stdout=target, cwd=tmp_path
        )
    assert (tmp_path / "out.csv").read_bytes().startswith(b"\xef\xbb\xbfcontact_id,")


def test_export_of_a_kind_without_a_file_asks_for_the_file_and_writes_nothing(cli, store: Store, tmp_path, monkeypatch):
    # "export leads" once wrote the contacts into a file named "leads"
    monkeypatch.chdir(tmp_path)
    code, screen = cli("export", "leads")
    assert code == 1 and "say where to write the leads" in screen and not (tmp_path / "leads").exists()


def test_export_into_a_missing_folder_names_it(cli, store: Store, tmp_path: Path):
    code, screen = cli("export", "contacts", str(tmp_path / "no" / "such" / "out.csv"))
    assert code == 1 and f"there is no folder {tmp_path / 'no' / 'such'}" in screen and "Traceback" not in screen
    code, screen = cli("export", "contacts", str(tmp_path))
    assert code == 1 and "is a folder" in screen


def test_export_to_a_file_replaces_it_and_keeps_a_symlink(cli, store: Store, tmp_path: Path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    code, screen = cli("export", "contacts", str(link))
    assert code == 0 and "Wrote 0 contacts" in screen
    assert link.is_symlink() and real.read_bytes().startswith(b"\xef\xbb\xbfcontact_id,")


# ---------------------------------------------------------------------------- where the book lives
READ_ONLY = {
    "digest": (),
    "pipeline": (),
    "winloss": (),
    "score": (),
    "kpis": (),
    "sources": (),
    "competitors": (),
    "board": (),
    "pending": (),
    "approve": ("P-1",),
    "reject": ("P-1",),
    "export": ("contacts", "-"),
    "duplicates": (),
    "merge": ("C-1", "C-2"),
    "check": (),
    "doctor": (),
    "gmail": ("status",),
    "quickbooks": ("status",),
    "run": ("--once",),
    "migrate": ("--to", "elsewhere"),
    "server": (),
}


def test_the_read_only_list_is_the_table():
    assert {name for name, c in COMMANDS.items() if c.reads} == set(READ_ONLY)


@pytest.mark.parametrize("name", sorted(READ_ONLY))
def test_a_read_only_command_never_creates_a_book(cli, data_dir: Path, name: str, backend: str):
    code, screen = cli("--json", name, *READ_ONLY[name])
    assert code == 1
    if backend == "files":
        assert f"There is no book at {data_dir} (BACKOFFICE_DATA_DIR)" in screen
    else:
        assert "There is no book in the database postgresql://" in screen and "(BACKOFFICE_DATABASE_URL)" in screen
        assert not Store(data_dir).exists()
    assert "backoffice demo" in screen and "backoffice import" in screen and "backoffice chat" in screen
    assert not data_dir.exists() and not data_dir.parent.joinpath(".lock").exists()


def test_ask_that_writes_nothing_creates_nothing(cli, data_dir: Path):
    code, screen = cli("ask", "what's our pipeline?")
    assert code == 1 and "Proposals out: 0" in screen and "There is no book" in screen
    assert not data_dir.exists()
    code, screen = cli("ask", "new inquiry from Sam Lee, 555-301-2222, water heater leaking")
    assert code == 0 and "Logged as lead L-1" in screen and "There is no book" not in screen
    assert Store(data_dir).exists()  # the first write made the book (the folder, or the database's tables)


def test_a_read_of_a_missing_book_creates_nothing_in_the_store(tmp_path: Path):
    from backoffice.agent.gate.pending import PendingStore

    missing = tmp_path / "missing"
    store = Store(missing)
    assert store.counts()["contacts"] == 0 and store.scan("leads") == [] and store.events() == []
    assert PendingStore(missing).all() == []
    store.close()
    assert not missing.exists()


@pytest.mark.files_only  # where the files go; the database is found through BACKOFFICE_DATABASE_URL
def test_the_book_is_found_the_same_from_any_directory(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("BACKOFFICE_DATA_DIR")
    home = tmp_path / "xdg"
    env = {"XDG_DATA_HOME": str(home)}
    somewhere, elsewhere = tmp_path / "a", tmp_path / "b"
    somewhere.mkdir(), elsewhere.mkdir()
    help_text = backoffice("--help", cwd=somewhere, env=env).stdout
    assert f"book: {home / 'backoffice'} (your user data folder; no book there yet)" in help_text
    assert backoffice("demo", cwd=somewhere, env=env).returncode == 0
    assert (home / "backoffice" / "crm.json").exists() and not (somewhere / "data").exists()
    result = backoffice("--json", "pipeline", cwd=elsewhere, env=env)
    assert result.returncode == 0 and json.loads(result.stdout)["proposals_out"] == 2
    # BACKOFFICE_DATA_DIR beats the default, --data-dir beats both
    other = tmp_path / "other"
    result = backoffice("--help", cwd=elsewhere, env={**env, "BACKOFFICE_DATA_DIR": str(other)})
    assert f"book: {other} (BACKOFFICE_DATA_DIR; no book there yet)" in result.stdout
    mine = str(home / "backoffice")
    result = backoffice("--data-dir", mine, "--help", cwd=elsewhere, env={"BACKOFFICE_DATA_DIR": "x"})
    assert f"book: {home / 'backoffice'} (--data-dir)" in result.stdout


def test_a_data_dir_that_is_a_file_is_a_clear_error(cli, tmp_path: Path):
    file = tmp_path / "crm.json"
    file.write_text("{}")
    code, screen = cli("--data-dir", str(file), "pipeline")
    assert code == 1 and f"{file} (--data-dir) is a file, not a folder" in screen and "Traceback" not in screen


def test_the_chat_and_doctor_say_which_book_is_open(cli, store: Store, data_dir: Path):
    code, screen = cli("chat", stdin="quit\n")
    assert code == 0 and f"Book: {data_dir}" in screen
    code, screen = cli("--json", "doctor")
    book = next(row for row in json.loads(screen) if row["name"] == "Book")
    assert str(data_dir) in book["note"] and "(BACKOFFICE_DATA_DIR)" in book["note"]


# ---------------------------------------------------------------------------- locks
def test_readers_share_the_lock_and_a_writer_excludes_them(tmp_path: Path):
    from backoffice.tools.book.storage import file_lock

    lock = tmp_path / "book" / ".lock"
    with file_lock(lock, shared=True) as first:  # a shared lock on a missing folder creates nothing
        assert first and not lock.parent.exists()
    lock.parent.mkdir()
    with file_lock(lock, shared=True), file_lock(lock, blocking=False, shared=True) as second:
        assert second
        with file_lock(lock, blocking=False) as writer:
            assert not writer
    with file_lock(lock), file_lock(lock, blocking=False, shared=True) as reader:
        assert not reader


def test_every_module_imports_where_posix_apis_are_missing():
    """As on Windows: no fcntl, no os.fchmod. Every module of the package still imports (fcntl is
    used, inside a POSIX guard, only when a lock is taken)."""
    script = textwrap.dedent(
        """
        import importlib, os, pkgutil, sys
        sys.modules["fcntl"] = None  # importing it now fails, as on Windows
        del os.fchmod
        import backoffice, backoffice.agent, backoffice.tools
        names = [m.name for p in (backoffice.agent, backoffice.tools)
                 for m in pkgutil.walk_packages(p.__path__, p.__name__ + ".")]
        for name in names:
            importlib.import_module(name)
        print(len(names))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 60


def test_closed_standard_streams_are_no_input_no_messages_or_a_refusal(demo_book: Path, tmp_path: Path):
    """`<&-`, `>&-`, `2>&-` as a script may leave them: never a traceback."""

    def closed(redirect: str, *args: str) -> subprocess.CompletedProcess[str]:
        words = " ".join(f"'{a}'" for a in args)
        script = f'exec "{sys.executable}" -m backoffice {words} {redirect}'
        return subprocess.run(["sh", "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)

    found = closed("<&-", "ask", "find Dana")
    assert found.returncode == 0 and "Dana Reyes" in found.stdout, found.stderr
    chat = closed("<&-", "chat")
    assert chat.returncode == 0 and chat.stdout.rstrip().endswith("Bye.")
    nowhere = closed(">&-", "ask", "log a call with Dana Reyes - nobody will see this")
    assert nowhere.returncode == 1 and "standard output is closed" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr
    notes = backoffice("--json", "export", "interactions", "-", cwd=tmp_path).stdout
    assert "nobody will see this" not in notes  # refused before anything ran
    quiet = closed("2>&-", "digest")
    assert quiet.returncode == 0 and "Morning digest" in quiet.stdout
