"""The book server's own process (``python -m backoffice.agent.serve DATA_DIR``, started by
``agent.server.start_in_background``): warm up, listen on the book's socket, fork a child per
command that becomes the caller's process and runs ``agent.cli.main``. What it is for, and the
caller's side, are in ``agent.server``."""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import signal
import socket
import struct
import sys
import threading
from pathlib import Path
from typing import Any

from backoffice.agent.cli import finish, main
from backoffice.agent.server import (
    HANDED,
    LOCK,
    LOG,
    NOT_STARTED,
    SOCKET,
    STREAMS,
    UNUSABLE,
    close_all,
    fingerprint,
    idle_seconds,
    receive,
    send,
    setting_problems,
)


class Server:
    def __init__(self, data_dir: Path, idle: float) -> None:
        self.data_dir = data_dir
        self.idle = idle
        self.fingerprint = ""
        self.children: dict[int, tuple[socket.socket, int, float]] = {}  # pid -> (caller, "started" pipe, when)
        self.served = 0
        self.started = 0.0
        self.log: Any = None
        self.lock = -1
        self.selector: Any = None
        self.orphans: dict[int, float] = {}  # pid -> when to hang it up, its caller being gone

    def main(self) -> int:
        import fcntl
        import logging
        import time

        os.umask(0o077)
        try:
            lock = os.open(self.data_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return 1
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock)
            return 0  # another server has this book
        self.lock = lock
        self.phase("starting")
        self.fingerprint = fingerprint()
        self.log = logging.getLogger("backoffice.server")
        self.started = time.time()
        begun = time.perf_counter()
        warm_up(self.data_dir)
        os.chdir(self.data_dir)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(SOCKET)  # left by a server that died: ours now, the lock says so
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(SOCKET)
            os.chmod(SOCKET, 0o600)
            listener.listen(64)
            ours = os.stat(SOCKET).st_ino
        except OSError as exc:  # a file system without sockets (some network or shared folders)
            listener.close()
            reason = f"no socket can be made in {self.data_dir}: {exc.strerror or exc}"
            self.log.error("%s; commands run the ordinary way (`backoffice server start` tries again)", reason)
            with contextlib.suppress(OSError):
                Path(UNUSABLE).write_text(reason + "\n", encoding="utf-8")
            os.close(lock)
            return 1
        self.log.info("serving %s as pid %d (ready in %.2f s)", self.data_dir, os.getpid(), time.perf_counter() - begun)
        self.phase("serving")

        def close_listener() -> None:  # new callers get no answer from here on: they run commands themselves
            listener.close()
            with contextlib.suppress(OSError):
                if os.stat(SOCKET).st_ino == ours:  # not one a newer server has put there since
                    os.unlink(SOCKET)

        try:
            self.loop(listener, close_listener)
        finally:
            close_listener()
            self.log.info("stopped after %d commands", self.served)
            os.close(lock)
        return 0

    def phase(self, state: str) -> None:
        """Who holds the lock and what it is doing, for ``backoffice server`` and ``stop``."""
        with contextlib.suppress(OSError):
            os.ftruncate(self.lock, 0)
            os.pwrite(self.lock, f"{os.getpid()} {state}\n".encode(), 0)

    def loop(self, listener: socket.socket, close_listener: Any) -> None:
        import time

        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        stopping: list[str] = []

        def stop(signum: int, _frame: object) -> None:
            stopping.append(signal.Signals(signum).name)

        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, stop)
        book = os.stat(self.data_dir)
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ, "listener")
        selector.register(wake_r, selectors.EVENT_READ, "wake")
        self.selector = selector
        last = time.monotonic()
        listening = True
        try:
            while True:
                self.reap()
                self.hang_up_orphans()
                if self.children:
                    last = time.monotonic()
                elif time.monotonic() - last > self.idle:
                    stopping.append(f"idle for {self.idle:.0f} s")
                if listening and not self._still_ours(book):
                    stopping.append("the data dir or the socket is gone")
                if stopping and listening:
                    self.log.info("stopping: %s", stopping[0])
                    self.phase("stopping")
                    selector.unregister(listener)
                    close_listener()
                    listening = False
                if stopping and not self.children:
                    return
                wait = max(0.05, self.idle - (time.monotonic() - last))
                for key, _ in selector.select(timeout=min(0.25 if self.orphans else 5.0, wait)):
                    if key.data == "wake":
                        with contextlib.suppress(BlockingIOError):
                            while os.read(wake_r, 512):
                                pass
                    elif isinstance(key.data, int):
                        self.caller_gone(key.data)
                    elif listening:
                        with contextlib.suppress(BlockingIOError, InterruptedError):
                            conn, _ = listener.accept()
                            last = time.monotonic()
                            reason = self.take(conn)
                            if reason:
                                stopping.append(reason)
        finally:
            signal.set_wakeup_fd(-1)
            selector.close()
            os.close(wake_r)
            os.close(wake_w)

    def _still_ours(self, book: os.stat_result) -> bool:
        try:
            now = os.stat(self.data_dir)
        except OSError:
            return False
        return (now.st_dev, now.st_ino) == (book.st_dev, book.st_ino) and os.path.exists(SOCKET)

    def take(self, conn: socket.socket) -> str | None:
        """One caller: a command to run in a child, or a question. Returns why the server should
        stop, if it should."""
        import time

        fds: list[int] = []
        try:
            conn.settimeout(5.0)
            if not _same_user(conn):
                conn.close()
                return None
            message, fds = receive(conn, want_fds=len(HANDED))
            if message is None:
                conn.close()
                return None
            op = message.get("op")
            if op == "status":
                send(
                    conn,
                    {
                        "pid": os.getpid(),
                        "since": self.started,
                        "served": self.served,
                        "idle": self.idle,
                        "running": len(self.children),
                        "data_dir": str(self.data_dir),
                        "fingerprint": self.fingerprint,
                    },
                )
                conn.close()
                return None
            if op == "stop":
                send(conn, {"stopping": True, "pid": os.getpid(), "running": len(self.children)})
                conn.close()
                return "asked to stop"
            handed = message.get("fds") == list(HANDED) and len(fds) == len(HANDED)
            if op != "run" or message.get("fingerprint") != self.fingerprint or not handed:
                send(conn, {"stale": True})
                conn.close()
                if op == "run" and message.get("fingerprint") != self.fingerprint:
                    return "a caller runs another version of the program"
                return None
            started_r, started_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: never returns
                os.close(started_r)
                _child(message, fds, started_w, conn)
            os.close(started_w)
            close_all(fds)
            fds = []
            conn.settimeout(None)
            send(conn, {"pid": pid})
            self.children[pid] = (conn, started_r, time.monotonic())
            if self.selector is not None:  # its caller's end closing means the caller is gone
                self.selector.register(conn, selectors.EVENT_READ, pid)
            self.served += 1
            self.log.info("pid %d: %s (at %s)", pid, " ".join(message["argv"])[:200], time.strftime("%H:%M:%S"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.log.warning("a caller was turned away: %s", exc)
            close_all(fds)
            conn.close()
        return None

    def reap(self) -> None:
        import time

        while self.children:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn, started_r, began_at = self.children.pop(pid, (None, -1, 0.0))
            if conn is None:
                continue
            if self.selector is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self.selector.unregister(conn)
            seconds = time.monotonic() - began_at
            began = b""
            with contextlib.suppress(OSError):
                os.set_blocking(started_r, False)
                began = os.read(started_r, 1)
            os.close(started_r)
            if not began:
                reply: dict[str, Any] = {NOT_STARTED: True}
            elif os.WIFSIGNALED(status):
                reply = {"signal": os.WTERMSIG(status)}
            else:
                reply = {"exit": os.waitstatus_to_exitcode(status)}
            # what the command cost, for the caller who measures (bench/cli_bench.py) and the log
            reply.update(
                seconds=round(seconds, 4), cpu=round(usage.ru_utime + usage.ru_stime, 4), maxrss_kb=usage.ru_maxrss
            )
            self.log.info(
                "pid %d: %s in %.3f s, %.3f s CPU, peak %d MiB",
                pid,
                f"exit={reply['exit']}"
                if "exit" in reply
                else f"signal={reply['signal']}"
                if "signal" in reply
                else "not-started",
                seconds,
                reply["cpu"],
                usage.ru_maxrss // 1024,
            )
            with contextlib.suppress(OSError):
                send(conn, reply)
            conn.close()

    def caller_gone(self, pid: int) -> None:
        """A caller's connection became readable: it says nothing more, so it is closed: the caller
        is gone. A caller leaves as soon as its child has said its exit status, so a child still
        there a moment later lost its caller (killed): it is hung up then (and woken, should it be
        stopped by Ctrl-Z, which the lifeline alone cannot undo)."""
        import time

        entry = self.children.get(pid)
        if entry is None:
            return
        try:
            gone = entry[0].recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return
        except OSError:
            gone = True
        if not gone:
            return
        assert self.selector is not None
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(entry[0])
        self.orphans[pid] = time.monotonic() + ORPHAN_GRACE

    def hang_up_orphans(self) -> None:
        import time

        for pid, when in list(self.orphans.items()):
            if pid not in self.children:
                del self.orphans[pid]
            elif time.monotonic() >= when:
                del self.orphans[pid]
                self.log.info("pid %d: its caller is gone; hanging it up", pid)
                for signum in (signal.SIGHUP, signal.SIGCONT):
                    with contextlib.suppress(OSError):
                        os.kill(pid, signum)


def _same_user(conn: socket.socket) -> bool:
    peercred = getattr(socket, "SO_PEERCRED", None)
    if peercred is None:
        return True  # the socket is in the owner's 0700 folder; that is the check where this one is missing
    _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i")))
    return uid == os.getuid()


def _child(message: dict[str, Any], fds: list[int], started: int, conn: socket.socket) -> None:
    """In the forked child: become the caller's process, run its command, exit with its status."""
    code = 1
    caller: socket.socket | None = None
    try:
        conn.close()
        import logging

        logging.getLogger("backoffice.server").handlers.clear()  # its file is the server's, closed below
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.set_wakeup_fd(-1)
        handed = dict(zip(HANDED, fds, strict=True))
        for target, name in zip(STREAMS, ("stdin", "stdout", "stderr"), strict=True):
            os.dup2(handed.pop(name), target)
        os.fchdir(handed["cwd"])  # the caller's folder itself, even one deleted since
        lifeline = handed["lifeline"]
        _close_others(keep={0, 1, 2, started, lifeline})
        os.environ.clear()
        os.environ.update(message["env"])
        import time

        time.tzset()
        os.umask(int(message["umask"]))
        sys.argv = ["backoffice", *message["argv"]]
        _reopen_streams(message.get("streams") or [None, None, None])
        import random

        random.seed()
        caller = socket.socket(fileno=lifeline)
        _watch(caller)
        os.write(started, b"1")
        os.close(started)
        code = _status(finish(_run_main(main)))
    except BaseException:  # noqa: BLE001 - nothing may return into the server's loop
        with contextlib.suppress(Exception):
            import traceback

            traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            import atexit

            atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        if caller is not None:
            _ENDING.set()  # the caller leaves once it has read this: no hanging up then
            with contextlib.suppress(OSError):
                send(caller, {"exit": code})
        os._exit(code)


_ENDING = threading.Event()
ORPHAN_GRACE = 1.0  # seconds a child may take to exit after its caller left before it is hung up


def _watch(caller: socket.socket) -> None:
    """End this command when its caller is gone (killed, or its terminal closed): its end of the
    lifeline closes, and this process hangs up as an ordinary one would with its terminal."""

    def watch() -> None:
        try:
            while caller.recv(1):
                pass
        except OSError:
            pass
        if not _ENDING.is_set():
            os.kill(os.getpid(), signal.SIGHUP)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def _run_main(main: Any) -> int | str | None:
    try:
        code: int | str | None = main()
    except SystemExit as exc:
        code = exc.code
    return code


def _status(code: int | str | None) -> int:
    """The exit status ``sys.exit(code)`` would give."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _close_others(keep: set[int]) -> None:
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        open_fds = list(range(3, 256))
    for fd in open_fds:
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _reopen_streams(shapes: list[dict[str, Any] | None]) -> None:
    """Standard streams on the caller's descriptors, shaped as Python shapes them at start-up: a
    terminal's output line-buffered, standard error always line-buffered."""
    import io

    def shape(i: int, default_errors: str) -> tuple[str, str]:
        given = shapes[i] if i < len(shapes) else None
        given = given or {}
        return (given.get("encoding") or "utf-8"), (given.get("errors") or default_errors)

    def tty(fd: int) -> bool:
        try:
            return os.isatty(fd)
        except OSError:
            return False

    def stream(fd: int, mode: str, default_errors: str, line_buffering: bool) -> io.TextIOWrapper:
        encoding, errors = shape(fd, default_errors)
        raw = open(fd, mode, closefd=False)  # noqa: SIM115 - it lives on as sys.stdin/stdout/stderr
        return io.TextIOWrapper(raw, encoding=encoding, errors=errors, line_buffering=line_buffering)

    for name, fd, mode, errors, line in (
        ("stdin", 0, "rb", "strict", tty(0)),
        ("stdout", 1, "wb", "strict", tty(1)),
        ("stderr", 2, "wb", "backslashreplace", True),
    ):
        made = stream(fd, mode, errors, line)
        setattr(sys, name, made)
        setattr(sys, f"__{name}__", made)


def warm_up(data_dir: Path | None = None) -> None:
    """Import every module a served command uses and build what does not depend on the book, so
    each child starts with it done (the PostgreSQL driver too when this book lives there)."""
    import importlib

    with contextlib.suppress(Exception):
        from backoffice.tools.book.location import database

        if data_dir is not None and database(data_dir) is not None:
            importlib.import_module("backoffice.tools.book.pgbook")

    for name in (
        "backoffice.agent.cli.conversation",
        "backoffice.agent.cli.reports",
        "backoffice.agent.cli.measure",
        "backoffice.agent.cli.book",
        "backoffice.agent.cli.output",
        "backoffice.agent.chat.loop",
        "backoffice.agent.chat.prompts",
        "backoffice.agent.orchestrator",
        "backoffice.agent.planners.offline",
        "backoffice.tools.book.store",
        "backoffice.tools.book.settings",
        "rich.markup",
        "rich.table",
        "rich.markdown",
    ):
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    with contextlib.suppress(Exception):
        from backoffice.agent.planners.offline import OfflinePlanner

        OfflinePlanner()  # the shipped understanding: its files parsed, its patterns compiled
    with contextlib.suppress(Exception):
        from backoffice.tools.book.schemas import TABLES, _validator

        for table in TABLES:
            _validator(table)  # jsonschema and each table's checker, which the first write would build
    with contextlib.suppress(Exception):
        from backoffice.agent.briefings.notifications import _adapters

        _adapters()
    with contextlib.suppress(Exception):
        import pydantic

        from backoffice.tools.book import models

        for value in vars(models).values():
            if isinstance(value, type) and issubclass(value, pydantic.BaseModel) and value is not pydantic.BaseModel:
                value.model_rebuild()
    import gc

    gc.collect()
    gc.freeze()  # the children share these pages instead of copying them on the first collection


def run_server(data_dir: str) -> int:
    import logging
    import logging.handlers

    where = Path(data_dir).resolve()
    try:
        (where / "logs").mkdir(mode=0o700, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            where / "logs" / LOG, maxBytes=1_000_000, backupCount=1, encoding="utf-8"
        )
        with contextlib.suppress(OSError):
            os.chmod(where / "logs" / LOG, 0o600)
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log = logging.getLogger("backoffice.server")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    for problem in setting_problems():
        log.warning("%s", problem)
    try:
        return Server(where, idle_seconds()).main()
    except Exception:
        log.exception("the server stopped on a problem")
        return 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m backoffice.agent.serve DATA_DIR  (started by backoffice itself)", file=sys.stderr)
        sys.exit(2)
    try:
        sys.exit(run_server(sys.argv[1]))
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
        sys.exit(1)
