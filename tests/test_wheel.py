"""The wheel works where a user installs it: built from the checkout, installed NON-editable, used
from another directory. A reduced .ci/smoke (which does it all in a fresh venv), kept here so a
packaging slip shows up in `make test` too. Offline: the build uses the venv's setuptools.

Run it alone with ``pytest -m wheel``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(
    ".git", ".venv", ".lint", "data", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
)


@pytest.mark.wheel
@pytest.mark.once  # packaging: the wheel is the same whichever engine holds the book
def test_the_wheel_runs_from_another_directory(tmp_path: Path):
    source = tmp_path / "src"  # a copy: building in the checkout would leave build/ and egg-info there
    shutil.copytree(ROOT, source, ignore=SKIP)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", tmp_path / "dist", source],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("backoffice-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--target", site, wheel], check=True, capture_output=True
    )

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "BACKOFFICE_DATA_DIR": str(tmp_path / "book")}

    def backoffice(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "backoffice", *args], capture_output=True, text=True, cwd=elsewhere, env=env
        )

    where = subprocess.run(
        [sys.executable, "-c", "import backoffice.agent.cli as m; print(m.__file__)"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
    )
    assert where.stdout.startswith(str(site)), where  # the wheel's files, not the checkout's
    assert backoffice("--version").stdout.startswith("backoffice ")
    no_book = backoffice("--json", "pipeline")
    assert no_book.returncode == 1 and "There is no book at" in no_book.stderr
    assert not (tmp_path / "book").exists()
    demo = backoffice("demo")
    assert demo.returncode == 0, demo.stderr  # writes records: the schemas ship in the wheel
    assert json.loads(backoffice("digest", "--json").stdout)["follow_ups"]
    chat = subprocess.run(
        [sys.executable, "-m", "backoffice", "chat"],
        input="what's our pipeline?\nquit\n",
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
    )
    assert "Proposals out: 2" in chat.stdout and "no procedure files" not in chat.stdout.lower()
