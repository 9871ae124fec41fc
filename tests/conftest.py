from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backoffice.tools.book.store import Store
from backoffice.tools.catalog import get_tool
from backoffice.tools.services import Services

FRIDAY = "2026-11-20T10:00:00"  # a Friday, business time zone (America/New_York)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own data dir, a pinned clock and no API key."""
    monkeypatch.setenv("BACKOFFICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BACKOFFICE_NOW", FRIDAY)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def services() -> Services:
    """What the book reaches the outside world through; tests that need a fake put it here."""
    return Services()


@pytest.fixture
def store(data_dir: Path, services: Services) -> Store:
    """An empty book. Its folder exists, as after a first write: commands that only read
    refuse a book whose folder is not there at all."""
    data_dir.mkdir(parents=True, exist_ok=True)
    s = Store(data_dir, services=services)
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
