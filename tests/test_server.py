"""The book server, as the command line meets it: a served command answers exactly as the same
command run the ordinary way (output, errors, exit status), where and as the caller is (folder,
environment, standard streams, a terminal, Ctrl-C), several at once without losing a write, and a
server that is stale, turned off or killed never answers wrongly.

The other tests run every command the ordinary way (``BACKOFFICE_SERVER=off``, see conftest); here
it is on, and every server started is stopped again (the fixture checks that none is left)."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backoffice.agent import server as book_server

from .conftest import backoffice as run_cli

pytestmark = pytest.mark.once  # the server runs commands; where their book lives changes nothing here

ON = {"BACKOFFICE_SERVER": "on", "BACKOFFICE_SERVER_IDLE": "120"}
OFF = {"BACKOFFICE_SERVER": "off"}


def backoffice(*args: str, env: dict[str, str], cwd: Path, input: str = "", timeout: float = 120):  # noqa: A002
    """A whole ``python -m backoffice`` process, its stdin given (never the test runner's)."""
    return run_cli(*args, cwd=cwd, env=env, input=input, timeout=timeout)


def shell(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A shell line (redirections, folders removed under it) run with ``env`` added."""
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, env={**os.environ, **env}, timeout=120)


def status(data_dir: Path) -> dict:
    return book_server.ask(data_dir, "status") or {}


@pytest.fixture
def served(data_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A demo book with its server running; afterwards no server is left for it."""
    assert backoffice("demo", env=OFF, cwd=tmp_path).returncode == 0
    started = backoffice("server", "start", env=ON, cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    assert status(data_dir).get("pid")
    yield data_dir
    backoffice("server", "stop", env=ON, cwd=tmp_path)
    deadline = time.monotonic() + 10
    while book_server.lock_held(data_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not book_server.lock_held(data_dir), "a book server was left running"
    assert not (data_dir / book_server.SOCKET).exists()


def served_count(data_dir: Path) -> int:
    return int(status(data_dir).get("served", 0))


def test_a_served_command_answers_exactly_as_the_ordinary_one(served: Path, tmp_path: Path):
    commands = [
        ("ask", "find Linda"),
        ("ask", "who is Kevin?"),
        ("--json", "digest"),
        ("pipeline",),
        ("winloss", "--month", "2026-10"),
        ("pending",),
        ("export", "contacts", "-"),
        ("check",),
        ("duplicates",),
        ("approve", "A-999"),  # refused: an error message and exit 1, the same both ways
        ("export", "nonsense"),  # a usage error: exit 2
    ]
    for args in commands:
        before = served_count(served)
        ordinary = backoffice(*args, env=OFF, cwd=tmp_path)
        answered = backoffice(*args, env=ON, cwd=tmp_path)
        assert (answered.returncode, answered.stdout, answered.stderr) == (
            ordinary.returncode,
            ordinary.stdout,
            ordinary.stderr,
        ), args
        assert served_count(served) == before + 1, f"{args} was not run by the server"


def test_a_write_through_the_server_is_in_the_book_for_everyone(served: Path, tmp_path: Path):
    said = backoffice("ask", "log a call with Linda Ortiz - she wants the quote by Friday", env=ON, cwd=tmp_path)
    assert said.returncode == 0 and "Logged" in said.stdout, said.stdout + said.stderr
    ordinary = backoffice("--json", "export", "interactions", "-", env=OFF, cwd=tmp_path)
    assert "she wants the quote by Friday" in ordinary.stdout
    assert backoffice("check", env=OFF, cwd=tmp_path).returncode == 0


def test_the_command_runs_in_the_callers_folder_with_the_callers_environment(served: Path, tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    made = backoffice("export", "contacts", "people.csv", env=ON, cwd=elsewhere)
    assert made.returncode == 0, made.stderr
    assert (elsewhere / "people.csv").read_text(encoding="utf-8-sig").startswith("contact_id,")
    # the clock and the output width are the caller's, not those of the process that started the server
    monday = backoffice("--json", "digest", env={**ON, "BACKOFFICE_NOW": "2026-11-23T08:00:00"}, cwd=tmp_path)
    friday = backoffice("--json", "digest", env=ON, cwd=tmp_path)
    assert json.loads(monday.stdout)["date"] == "2026-11-23"
    assert json.loads(friday.stdout)["date"] == "2026-11-20"
    narrow = backoffice("pipeline", env={**ON, "COLUMNS": "40"}, cwd=tmp_path)
    assert narrow.stdout == backoffice("pipeline", env={**OFF, "COLUMNS": "40"}, cwd=tmp_path).stdout


def test_a_piped_chat_through_the_server(served: Path, tmp_path: Path):
    script = "find Linda\nwhat follow-ups are due?\nquit\n"
    ordinary = backoffice("chat", env=OFF, cwd=tmp_path, input=script)
    # the ordinary chat above made and showed today's reports; the served one is the second chat of the day
    again = backoffice("chat", env=OFF, cwd=tmp_path, input=script)
    answered = backoffice("chat", env=ON, cwd=tmp_path, input=script)
    assert ordinary.returncode == answered.returncode == 0
    assert answered.stdout == again.stdout
    assert "Linda Ortiz" in answered.stdout and answered.stdout.rstrip().endswith("Bye.")


def test_a_reader_that_leaves_early_ends_the_served_command_quietly(served: Path, tmp_path: Path):
    for args in (["export", "contacts", "-"], ["digest"]):
        proc = subprocess.Popen(
            [sys.executable, "-m", "backoffice", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **ON},
            cwd=tmp_path,
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # gone before the first byte
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 141, args
        assert err == b"", err


def test_a_terminal_chat_through_the_server_prompts_and_reads_each_line(served: Path, tmp_path: Path):
    """On a terminal the prompt must show before the owner types: output is line-buffered there, as
    Python makes it for a fresh process."""
    before = served_count(served)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "backoffice", "chat"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, **ON, "TERM": "dumb", "NO_COLOR": "1"},
        cwd=tmp_path,
    )
    os.close(follower)
    try:
        seen = _read_until(leader, b"> ", 60)
        assert b"Offline planner" in seen
        os.write(leader, b"find Linda\r")
        assert b"Linda Ortiz" in _read_until(leader, b"> ", 30)
        os.write(leader, b"quit\r")
        assert b"Bye." in _read_until(leader, b"Bye.", 30)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    assert served_count(served) == before + 1


def _read_until(fd: int, marker: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{marker!r} never came; got {seen[-500:]!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_ctrl_c_reaches_the_served_command(served: Path, tmp_path: Path):
    """Ctrl-C on the caller interrupts the command the server runs for it, exactly as it
    interrupts an ordinary process: the chat says so and carries on to the next line."""

    def interrupted_chat(env: dict[str, str]) -> tuple[int, str]:
        proc, out = chat_until(b"find Linda\n", b"Linda Ortiz", env, tmp_path, stderr=subprocess.STDOUT)
        proc.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl-C, to the caller
        time.sleep(0.5)
        rest, _ = proc.communicate(b"quit\n", timeout=60)
        return proc.returncode, (out + rest).decode()

    code_ordinary, ordinary = interrupted_chat(OFF)
    code_served, answered = interrupted_chat(ON)
    assert code_served == code_ordinary
    assert ("Bye." in answered) == ("Bye." in ordinary)
    assert ("Interrupted" in answered or "interrupted" in answered) == (
        "Interrupted" in ordinary or "interrupted" in ordinary
    )


def test_several_writes_at_once_through_the_server_are_all_kept(served: Path, tmp_path: Path):
    people = ["Linda Ortiz", "Kevin Marsh", "Dana Reyes", "Linda Ortiz", "Kevin Marsh", "Dana Reyes"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "backoffice", "ask", f"log a call with {who} - call number {i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **ON},
            cwd=tmp_path,
        )
        for i, who in enumerate(people)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    notes = backoffice("--json", "export", "interactions", "-", env=OFF, cwd=tmp_path).stdout
    for i in range(len(people)):
        assert f"call number {i}" in notes
    assert backoffice("check", env=OFF, cwd=tmp_path).returncode == 0


def test_a_server_of_another_program_never_answers(served: Path, tmp_path: Path):
    """A caller started differently (here: a PYTHON* setting, as an upgrade or another Python would
    differ) is not served by the running server: it runs the command itself and the old server stops."""
    old = status(served)["pid"]
    other = backoffice("ask", "find Linda", env={**ON, "PYTHONWARNINGS": "ignore"}, cwd=tmp_path)
    assert other.returncode == 0 and "Linda Ortiz" in other.stdout
    deadline = time.monotonic() + 10
    while _alive(old) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(old)
    assert "another version" in (served / "logs" / "server.log").read_text()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def chat_until(line: bytes, marker: bytes, env: dict[str, str], cwd: Path, stderr: int = subprocess.PIPE):
    """A chat with one line typed, once its answer has shown ``marker``; stdin stays open."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "backoffice", "chat"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env={**os.environ, **env},
        cwd=cwd,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line)
    proc.stdin.flush()
    out = b""
    while marker not in out:
        chunk = proc.stdout.read1(4096)
        assert chunk, out
        out += chunk
    return proc, out


def test_a_killed_server_does_not_end_the_command_it_was_running(served: Path, tmp_path: Path):
    proc, _ = chat_until(b"log a call with Dana Reyes - before the server died\n", b"Logged", ON, tmp_path)
    os.kill(status(served)["pid"], signal.SIGKILL)
    out, err = proc.communicate(b"find Linda\nquit\n", timeout=60)
    assert proc.returncode == 0, err
    assert b"Linda Ortiz" in out and out.rstrip().endswith(b"Bye.") and err == b""
    assert backoffice("check", env=OFF, cwd=tmp_path).returncode == 0
    after = backoffice("--json", "export", "interactions", "-", env=ON, cwd=tmp_path)
    logged = [r for r in json.loads(after.stdout) if "before the server died" in json.dumps(r)]
    assert after.returncode == 0 and len(logged) == 1  # once: the chat was not run again
    # the command above, run the ordinary way, starts a new server: the fixture stops it even mid-start


def test_a_killed_caller_leaves_nothing_running_that_could_read_its_terminal(served: Path, tmp_path: Path):
    proc, _ = chat_until(b"find Linda\n", b"Linda Ortiz", ON, tmp_path)
    assert int(status(served)["running"]) == 1
    proc.kill()  # SIGKILL: nothing can be passed on
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while int(status(served).get("running", 1)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert int(status(served)["running"]) == 0
    assert proc.stdin is not None
    with contextlib.suppress(BrokenPipeError):  # whatever is typed next reaches no hidden chat
        proc.stdin.write(b"log a call with Dana Reyes - typed after the chat was killed\n")
        proc.stdin.close()
    time.sleep(0.5)
    notes = backoffice("--json", "export", "interactions", "-", env=OFF, cwd=tmp_path).stdout
    assert "typed after the chat was killed" not in notes


def test_a_caller_in_a_deleted_folder_is_answered_as_the_ordinary_command_is(served: Path, tmp_path: Path):
    def from_deleted_folder(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        gone = tmp_path / "gone"
        gone.mkdir()
        script = f'cd "{gone}" && rmdir "{gone}" && exec "{sys.executable}" -m backoffice export contacts rel.csv'
        return shell(script, env)

    ordinary, answered = from_deleted_folder(OFF), from_deleted_folder(ON)
    assert (answered.returncode, answered.stdout, answered.stderr) == (
        ordinary.returncode,
        ordinary.stdout,
        ordinary.stderr,
    )
    assert ordinary.returncode == 1 and not (served / "rel.csv").exists()


def test_turned_off_nothing_is_started_or_asked(data_dir: Path, tmp_path: Path):
    assert backoffice("demo", env=OFF, cwd=tmp_path).returncode == 0
    assert backoffice("ask", "find Linda", env=OFF, cwd=tmp_path).returncode == 0
    time.sleep(0.5)
    assert not (data_dir / book_server.SOCKET).exists() and not book_server.lock_held(data_dir)
    said = backoffice("server", env=OFF, cwd=tmp_path)
    assert "turned off here" in said.stdout and said.returncode == 0
    assert backoffice("server", "start", env=OFF, cwd=tmp_path).returncode == 1
    odd = backoffice("server", env={"BACKOFFICE_SERVER": "bogus", "BACKOFFICE_SERVER_IDLE": "abc"}, cwd=tmp_path)
    assert "BACKOFFICE_SERVER='bogus' is neither on nor off" in odd.stdout
    assert "BACKOFFICE_SERVER_IDLE='abc' is not a number of seconds" in odd.stdout


def test_an_ordinary_command_starts_a_server_for_the_next(data_dir: Path, tmp_path: Path):
    assert backoffice("demo", env=OFF, cwd=tmp_path).returncode == 0
    first = backoffice("ask", "find Linda", env=ON, cwd=tmp_path)
    assert first.returncode == 0
    try:
        deadline = time.monotonic() + 60
        while not status(data_dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status(data_dir).get("pid"), "no server came up after the first command"
        assert backoffice("ask", "find Linda", env=ON, cwd=tmp_path).stdout == first.stdout
        assert served_count(data_dir) == 1
        assert (data_dir / book_server.SOCKET).stat().st_mode & 0o077 == 0
    finally:
        book_server.stop(data_dir)
    assert not book_server.lock_held(data_dir)


def test_a_server_with_nothing_to_do_stops_by_itself(data_dir: Path, tmp_path: Path):
    assert backoffice("demo", env=OFF, cwd=tmp_path).returncode == 0
    assert backoffice("server", "start", env={**ON, "BACKOFFICE_SERVER_IDLE": "2"}, cwd=tmp_path).returncode == 0
    said = backoffice("server", env=ON, cwd=tmp_path).stdout
    assert "stops after 2 seconds without a command" in said or "is stopping" in said or "No book server" in said
    deadline = time.monotonic() + 20
    while book_server.lock_held(data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not book_server.lock_held(data_dir)
    assert "idle for" in (data_dir / "logs" / "server.log").read_text()


def test_callers_arriving_while_the_server_stops_are_answered_the_ordinary_way(served: Path, tmp_path: Path):
    chat = subprocess.Popen(
        [sys.executable, "-m", "backoffice", "chat"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **ON},
        cwd=tmp_path,
    )
    assert chat.stdin is not None
    deadline = time.monotonic() + 30
    while int(status(served).get("running", 0)) < 1:  # the chat is running in the server's child
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stopping = subprocess.Popen(
        [sys.executable, "-m", "backoffice", "server", "stop"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **ON},
        cwd=tmp_path,
    )
    stopped, _ = stopping.communicate(timeout=30)  # at once: it does not wait for the chat
    assert "takes no new commands and exits once the 1 it is running end" in stopped
    assert "is stopping" in backoffice("server", env=ON, cwd=tmp_path).stdout
    asked = backoffice("ask", "find Linda", env=ON, cwd=tmp_path, timeout=60)  # must not wait for the chat
    assert asked.returncode == 0 and "Linda Ortiz" in asked.stdout
    out, _ = chat.communicate(b"quit\n", timeout=60)
    assert chat.returncode == 0 and b"Bye." in out


def test_a_book_where_no_socket_can_be_made_gets_no_server_and_says_why(data_dir: Path, tmp_path: Path):
    assert backoffice("demo", env=OFF, cwd=tmp_path).returncode == 0
    script = (
        "import errno, socket, sys\n"
        "def refuse(self, address):\n"
        "    raise OSError(errno.EPERM, 'Operation not permitted')\n"
        "socket.socket.bind = refuse\n"
        "from backoffice.agent.serve import run_server\n"
        "sys.exit(run_server(sys.argv[1]))\n"
    )
    ran = subprocess.run([sys.executable, "-c", script, str(data_dir)], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 1
    assert (data_dir / book_server.UNUSABLE).exists()
    said = backoffice("ask", "find Linda", env=ON, cwd=tmp_path)
    assert said.returncode == 0 and "Linda Ortiz" in said.stdout
    time.sleep(0.5)
    assert not book_server.lock_held(data_dir)  # no server was started behind that command
    told = backoffice("server", env=ON, cwd=tmp_path).stdout
    assert "None can run for this book" in told and "Operation not permitted" in told


def test_a_caller_killed_while_suspended_leaves_no_stopped_command_behind(served: Path, tmp_path: Path):
    proc, _ = chat_until(b"find Linda\n", b"Linda Ortiz", ON, tmp_path)
    proc.send_signal(signal.SIGTSTP)  # Ctrl-Z: the caller stops, and stops its command
    time.sleep(0.5)
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while int(status(served).get("running", 1)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert int(status(served)["running"]) == 0
    assert "its caller is gone" in (served / "logs" / "server.log").read_text()


def test_odd_places_to_write_and_run_from_are_answered_as_the_ordinary_command_is(served: Path, tmp_path: Path):
    python = f'"{sys.executable}" -m backoffice'
    gone = tmp_path / "gone"
    for script in (
        f"exec {python} digest > /dev/full",  # a device that takes nothing: an error, never a traceback
        f'mkdir -p "{gone}" && cd "{gone}" && rmdir "{gone}" && exec {python} --data-dir book2 digest',
    ):
        ordinary, answered = shell(script, OFF), shell(script, ON)
        assert "Traceback" not in answered.stderr, answered.stderr
        assert (answered.returncode, answered.stdout, answered.stderr) == (
            ordinary.returncode,
            ordinary.stdout,
            ordinary.stderr,
        ), script


def test_stop_twice_and_start_while_starting_say_what_is_happening(served: Path, tmp_path: Path):
    chat, _ = chat_until(b"find Linda\n", b"Linda Ortiz", ON, tmp_path)
    first = backoffice("server", "stop", env=ON, cwd=tmp_path, timeout=30)
    began = time.monotonic()
    second = backoffice("server", "stop", env=ON, cwd=tmp_path, timeout=30)
    assert time.monotonic() - began < 8  # no waiting for the open chat
    assert "takes no new commands" in first.stdout and "already stopping" in second.stdout
    chat.communicate(b"quit\n", timeout=60)
    deadline = time.monotonic() + 20
    while book_server.lock_held(served) and time.monotonic() < deadline:
        time.sleep(0.05)
    starts = [
        subprocess.Popen(
            [sys.executable, "-m", "backoffice", "server", "start"],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **ON},
            cwd=tmp_path,
        )  # fmt: skip
        for _ in range(2)
    ]
    said = [p.communicate(timeout=120)[0] for p in starts]
    assert all("is running (pid " in s and "pid None" not in s for s in said), said
