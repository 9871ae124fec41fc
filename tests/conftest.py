from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backoffice.tools.book.store import Store
from backoffice.tools.catalog import get_tool
from backoffice.tools.services import Services

from .pg.server import PostgresServer

FRIDAY = "2026-11-20T10:00:00"  # a Friday, business time zone (America/New_York)

# No book server behind any command a test starts, fixtures of wider scope included (each would
# stay up for a temporary book); tests/test_server.py turns it on for what it tests.
os.environ["BACKOFFICE_SERVER"] = "off"


# ---------------------------------------------------------------------------- which book engine
# `pytest` runs every test on the files; `pytest --backend=postgresql` runs every test again with
# the book on a PostgreSQL server the tests start (pytest-postgresql, Debian's postgresql). Tests
# about the files themselves (journal, torn tails, index rebuilds) are marked files_only; tests
# about the server (migrations, two computers) postgresql_only; tests about something the storage
# never changes (the planner's understanding of the owner, the wheel) once: they run on the files
# only, to keep `make test` well inside CI's time. `make test` runs both.
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("files", "postgresql"),
        default="files",
        help="where the book lives while the tests run (default: files)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backend = config.getoption("--backend")
    for item in items:
        if backend == "postgresql" and item.get_closest_marker("files_only"):
            item.add_marker(pytest.mark.skip(reason="about the file engine itself (runs with --backend=files)"))
        if backend == "postgresql" and item.get_closest_marker("once"):
            item.add_marker(pytest.mark.skip(reason="nothing the storage changes (runs once, with --backend=files)"))
        if backend == "files" and item.get_closest_marker("postgresql_only"):
            item.add_marker(pytest.mark.skip(reason="about the PostgreSQL book (runs with --backend=postgresql)"))


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--backend"))


@pytest.fixture(scope="session")
def pg_server() -> Any:
    """A real PostgreSQL server for the whole run, started on first use and stopped at the end."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def new_database(request: pytest.FixtureRequest) -> Callable[[], str]:
    """Addresses of empty databases on the test server (each a schema of its own, made by the
    book's first write, as a real database of its own would be)."""
    server = request.getfixturevalue("pg_server")
    return server.new_url


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, backend: str) -> None:
    """Every test gets its own data dir (and, on PostgreSQL, its own empty database), a pinned
    clock, no API key, and no book server (every command runs the ordinary way; tests/test_server.py
    turns it on where it is the subject)."""
    monkeypatch.setenv("BACKOFFICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BACKOFFICE_SERVER", "off")
    monkeypatch.setenv("BACKOFFICE_NOW", FRIDAY)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("BACKOFFICE_DATABASE_URL", raising=False)
    if backend == "postgresql":
        monkeypatch.setenv("BACKOFFICE_DATABASE_URL", request.getfixturevalue("new_database")())


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def services() -> Services:
    """What the book reaches the outside world through; tests that need a fake put it here."""
    return Services()


def client(base_url: str, retries: int = 2) -> Any:
    """The real Anthropic SDK, pointed at a local fake (as the owner's would be at api.anthropic.com)."""
    import anthropic

    return anthropic.Anthropic(api_key="test-key", base_url=base_url, max_retries=retries, timeout=10.0)


@pytest.fixture
def api(services: Services) -> Iterator[Callable[..., Any]]:
    """Start a fake Messages API with a script and hand the chat a real client pointed at it."""
    from .fakes.messages_api import FakeMessagesAPI

    started: list[FakeMessagesAPI] = []

    def start(*script: Any) -> FakeMessagesAPI:
        fake = FakeMessagesAPI(list(script)).__enter__()
        started.append(fake)
        services.anthropic = client(fake.base_url)
        return fake

    yield start
    for fake in started:
        fake.__exit__(None, None, None)


@pytest.fixture
def store(data_dir: Path, services: Services, backend: str) -> Store:
    """An empty book. Its folder (on PostgreSQL: its tables) exists, as after a first write:
    commands that only read refuse a book that is not there at all."""
    data_dir.mkdir(parents=True, exist_ok=True)
    s = Store(data_dir, services=services)
    if backend == "postgresql":
        with s.transaction():
            pass  # a write that changes nothing still makes the book's tables
    yield s
    s.close()


def call(store: Store, name: str, /, **args: Any) -> dict[str, Any]:
    """Run a tool the way the agent does: arguments parsed by its input model."""
    tool = get_tool(name)
    return tool.func(store, tool.parse(args))


def add_contact(store: Store, **fields: Any) -> dict[str, Any]:
    fields.setdefault("name", "Dana Reyes")
    result = call(store, "create_contact", **fields)
    assert result["created"], result
    return result["contact"]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], services: Services):
    """Run the real ``backoffice`` entry point in-process with piped stdin: (exit code, screen)."""
    import io
    import sys

    from backoffice.agent.cli import main

    monkeypatch.setenv("COLUMNS", "200")

    def run(*argv: str, stdin: str = "") -> tuple[int, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = main(list(argv), services=services)
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


def lines(*owner_lines: str) -> str:
    return "\n".join(owner_lines) + "\n"


def records(store: Store, table: str) -> list[dict[str, Any]]:
    return store.scan(table)


def backoffice(*args: str, cwd: Path, env: dict[str, str] | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    """``python -m backoffice`` as a separate process, its output into a pipe (COLUMNS unset);
    ``kw`` goes to subprocess.run (input=, timeout=)."""
    environ = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run(
        [sys.executable, "-m", "backoffice", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**environ, **(env or {})},
        **kw,
    )
