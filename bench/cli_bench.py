"""Whole-command benchmark: what a user waits for, process start to exit, at realistic book sizes.

    python bench/cli_bench.py [--sizes 1000,10000,100000] [--runs 5] [--command 'python -m backoffice']
                              [--timeout 120] [--budget 60] [--previous OLD.json] [--json FILE]
                              [--postgresql auto|none|URL] [--server both|off|on]

For each size N it builds one book (N contacts, N leads, N interactions of which a tenth are pending
follow-ups, N/5 jobs spread over every stage, dates around November 2026) with the generators of
bench/store_bench.py and bench/reports_bench.py, then times every command below as a whole process
(subprocess, wall clock, stdin and stdout piped), with the clock pinned (BACKOFFICE_NOW), no
ANTHROPIC_API_KEY (the offline planner answers), NO_COLOR, and without PYTHONDONTWRITEBYTECODE (an
installed program starts from cached bytecode; an untimed warm-up on a tiny book writes it):

    backoffice --help
    backoffice ask "find <a real contact's name>"          · ask "find <the same name mistyped>"
    backoffice ask "log a call with <name> - left a voicemail"   (a write: the book grows a record a run)
    backoffice digest · backoffice pipeline · backoffice duplicates
    backoffice chat, stdin "quit": first run of the day (notifications/ and chat_state.json deleted
                                   before every run, so the morning digest is made) and with the
                                   reports already made and seen

Each command is timed twice (``--server both``, the default): from nothing, as the first command
for a book runs (``BACKOFFICE_SERVER=off``), and answered by that book's running book server
(``[server]`` rows; agent/server.py): the server is started untimed before the rounds, every
[server] run is checked in the server's log to have really been served (else FAILED, never timed
as an ordinary run), and the child that ran it adds its CPU time to the caller's and its peak
memory counts when larger. The servers' resident memory is printed after the rounds.

Reads, the write and the chat each get their own copy of the pristine book. Every run's exit status
and a property of its output are checked (the find names the person, the digest shows follow-ups…):
a broken command is marked FAILED with its stderr, never timed as a fast one. A run longer than
--timeout is killed and the command marked TIMEOUT. Runs go in rounds (every baseline and command
once per round), so a burst of other load on the machine weighs on all of them alike. A command
stops being repeated once its runs have taken --budget seconds (at least one run), so the slow
sizes stay affordable.

Baselines, measured in the same run on the same machine:
  * ``python -c pass`` with the same interpreter: the floor for any Python command;
  * bench/sqlite_book.py, a small stdlib-only process answering the same questions from a SQLite
    copy of the same book (JSON documents plus indexed columns, WAL, synchronous=FULL; see its
    docstring for what each question does). Its file is built once per size, untimed.

The PostgreSQL column (``--postgresql``, default auto: a throwaway durable server started as the
tests start theirs; none leaves it out): the same book is copied with ``backoffice migrate`` (timed)
into three empty databases (for the reads, the write and the chat, as the files get three
copies), and every command runs again with ``BACKOFFICE_DATABASE_URL`` set and an empty data dir,
rows marked [postgresql]; a last table sets each beside its files figure. The same goals apply.

Peak memory is the child's maximum resident set size. With /usr/bin/time (GNU time) present, each
command runs under ``/usr/bin/time -f '%M %U %S'``: exact for that process, and its CPU time.
Otherwise os.wait4's rusage is used, which on Linux never reports less than this benchmark's own
resident size at spawn time (exec keeps the parent's high-water mark), so this process stays lean:
books are built in subprocesses.

Goals (each printed beside its figure, met or not): at 10,000 leads find ≤ 6×, a write ≤ 6×, the
digest ≤ 8× and chat start on the first run of the day ≤ 10× the SQLite process's equivalent;
``--help`` ≤ 4× bare python; at 100,000 leads every one-line answer (the two finds, the call) and
the chat start < 1.5 s, the digest < 2 s, peak memory < 400 MiB; a one-line answer's median grows
< 4× from 1,000 to 100,000 leads (--previous takes sizes from an earlier --json file, so the growth
can span two invocations).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SQLITE_SCRIPT = BENCH / "sqlite_book.py"
NOW = "2026-11-25T08:30:00"
TIME_BIN = "/usr/bin/time"
WARM_UP_SIZE = 200

ONE_LINE = ("find", "typo", "log")  # the one-line answers whose growth with the book is tracked


# ---------------------------------------------------------------------------- building books
def build_book(directory: Path, n: int) -> dict[str, Any]:
    """Runs in a child process (``--build-book``): the shared generators, same seed as reports_bench."""
    import random

    sys.path.insert(0, str(BENCH))
    from reports_bench import add_jobs_and_follow_ups
    from store_bench import make_book

    rng = random.Random(n)
    make_book(directory, n, rng)
    add_jobs_and_follow_ups(directory, n, rng)
    crm = json.loads((directory / "crm.json").read_bytes())
    jobs = json.loads((directory / "opportunity.json").read_bytes())["opportunities"]
    stages: dict[str, int] = {}
    for job in jobs.values():
        stages[job["stage"]] = stages.get(job["stage"], 0) + 1
    return {
        "contacts": len(crm["contacts"]),
        "leads": len(crm["leads"]),
        "interactions": len(crm["interactions"]),
        "pending_follow_ups": sum(1 for i in crm["interactions"].values() if i["follow_up_status"] == "pending"),
        "jobs": len(jobs),
        "jobs_by_stage": dict(sorted(stages.items())),
        "crm_json_mb": round((directory / "crm.json").stat().st_size / 1e6, 1),
        "opportunity_json_mb": round((directory / "opportunity.json").stat().st_size / 1e6, 1),
    }


def make_pristine(directory: Path, n: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--build-book", str(directory), str(n)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def make_sqlite(directory: Path, target: Path) -> None:
    subprocess.run([sys.executable, str(SQLITE_SCRIPT), "build", str(directory), str(target)], check=True)


# ---------------------------------------------------------------------------- running one process
@dataclass
class Run:
    wall: float
    peak_mib: float | None
    cpu: float | None  # user + system seconds of the process
    rc: int | None
    stdout: str
    stderr: str
    timed_out: bool


def run_process(argv: list[str], stdin: bytes, env: dict[str, str], cwd: Path, timeout: float, use_time: bool) -> Run:
    """One whole process: wall clock from just before spawning to its exit, its peak RSS, its output."""
    with tempfile.NamedTemporaryFile(prefix="cli-bench-rss-", delete=False) as handle:
        rss_file = Path(handle.name)
    full = [TIME_BIN, "-f", "%M %U %S", "-o", str(rss_file), *argv] if use_time else argv
    outcome: dict[str, Any] = {}
    chunks: dict[str, bytes] = {}

    def drain(name: str, stream: Any) -> None:
        chunks[name] = stream.read()
        stream.close()

    def feed(stream: Any) -> None:
        try:
            stream.write(stdin)
            stream.close()
        except (BrokenPipeError, OSError):
            pass

    try:
        start = time.perf_counter()
        proc = subprocess.Popen(
            full,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,  # a timeout kills the whole group
        )

        def reap() -> None:
            _, status, usage = os.wait4(proc.pid, 0)
            outcome["end"] = time.perf_counter()
            outcome["status"], outcome["usage"] = status, usage

        waiter = threading.Thread(target=reap)
        waiter.start()
        threads = [
            threading.Thread(target=feed, args=(proc.stdin,)),
            threading.Thread(target=drain, args=("out", proc.stdout)),
            threading.Thread(target=drain, args=("err", proc.stderr)),
        ]
        for t in threads:
            t.start()
        waiter.join(timeout)
        timed_out = waiter.is_alive()
        hwm = None
        if timed_out:
            hwm = session_peak_mib(proc.pid)  # what it had reached when killed
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            waiter.join()
        for t in threads:
            t.join()
        rc = os.waitstatus_to_exitcode(outcome["status"])
        proc.returncode = rc  # reaped here: Popen must not wait for it again
        peak = cpu = None
        if use_time:
            lines = rss_file.read_text().splitlines()  # a failing command adds a line before ours
            last = lines[-1].split() if lines else []
            if len(last) == 3 and last[0].isdigit():
                peak, cpu = int(last[0]) / 1024, float(last[1]) + float(last[2])
        elif not timed_out:
            peak = outcome["usage"].ru_maxrss / 1024
            cpu = outcome["usage"].ru_utime + outcome["usage"].ru_stime
        if timed_out:
            peak = hwm
        return Run(
            wall=(timeout if timed_out else outcome["end"] - start),
            peak_mib=peak,
            cpu=cpu,
            rc=None if timed_out else rc,
            stdout=chunks.get("out", b"").decode("utf-8", "replace"),
            stderr=chunks.get("err", b"").decode("utf-8", "replace"),
            timed_out=timed_out,
        )
    finally:
        rss_file.unlink(missing_ok=True)


def session_peak_mib(session: int) -> float | None:
    """The largest VmHWM (peak RSS so far) among the live processes of a session (Linux /proc)."""
    best = None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) != session:  # field 6, the session id, counted after the command name
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    kb = int(line.split()[1])
                    best = max(best or 0, kb / 1024)
        except (OSError, IndexError, ValueError):
            continue
    return best


# ---------------------------------------------------------------------------- what is timed
Check = Callable[[str], "str | None"]  # the output's problem, or None when it looks right


@dataclass
class Spec:
    key: str
    label: str
    argv: list[str]
    check: Check
    stdin: bytes = b""
    equivalent: str | None = None  # key of the SQLite row it is compared with
    data_dir: Path | None = None
    prepare: Callable[[], str | None] | None = None  # untimed, before every run; a string is a problem
    baseline: bool = False
    env: dict[str, str] | None = None  # more environment for the process (the database's address)
    served: bool = False  # run by the book server of data_dir (its child's figures are added)


@dataclass
class Result:
    key: str
    label: str
    argv: list[str]
    baseline: bool
    equivalent: str | None
    status: str = "ok"  # ok · FAILED · TIMEOUT · SKIPPED
    runs: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    note: str = ""
    ratio_sqlite: float | None = None
    ratio_python: float | None = None
    goals: list[dict[str, Any]] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.runs) if self.runs else None

    @property
    def cpu(self) -> float | None:
        return statistics.median(self.cpus) if self.cpus else None

    @property
    def peak(self) -> float | None:
        return max(self.peaks) if self.peaks else None

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "argv": self.argv,
            "baseline": self.baseline,
            "status": self.status,
            "note": self.note,
            "runs_s": [round(r, 4) for r in self.runs],
            "median_s": _round(self.median),
            "min_s": _round(min(self.runs)) if self.runs else None,
            "max_s": _round(max(self.runs)) if self.runs else None,
            "cpu_s_median": _round(self.cpu, 3),
            "cpu_s": [round(c, 2) for c in self.cpus],
            "peak_mib": _round(self.peak, 1),
            "peaks_mib": [round(p, 1) for p in self.peaks],
            "equivalent": self.equivalent,
            "ratio_to_sqlite": _round(self.ratio_sqlite, 2),
            "ratio_to_python": _round(self.ratio_python, 2),
            "goals": self.goals,
        }


def _round(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(x, digits)


def measure_all(
    specs: list[Spec], env: dict[str, str], cwd: Path, args: argparse.Namespace, use_time: bool
) -> dict[str, Result]:
    """Runs in rounds, every command once per round, so that whatever else loads the machine for a
    while weighs on the baselines and the commands alike. A command leaves the rounds when it fails,
    times out, or its runs have taken --budget seconds (after at least one run)."""
    results = {s.key: Result(s.key, s.label, s.argv, s.baseline, s.equivalent) for s in specs}
    spent = dict.fromkeys(results, 0.0)
    active = {s.key for s in specs}
    for i in range(args.runs):
        _progress(f"  round {i + 1} of {args.runs}")
        for spec in specs:
            result = results[spec.key]
            if spec.key not in active:
                continue
            if i and spent[spec.key] >= args.budget:
                result.note = f"{i} of {args.runs} runs: --budget {args.budget:g} s spent"
                active.discard(spec.key)
                continue
            if spec.prepare:
                problem = spec.prepare()
                if problem:
                    result.status, result.note = "SKIPPED", problem
                    active.discard(spec.key)
                    continue
            run_env = dict(env)
            if spec.data_dir is not None:
                run_env["BACKOFFICE_DATA_DIR"] = str(spec.data_dir)
            run_env.update(spec.env or {})
            log_at = server_log_size(spec)
            run = run_process(spec.argv, spec.stdin, run_env, cwd, args.timeout, use_time)
            if spec.served and not run.timed_out:
                child = served_figures(spec, log_at)
                if child is None:
                    result.status, result.note = "FAILED", "the book server did not run it (see its logs/server.log)"
                    _progress(f"    {spec.label}: FAILED (not answered by the book server)")
                    active.discard(spec.key)
                    continue
                # the command's cost is the caller's and its child's together: peak the larger, CPU the sum
                cpu, peak = child
                run.cpu = (run.cpu or 0.0) + cpu
                run.peak_mib = max(run.peak_mib or 0.0, peak)
            spent[spec.key] += run.wall
            if run.timed_out:
                result.status = "TIMEOUT"
                result.note = f"run {i + 1} killed after {args.timeout:g} s"
                if run.peak_mib is not None:  # its peak so far, read from /proc just before the kill
                    result.peaks.append(run.peak_mib)
                    result.note += f", having reached {run.peak_mib:.0f} MiB"
                _progress(f"    {spec.label}: TIMEOUT after {args.timeout:g} s")
                active.discard(spec.key)
                continue
            problem = f"exit status {run.rc}" if run.rc != 0 else spec.check(run.stdout)
            if problem:
                result.status, result.note = "FAILED", problem
                _progress(f"    {spec.label}: FAILED ({problem})")
                _progress(_indent("stderr", run.stderr))
                _progress(_indent("stdout (end)", run.stdout[-1500:]))
                active.discard(spec.key)
                continue
            result.runs.append(run.wall)
            if run.peak_mib is not None:
                result.peaks.append(run.peak_mib)
            if run.cpu is not None:
                result.cpus.append(run.cpu)
            _progress(f"    {spec.label}: {run.wall:.3f} s, {run.peak_mib or 0:.0f} MiB")
    return results


SERVER_LINE = re.compile(r"pid \d+: \S+ in [\d.]+ s, ([\d.]+) s CPU, peak (\d+) MiB")


def server_log_size(spec: Spec) -> int:
    if not spec.served or spec.data_dir is None:
        return 0
    try:
        return (spec.data_dir / "logs" / "server.log").stat().st_size
    except OSError:
        return 0


def served_figures(spec: Spec, since: int) -> tuple[float, float] | None:
    """The CPU seconds and peak MiB of the child that ran the command, from the server's log; None
    when the server did not run it (then the caller ran it itself, and the row would be a lie)."""
    assert spec.data_dir is not None
    # the caller leaves on its child's own word (the lifeline), which can be a moment before the
    # server has reaped the child and logged it: wait for the line a little
    deadline = time.monotonic() + 5
    while True:
        try:
            with (spec.data_dir / "logs" / "server.log").open("rb") as handle:
                handle.seek(since)
                added = handle.read().decode("utf-8", "replace")
        except OSError:
            added = ""
        found = SERVER_LINE.findall(added)
        if found:
            cpu, peak = found[-1]
            return float(cpu), float(peak)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)


def _indent(title: str, text: str) -> str:
    body = "\n".join("      | " + line for line in text.rstrip().splitlines()[-40:]) or "      | (empty)"
    return f"    {title}:\n{body}"


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- output checks
def _squash(text: str) -> str:
    return " ".join(text.split())


def names_contact(contact_id: str, first: str) -> Check:
    pattern = re.compile(rf"(?<![\w-]){re.escape(contact_id)}(?!\d)")

    def check(out: str) -> str | None:
        if not pattern.search(out) or first not in out:
            return f"the answer does not name {first} ({contact_id})"
        return None

    return check


def contains(*needles: str, absent: tuple[str, ...] = ()) -> Check:
    def check(out: str) -> str | None:
        text = _squash(out).lower()
        for needle in needles:
            if needle.lower() not in text:
                return f"output lacks {needle!r}"
        for needle in absent:
            if needle.lower() in text:
                return f"output shows {needle!r}"
        return None

    return check


def all_of(*checks: Check) -> Check:
    def check(out: str) -> str | None:
        for c in checks:
            problem = c(out)
            if problem:
                return problem
        return None

    return check


def positive_count(label: str) -> Check:
    pattern = re.compile(rf"{re.escape(label)}:\s*(\d+)")

    def check(out: str) -> str | None:
        m = pattern.search(out)
        if not m or int(m.group(1)) == 0:
            return f"no {label.lower()} reported"
        return None

    return check


# ---------------------------------------------------------------------------- the commands
def person(n: int) -> tuple[int, str, str, str]:
    """A real contact, their name, and the name mistyped: two letters swapped in the first name and a
    digit added to the last, making a number above N so the typo is nobody else's exact name."""
    k = n * 4137 // 10000 + 1
    return k, f"First{k} Last{k}", f"Fisrt{k} Last{k}7", f"C-{k}"


def product_specs(
    base: list[str],
    n: int,
    read_dir: Path,
    write_dir: Path,
    chat_dir: Path,
    run_untimed: Callable[[list[str], bytes, Path], str | None],
) -> list[Spec]:
    k, name, typo, cid = person(n)
    first = f"First{k}"
    prog = "backoffice"  # labels only; the command line actually run is printed at the top

    def fresh_day() -> str | None:
        shutil.rmtree(chat_dir / "notifications", ignore_errors=True)
        (chat_dir / "chat_state.json").unlink(missing_ok=True)
        return None

    def reports_made() -> str | None:
        # in each round the first-run chat has just made (and shown) today's reports
        if not any((chat_dir / "notifications").glob("*-digest.json")) or not (chat_dir / "chat_state.json").exists():
            # the timed first-run group did not leave today's reports (it failed or timed out): make them
            problem = run_untimed(base + ["chat"], b"quit\n", chat_dir)
            if problem:
                return f"could not make today's reports first: {problem}"
        return None

    log_text = f"log a call with {name} - left a voicemail"
    return [
        Spec("help", f"{prog} --help", base + ["--help"], contains("usage", "digest"), data_dir=read_dir),
        Spec(
            "find",
            f'{prog} ask "find {name}"',
            base + ["ask", f"find {name}"],
            names_contact(cid, first),
            equivalent="sq_find",
            data_dir=read_dir,
        ),
        Spec(
            "typo",
            f'{prog} ask "find {typo}" (typo)',
            base + ["ask", f"find {typo}"],
            names_contact(cid, first),
            equivalent="sq_typo",
            data_dir=read_dir,
        ),
        Spec(
            "log",
            f'{prog} ask "{log_text}"',
            base + ["ask", log_text],
            contains("logged", name),
            equivalent="sq_log",
            data_dir=write_dir,
        ),
        Spec(
            "digest",
            f"{prog} digest",
            base + ["digest"],
            contains("morning digest", "follow-up"),
            equivalent="sq_digest",
            data_dir=read_dir,
        ),
        Spec(
            "pipeline",
            f"{prog} pipeline",
            base + ["pipeline"],
            contains("pipeline", "new leads"),
            equivalent="sq_pipeline",
            data_dir=read_dir,
        ),
        Spec(
            "chat_first",
            f"{prog} chat, first run of the day",
            base + ["chat"],
            contains("morning digest", "follow-up"),
            stdin=b"quit\n",
            equivalent="sq_digest",
            data_dir=chat_dir,
            prepare=fresh_day,
        ),
        Spec(
            "chat_made",
            f"{prog} chat, reports already made",
            base + ["chat"],
            contains("bye", absent=("morning digest",)),
            stdin=b"quit\n",
            equivalent="sq_open",
            data_dir=chat_dir,
            prepare=reports_made,
        ),
        Spec("duplicates", f"{prog} duplicates", base + ["duplicates"], contains("duplicates"), data_dir=read_dir),
    ]


PG = "pg_"  # the [postgresql] rows' keys: the files row's key after it
SV = "sv_"  # the [server] rows' keys: the same commands answered by a running book server
OFF = {"BACKOFFICE_SERVER": "off"}
ON = {"BACKOFFICE_SERVER": "on", "BACKOFFICE_SERVER_IDLE": "900"}


def with_server(specs: list[Spec]) -> list[Spec]:
    """The same commands again with the book server of each data dir running (started untimed by
    ``served_dirs`` before the rounds): what a user waits for from the second command on."""
    out = []
    for spec in specs:
        if spec.key in ("help",):  # no book is opened for --help: the server never runs it
            continue
        served = {**(spec.env or {}), **ON}
        out.append(replace(spec, key=SV + spec.key, label=f"{spec.label} [server]", env=served, served=True))
    return out


def start_servers(base: list[str], specs: list[Spec], env: dict[str, str], root: Path) -> dict[Path, float | None]:
    """``backoffice server start`` for each data dir the [server] rows use (untimed); the start-up
    time of each, None when it did not come up."""
    started: dict[Path, float | None] = {}
    for spec in specs:
        if not spec.served or spec.data_dir is None or spec.data_dir in started:
            continue
        spec.data_dir.mkdir(parents=True, exist_ok=True)
        run_env = {**env, "BACKOFFICE_DATA_DIR": str(spec.data_dir), **(spec.env or {})}
        run = run_process(base + ["server", "start"], b"", run_env, root, 120, False)
        started[spec.data_dir] = run.wall if run.rc == 0 else None
        if run.rc != 0:
            _progress(f"  the book server for {spec.data_dir} did not start: {run.stderr or run.stdout}")
    return started


def stop_servers(base: list[str], dirs: list[Path], env: dict[str, str], root: Path) -> dict[str, float | None]:
    """Each server's resident memory (VmRSS, MiB) after its rounds, then ``backoffice server stop``."""
    resident: dict[str, float | None] = {}
    for directory in dirs:
        run_env = {**env, "BACKOFFICE_DATA_DIR": str(directory), **ON}
        status = run_process(base + ["--json", "server", "status"], b"", run_env, root, 60, False)
        try:
            pid = json.loads(status.stdout).get("pid")
            rss = next(
                int(line.split()[1]) / 1024
                for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("VmRSS:")
            )
        except (ValueError, OSError, StopIteration, AttributeError):
            rss = None
        resident[directory.name] = None if rss is None else round(rss, 1)
        run_process(base + ["server", "stop"], b"", run_env, root, 60, False)
    return resident


def on_postgresql(
    base: list[str],
    products: list[Spec],
    urls: dict[Path, str],
    work: Path,
    run_untimed: Callable[..., str | None],
) -> list[Spec]:
    """The same commands on the book copied into PostgreSQL (one database for each files copy)."""
    import psycopg

    chat_url = next(url for d, url in urls.items() if d.name == "chat")

    def fresh_day() -> str | None:
        with psycopg.connect(chat_url, autocommit=True) as conn:
            conn.execute("DELETE FROM notifications")
            conn.execute("DELETE FROM state_docs WHERE name = 'chat_state'")
        return None

    def reports_made() -> str | None:
        with psycopg.connect(chat_url, autocommit=True) as conn:
            made = conn.execute("SELECT count(*) FROM notifications WHERE kind = 'digest'").fetchone()[0]
            seen = conn.execute("SELECT count(*) FROM state_docs WHERE name = 'chat_state'").fetchone()[0]
        if not made or not seen:
            problem = run_untimed(base + ["chat"], b"quit\n", work / "pg-chat", chat_url)
            if problem:
                return f"could not make today's reports first: {problem}"
        return None

    out = []
    for spec in products:
        if spec.key == "help" or spec.data_dir is None:
            continue
        url = urls[spec.data_dir]
        prepare = {"chat_first": fresh_day, "chat_made": reports_made}.get(spec.key, spec.prepare)
        out.append(
            replace(
                spec,
                key=PG + spec.key,
                label=f"{spec.label} [postgresql]",
                data_dir=work / f"pg-{spec.data_dir.name}",
                prepare=prepare,
                env={"BACKOFFICE_DATABASE_URL": url},
            )
        )
    return out


def print_side_by_side(results: dict[str, Result]) -> None:
    print_pairs(results, PG, "files and postgresql, side by side (median s; the last column is postgresql ÷ files):")


def print_pairs(results: dict[str, Result], prefix: str, title: str) -> bool:
    """Each row beside its ``prefix`` variant: both medians and their ratio. False when there are none."""
    pairs = [(r, results[prefix + r.key]) for r in results.values() if prefix + r.key in results]
    if not pairs:
        return False
    print(title)
    width = max(len(a.label) for a, _ in pairs) + 2
    for a, b in pairs:
        ratio = f"{b.median / a.median:5.2f}×" if a.median and b.median else "    —"
        left = f"{a.median:8.3f}" if a.median else f"{'—':>8}"
        right = f"{b.median:8.3f}" if b.median else f"{'—':>8}"
        print(f"  {a.label:<{width}}{left}  {right}  {ratio}")
    return True


def print_served(results: dict[str, Result], book: dict[str, Any]) -> None:
    title = "the first command (nothing running) and with the book server up (median s; last column: server ÷ first):"
    if not print_pairs(results, SV, title):
        return
    starts = ", ".join(
        f"{k} {v:.2f} s" if v is not None else f"{k} did not start" for k, v in book.get("server_start_s", {}).items()
    )
    rss = ", ".join(
        f"{k} {v:.0f} MiB" if v is not None else f"{k} ?" for k, v in book.get("server_resident_mib", {}).items()
    )
    print(f"  book servers: started (untimed above) in {starts}; resident afterwards: {rss}")


def baseline_specs(n: int, db: Path) -> list[Spec]:
    k, name, typo, cid = person(n)
    first = f"First{k}"
    sq = [sys.executable, str(SQLITE_SCRIPT)]
    return [
        Spec("python", "python -c pass", [sys.executable, "-c", "pass"], lambda out: None, baseline=True),
        Spec(
            "sq_open", "sqlite: open (connect + count)", sq + ["open", str(db)], contains(f"leads: {n}"), baseline=True
        ),
        Spec(
            "sq_find",
            "sqlite: find by name words",
            sq + ["find", str(db), name],
            all_of(contains("(exact)"), names_contact(cid, first)),
            baseline=True,
        ),
        Spec(
            "sq_typo",
            "sqlite: find the typo (trigrams+difflib)",
            sq + ["find", str(db), typo],
            all_of(contains("(fuzzy)"), names_contact(cid, first)),
            baseline=True,
        ),
        Spec(
            "sq_digest",
            "sqlite: digest queries",
            sq + ["digest", str(db)],
            all_of(positive_count("Today's follow-ups"), contains("quiet leads")),
            baseline=True,
        ),
        Spec(
            "sq_pipeline",
            "sqlite: pipeline counts",
            sq + ["pipeline", str(db)],
            contains("new leads this week"),
            baseline=True,
        ),
        # last in its round: it writes (one interaction per round, a negligible change for the reads)
        Spec(
            "sq_log",
            "sqlite: log a call (insert + commit)",
            sq + ["log", str(db), name, "left a voicemail"],
            contains("logged the call", name),
            baseline=True,
        ),
    ]


# ---------------------------------------------------------------------------- goals
def evaluate_goals(n: int, results: dict[str, Result]) -> None:
    def add(r: Result, text: str, met: bool | None) -> None:
        r.goals.append({"goal": text, "met": met})

    for r in results.values():
        if r.baseline:
            continue
        key = r.key.removeprefix(SV).removeprefix(PG)
        timeout_over = r.status == "TIMEOUT" and not r.runs
        median = r.median
        if key == "help":
            add(r, "≤ 4× python", None if r.ratio_python is None else r.ratio_python <= 4)
        if n == 10_000:
            limit = {"find": 6, "typo": 6, "log": 6, "digest": 8, "chat_first": 10}.get(key)
            if limit is not None:
                met = None if r.ratio_sqlite is None else r.ratio_sqlite <= limit
                add(r, f"≤ {limit}× sqlite", False if r.status == "TIMEOUT" else met)
        if n == 100_000:
            limit_s = {"find": 1.5, "typo": 1.5, "log": 1.5, "chat_first": 1.5, "chat_made": 1.5, "digest": 2.0}
            if key in limit_s:
                met = False if r.status == "TIMEOUT" else (None if median is None else median < limit_s[key])
                add(r, f"< {limit_s[key]:g} s", met)
            peak = r.peak
            add(r, "< 400 MiB", None if peak is None else (False if peak >= 400 else (None if timeout_over else True)))


def compute_ratios(results: dict[str, Result]) -> None:
    python = results.get("python")
    for r in results.values():
        med = r.median
        if med is None:
            continue
        if python and python.median and r.key != "python":
            r.ratio_python = med / python.median
        eq = results.get(r.equivalent) if r.equivalent else None
        if eq and eq.median:
            r.ratio_sqlite = med / eq.median


# ---------------------------------------------------------------------------- printing
def _fmt_goals(goals: list[dict[str, Any]]) -> str:
    marks = {True: "met", False: "NOT MET", None: "?"}
    return "; ".join(f"{g['goal']}: {marks[g['met']]}" for g in goals)


def print_table(n: int, book: dict[str, Any], results: dict[str, Result], timeout: float, load: str) -> None:
    rows = list(results.values())
    width = max(len(r.label) for r in rows) + 2
    print()
    print(
        f"== {n:,} leads: {book['contacts']:,} contacts, {book['interactions']:,} interactions "
        f"({book['pending_follow_ups']:,} pending follow-ups), {book['jobs']:,} jobs; crm.json "
        f"{book['crm_json_mb']} MB, opportunity.json {book['opportunity_json_mb']} MB; load average {load}"
    )
    head = f"{'command':<{width}}{'runs':>4}  {'median s':>9}  {'min–max s':>17}  {'cpu s':>6}  {'peak MiB':>8}  "
    head += f"{'× sqlite (equivalent)':<24}{'× python':>9}  goals"
    print(head)
    print("-" * len(head))
    done_products = False
    for r in rows:
        if r.baseline and not done_products:
            done_products = True
            print(f"{'baselines':<{width}}")
        if r.runs:
            med = f"{r.median:9.3f}"
            span = f"{min(r.runs):.3f}–{max(r.runs):.3f}"
        else:
            med, span = f"{'—':>9}", "—"
        if r.status == "TIMEOUT":
            med = f"{'>' + format(timeout, 'g'):>9}" if not r.runs else med
            span = f"TIMEOUT {span}" if r.runs else f"TIMEOUT >{timeout:g}"
        elif r.status in ("FAILED", "SKIPPED"):
            span = r.status
        peak = f"{r.peak:8.0f}" if r.peak is not None else f"{'—':>8}"
        cpu = f"{r.cpu:6.2f}" if r.cpu is not None else f"{'—':>6}"
        if r.ratio_sqlite is not None:
            sq = f"{r.ratio_sqlite:.1f}× ({r.equivalent.removeprefix('sq_')})" if r.equivalent else ""
        elif r.status == "TIMEOUT" and r.equivalent and results.get(r.equivalent) and results[r.equivalent].median:
            sq = f">{timeout / (results[r.equivalent].median or 1):.0f}× ({r.equivalent.removeprefix('sq_')})"
        else:
            sq = "—"
        py = f"{r.ratio_python:8.1f}×" if r.ratio_python is not None else f"{'—':>9}"
        runs = len(r.runs)
        print(f"{r.label:<{width}}{runs:>4}  {med}  {span:>17}  {cpu}  {peak}  {sq:<24}{py}  {_fmt_goals(r.goals)}")
    notes = [f"  {r.label}: {r.status} — {r.note}" for r in rows if r.note]
    if notes:
        print("notes:")
        print("\n".join(notes))


def growth(sizes: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Median at the largest size over the median at the smallest, for the one-line answers."""
    if len(sizes) < 2:
        return {}
    small, large = min(sizes), max(sizes)
    out: dict[str, Any] = {"from": small, "to": large, "commands": {}}
    for key in (*ONE_LINE, *(SV + k for k in ONE_LINE), "sq_find", "sq_typo", "sq_log"):
        a, b = sizes[small]["rows"].get(key), sizes[large]["rows"].get(key)
        if not a or not b or a.get("median_s") is None:
            continue
        if b.get("median_s") is None:
            ratio, exact = (sizes[large]["timeout_s"] / a["median_s"]), False  # timed out: at least this
        else:
            ratio, exact = b["median_s"] / a["median_s"], True
        out["commands"][key] = {"label": a["label"], "growth": round(ratio, 2), "exact": exact}
    return out


def print_growth(g: dict[str, Any]) -> list[dict[str, Any]]:
    if not g or not g["commands"]:
        print("\ngrowth: needs two sizes (use --previous OLD.json to add an earlier run's sizes)")
        return []
    verdicts = []
    goal_applies = g["from"] <= 1000 and g["to"] >= 100_000
    parts = []
    for key, v in g["commands"].items():
        if key.startswith("sq_"):
            continue
        text = f"{key} {'' if v['exact'] else '>'}{v['growth']:.1f}×"
        if goal_applies:
            met = v["exact"] and v["growth"] < 4
            text += f" ({'met' if met else 'NOT MET'})"
            verdicts.append({"command": key, "goal": "< 4×", "growth": v["growth"], "met": met})
        parts.append(text)
    sq = ", ".join(
        f"{k.removeprefix('sq_')} {v['growth']:.1f}×" for k, v in g["commands"].items() if k.startswith("sq_")
    )
    goal = "goal < 4× from 1,000 to 100,000" if goal_applies else "the < 4× goal is for 1,000 → 100,000"
    print(f"\ngrowth {g['from']:,} → {g['to']:,} leads (median at the largest / at the smallest; {goal}):")
    print("  " + " · ".join(parts))
    if sq:
        print(f"  sqlite process, for comparison: {sq}")
    return verdicts


# ---------------------------------------------------------------------------- main
def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKOFFICE_", "ANTHROPIC_"))}
    for k in ("COLUMNS", "LINES", "FORCE_COLOR", "PYTHONDONTWRITEBYTECODE"):
        env.pop(k, None)
    # no book server unless a row asks for one ([server] rows): warm-up, first opens and the
    # ordinary rows start every command from nothing
    env.update({"BACKOFFICE_NOW": NOW, "NO_COLOR": "1", "BACKOFFICE_SERVER": "off"})
    return env


@contextlib.contextmanager
def postgresql(choice: str) -> Any:
    sys.path.insert(0, str(BENCH))
    from store_bench import postgresql as databases

    with databases(choice) as new_database:
        yield new_database


def resolve_command(command: str) -> list[str]:
    argv = shlex.split(command)
    if argv and argv[0] in ("python", "python3"):
        argv[0] = sys.executable  # the same interpreter as the bare-python baseline
    elif argv and "/" not in argv[0]:
        sibling = Path(sys.executable).parent / argv[0]
        argv[0] = str(sibling) if sibling.exists() else (shutil.which(argv[0]) or argv[0])
    return argv


def warm_up(base: list[str], root: Path, env: dict[str, str], use_time: bool) -> None:
    """Untimed: byte-compile everything the commands import, on a tiny book."""
    directory = root / "warm-up"
    make_pristine(directory, WARM_UP_SIZE)
    make_sqlite(directory, root / "warm-up.sqlite")
    _, name, _, _ = person(WARM_UP_SIZE)
    env = dict(env, BACKOFFICE_DATA_DIR=str(directory))
    for argv, stdin in (
        (["--help"], b""),
        (["ask", f"find {name}"], b""),
        (["ask", f"log a call with {name} - left a voicemail"], b""),
        (["digest"], b""),
        (["pipeline"], b""),
        (["chat"], b"quit\n"),
        (["duplicates"], b""),
    ):
        run = run_process(base + argv, stdin, env, root, 300, use_time)
        if run.rc != 0:
            _progress(f"  warm-up: {' '.join(argv)} exited {run.rc}")
    sq_open = [sys.executable, str(SQLITE_SCRIPT), "open", str(root / "warm-up.sqlite")]
    run_process(sq_open, b"", env, root, 60, use_time)
    shutil.rmtree(directory, ignore_errors=True)


def bench_size(
    n: int,
    base: list[str],
    root: Path,
    env: dict[str, str],
    args: argparse.Namespace,
    use_time: bool,
    new_database: Callable[[], str] | None = None,
) -> dict[str, Any]:
    work = root / f"n{n}"
    pristine = work / "pristine"
    _progress(f"\n{n:,} leads: building the book…")
    t0 = time.perf_counter()
    book = make_pristine(pristine, n)
    t1 = time.perf_counter()
    db = work / "book.sqlite"
    make_sqlite(pristine, db)
    t2 = time.perf_counter()
    # The book was written straight into the TinyDB files, as by an older version or by hand: its
    # first command indexes it once. That one-time cost is measured here, not in the table.
    first = run_process(base + ["check"], b"", dict(env, BACKOFFICE_DATA_DIR=str(pristine)), root, 3600, use_time)
    book["first_open_s"], book["first_open_mib"] = round(first.wall, 1), first.peak_mib
    read_dir, write_dir, chat_dir = work / "read", work / "write", work / "chat"
    for d in (read_dir, write_dir, chat_dir):
        shutil.copytree(pristine, d)
    book["build_s"], book["sqlite_build_s"] = round(t1 - t0, 1), round(t2 - t1, 1)
    book["sqlite_mb"] = round(db.stat().st_size / 1e6, 1)
    _progress(
        f"  built in {t1 - t0:.1f} s, SQLite copy in {t2 - t1:.1f} s ({book['sqlite_mb']} MB); "
        f"first open (indexing the book once): {first.wall:.1f} s, {first.peak_mib or 0:.0f} MiB"
    )
    load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())

    def run_untimed(argv: list[str], stdin: bytes, directory: Path, url: str = "") -> str | None:
        run_env = dict(env, BACKOFFICE_DATA_DIR=str(directory))
        if url:
            run_env["BACKOFFICE_DATABASE_URL"] = url
        run = run_process(argv, stdin, run_env, root, args.timeout * 4, use_time)
        if run.timed_out:
            return f"timed out after {args.timeout * 4:g} s"
        return f"exit status {run.rc}" if run.rc else None

    baselines = baseline_specs(n, db)
    products = product_specs(base, n, read_dir, write_dir, chat_dir, run_untimed)
    if new_database is not None:
        urls = {}
        for d in (read_dir, write_dir, chat_dir):
            urls[d] = new_database()
            start = time.perf_counter()
            problem = run_untimed(base + ["migrate", "--to", urls[d]], b"", d)
            if problem:
                raise SystemExit(f"backoffice migrate into PostgreSQL failed: {problem}")
            book["migrate_s"] = round(time.perf_counter() - start, 1)
        _progress(f"  copied into PostgreSQL with backoffice migrate (verified) in {book['migrate_s']} s a copy")
        products += on_postgresql(base, products, urls, work, run_untimed)
    for spec in products:  # the ordinary rows: every command starts from nothing, as the first one does
        spec.env = {**(spec.env or {}), **OFF}
    if args.server == "on":
        products = with_server(products)
    elif args.server == "both":
        products += with_server(products)
    started = start_servers(base, products, env, root)
    book["server_start_s"] = {d.name: None if t is None else round(t, 2) for d, t in started.items()}
    try:
        results = measure_all(baselines + products, env, root, args, use_time)
    finally:
        book["server_resident_mib"] = stop_servers(base, list(started), env, root)
    ordered = {s.key: results[s.key] for s in products + baselines}  # the table: commands, then baselines
    compute_ratios(ordered)
    evaluate_goals(n, ordered)
    print_table(n, book, ordered, args.timeout, load)
    print_side_by_side(ordered)
    print_served(ordered, book)
    sys.stdout.flush()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "book": book,
        "load_average_before": load,
        "timeout_s": args.timeout,
        "rows": {key: r.as_json() for key, r in ordered.items()},
    }


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--build-book":
        print(json.dumps(build_book(Path(sys.argv[2]), int(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="book sizes, in leads (default %(default)s)")
    parser.add_argument("--runs", type=int, default=5, help="runs per command (default %(default)s)")
    parser.add_argument("--command", default="python -m backoffice", help="how to start backoffice")
    parser.add_argument("--timeout", type=float, default=120, help="seconds before a run is killed (default 120)")
    parser.add_argument(
        "--budget", type=float, default=60, help="no new run of a command once its runs took this long (default 60)"
    )
    parser.add_argument(
        "--server",
        choices=("both", "off", "on"),
        default="both",
        help="time each command with nothing running (off), with the book server up (on), or both (default)",
    )
    parser.add_argument("--previous", type=Path, help="an earlier --json file whose sizes join the growth line")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the books (printed temp dir)")
    parser.add_argument(
        "--postgresql", default="auto", help="auto (a throwaway durable server), none, or a server's URL"
    )
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    base = resolve_command(args.command)
    use_time = os.access(TIME_BIN, os.X_OK)
    env = child_env()
    root = Path(tempfile.mkdtemp(prefix="backoffice-cli-bench-"))
    print(f"backoffice whole-command benchmark — {dt.datetime.now():%Y-%m-%d %H:%M}, {platform.node()}")
    print(f"  command: {shlex.join(base)}    bare python: {sys.executable} (Python {platform.python_version()})")
    print(
        f"  sizes {', '.join(f'{n:,}' for n in sizes)}; up to {args.runs} runs per command "
        f"(--budget {args.budget:g} s), timeout {args.timeout:g} s; {os.cpu_count()} CPUs; BACKOFFICE_NOW={NOW}"
    )
    print(
        "  peak memory: "
        + ("GNU time -f %M per process" if use_time else "os.wait4 ru_maxrss (≥ this process's own RSS)")
        + "; ratios are of wall-clock medians; cpu s = the process's user+system time (median), which other"
        + " load on the machine disturbs less than the wall clock"
    )
    sys.stdout.flush()
    report: dict[str, Any] = {
        "meta": {
            "when": dt.datetime.now().isoformat(timespec="seconds"),
            "host": platform.node(),
            "python": platform.python_version(),
            "command": base,
            "runs": args.runs,
            "budget_s": args.budget,
            "timeout_s": args.timeout,
            "cpus": os.cpu_count(),
            "now": NOW,
            "peak_memory_method": "gnu-time" if use_time else "wait4",
        },
        "sizes": {},
    }
    try:
        _progress("warming up (untimed, byte-compiles everything the commands import)…")
        warm_up(base, root, env, use_time)
        with postgresql(args.postgresql) as new_database:
            for n in sizes:
                report["sizes"][str(n)] = bench_size(n, base, root, env, args, use_time, new_database)
    finally:
        if args.keep:
            _progress(f"books kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    all_sizes = {int(k): v for k, v in report["sizes"].items()}
    if args.previous:
        old = json.loads(args.previous.read_text())
        for k, v in old.get("sizes", {}).items():
            all_sizes.setdefault(int(k), v)
        report["meta"]["previous"] = str(args.previous)
    g = growth(all_sizes)
    report["growth"] = g
    report["growth_goals"] = print_growth(g)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
        print(f"\nfigures written to {args.json}")


if __name__ == "__main__":
    main()
