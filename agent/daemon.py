"""``backoffice run``: the office that runs itself.

An APScheduler 3 ``BackgroundScheduler`` in the business time zone with one cron job per entry of
the procedures' schedule (``briefings.schedule.triggers``), a catch-up check every
``--check-every`` seconds, and the inbox pollers (``POLLERS``, e.g. Gmail) at their own intervals.
Jobs run one at a time on a single worker thread, so they never race each other over the book; the
chat and other commands are separate processes and share the book through its cross-process lock.

Start-up runs the catch-up at once, so a report missed while the machine was off is produced
then, and only once (``briefings.schedule.run_due``). The schedule and the settings are read at
start-up, so a changed setting (a new digest time) or procedure file takes effect on restart; a
procedure problem is logged and the rest of the schedule runs. SIGTERM and Ctrl-C stop cleanly: the
job under way finishes, then the process exits 0.

Only one daemon may run per data dir (``daemon.lock``); ``daemon.json`` says which process and
when it last checked, for ``doctor``. The log is ``<data dir>/logs/daemon.log``.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from backoffice.agent.briefings.notifications import Notification
from backoffice.agent.briefings.schedule import run_due, triggers
from backoffice.agent.inbound import NOTHING_NEW, counts_line, handle_inbound, poll_gmail, set_aside
from backoffice.agent.procedure_check import load_checked
from backoffice.tools.book import clock
from backoffice.tools.book.datafiles import private_dir, read_object
from backoffice.tools.book.storage import atomic_write_bytes, file_lock
from backoffice.tools.book.store import Store
from backoffice.tools.errors import BackofficeError
from backoffice.tools.mail import gmail_account

log = logging.getLogger("backoffice.daemon")
STATE = "daemon.json"
LOCK = "daemon.lock"


@dataclass(frozen=True)
class Poller:
    """Something the daemon checks at an interval (an inbox). ``start`` returns the function to
    call, or None when it is not set up for this data dir (then it is skipped)."""

    name: str
    interval_seconds: Callable[[Store], float]
    start: Callable[[Store], Callable[[], str] | None]


def _gmail_poller(store: Store) -> Callable[[], str] | None:
    if not gmail_account.connected(store.directory):
        return None
    return lambda: counts_line(poll_gmail(store))


def _folder_poller(store: Store) -> Callable[[], str] | None:
    """``<data dir>/inbox/*.eml``: for owners whose mail is not Gmail (a mail rule or script saves
    messages there). Each file is read through the same path as Gmail and moved to ``inbox/done/``;
    one that cannot be read goes to ``inbox/failed/`` with a ``.reason`` file beside it, and the
    files after it are still read."""
    folder = store.directory / "inbox"

    def poll() -> str:
        counts: dict[str, int] = {}
        for path in sorted(folder.glob("*.eml")):
            try:
                raw = path.read_bytes()
            except OSError as exc:
                log.error("inbox/%s: %s", path.name, exc)
                continue
            result = handle_inbound(store, raw)
            if result.status in ("failed", "error"):
                log.error("inbox/%s: %s", path.name, result.message)
                set_aside(folder / "failed", path.name, None, result.message)
                target = private_dir(folder / "failed")
            else:
                target = private_dir(folder / "done")
            path.replace(target / path.name)
            counts[result.status] = counts.get(result.status, 0) + 1
        return counts_line(counts)

    return poll if folder.is_dir() else None


def _mail_interval(store: Store) -> float:
    return store.settings.gmail_poll_minutes * 60.0


POLLERS: list[Poller] = [
    Poller("gmail", _mail_interval, _gmail_poller),
    Poller("inbox folder", _mail_interval, _folder_poller),
]


class PrivateLog(logging.handlers.RotatingFileHandler):
    """The daemon's log holds customers' names, phones and inquiries: readable by the owner only,
    whatever the umask, a file left by an older version included, and every file a rotation starts."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


def setup_logging(directory: Path, verbose: bool = True) -> Path:
    path = private_dir(directory / "logs") / "daemon.log"
    root = logging.getLogger("backoffice")
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    to_file = PrivateLog(path, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(to_file)
    if verbose:
        to_screen = logging.StreamHandler()
        to_screen.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        root.addHandler(to_screen)
    # APScheduler's own messages (missed runs, job errors) go to the same file
    logging.getLogger("apscheduler").handlers = [to_file]
    logging.getLogger("apscheduler").setLevel(logging.INFO)
    return path


class Daemon:
    def __init__(self, store: Store, check_every: float = 60.0, poll_every: float | None = None):
        self.store = store
        self.check_every = check_every
        self.poll_every = poll_every  # overrides the mail pollers' own interval
        self.stop = threading.Event()
        self.failures: list[str] = []  # what went wrong, for ``--once`` to report (the log has it all)
        read_state(store.directory)  # a damaged daemon.json stops the daemon here, before it is replaced
        self.state: dict[str, Any] = {"pid": os.getpid(), "started_at": clock.stamp(store.now())}
        checked = load_checked(store.settings, store.directory)
        self.schedule, self.problems = checked.schedule, checked.problems

    # ------------------------------------------------------------------ jobs
    def reports(self, kinds: tuple[str, ...] | None = None) -> list[Notification]:
        produced = run_due(self.store, origin="daemon", kinds=kinds, schedule=self.schedule)
        self.state["last_check"] = clock.stamp(self.store.now())
        self._save_state()
        return produced

    def _guarded(self, name: str, func: Callable[[], Any]) -> None:
        try:
            func()
        except BackofficeError as exc:
            log.error("%s: %s", name, exc)
            self.failures.append(f"{name}: {exc}")
        except Exception as exc:  # one failing job must not stop the office; the log has the traceback
            log.exception("%s failed", name)
            self.failures.append(f"{name}: {type(exc).__name__}: {exc}")

    def _poll_once(self, poller: Poller) -> None:
        poll = poller.start(self.store)
        if poll is not None:
            self._guarded(poller.name, lambda: self._polled(poller.name, poll()))

    def _polled(self, name: str, summary: str) -> None:
        if summary != NOTHING_NEW:
            log.info("%s: %s", name, summary)
        self.state.setdefault("last_poll", {})[name] = clock.stamp(self.store.now())
        self._save_state()

    def _save_state(self) -> None:
        atomic_write_bytes(self.store.directory / STATE, json.dumps(self.state, indent=1).encode())

    # ------------------------------------------------------------------ running
    def scheduler(self) -> BackgroundScheduler:
        settings = self.store.settings
        scheduler = BackgroundScheduler(
            timezone=settings.tz,
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 6 * 3600},
        )
        report_of = {entry.name: entry.report for entry in self.schedule}
        for name, trigger in triggers(settings, self.schedule).items():
            job = [name, lambda k=report_of[name]: self.reports((k,))]
            scheduler.add_job(self._guarded, trigger, args=job, id=name, replace_existing=True)
        scheduler.add_job(
            self._guarded,
            IntervalTrigger(seconds=self.check_every, timezone=settings.tz),
            args=["catch-up", self.reports],
            id="catch-up",
            replace_existing=True,
        )
        for poller in POLLERS:
            if poller.start(self.store) is None:
                log.info("%s: not set up, not polling", poller.name)
                continue
            seconds = self.poll_every or poller.interval_seconds(self.store)
            scheduler.add_job(
                self._poll_once,
                IntervalTrigger(seconds=seconds, timezone=settings.tz),
                args=[poller],
                id=f"poll-{poller.name}",
                replace_existing=True,
                next_run_time=clock.wall_now(settings.tz),
            )
            log.info("%s: polling every %g s", poller.name, seconds)
        return scheduler

    def run(self, once: bool = False) -> int:
        with file_lock(self.store.directory / LOCK, blocking=False) as mine:
            if not mine:
                raise BackofficeError(
                    f"Another daemon is already running for {self.store.directory} ({self._other()}). "
                    "Stop it first, or use a different --data-dir."
                )
            self.store.counts()  # a book that cannot be read stops the daemon now, not at the next report
            log.info("started for %s (pid %s)", self.store.directory, os.getpid())
            for problem in self.problems:
                log.warning("procedure file problem: %s", problem)
            self._guarded("catch-up", self.reports)
            if once:
                for poller in POLLERS:
                    self._poll_once(poller)
                if self.failures:  # cron reads stderr and the exit code: a failed run must not look fine
                    more = f" (and {len(self.failures) - 1} more)" if len(self.failures) > 1 else ""
                    raise BackofficeError(f"{self.failures[0]}{more}. Details in logs/daemon.log.")
                return 0
            scheduler = self.scheduler()
            previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
            scheduler.start()
            for job in scheduler.get_jobs():
                log.info("next %s: %s", job.id, job.next_run_time)
            try:
                while not self.stop.wait(0.5):
                    pass
            finally:
                log.info("stopping: letting the current job finish")
                scheduler.shutdown(wait=True)
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
                self.state["stopped_at"] = clock.stamp(self.store.now())
                self._save_state()
                log.info("stopped")
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(signum).name)
        self.stop.set()

    def _other(self) -> str:
        return f"pid {read_state(self.store.directory).get('pid', 'unknown')}"


def read_state(directory: Path) -> dict[str, Any]:
    """What ``daemon.json`` says (pid, last check, last poll); empty when there is none. A damaged
    one is refused (``StoreCorrupt``), never replaced."""
    return read_object(directory / STATE, "what the daemon did last") or {}
