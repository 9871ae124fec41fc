"""The book server: a warm process that runs command-line commands, so a one-line answer does not
pay for starting Python and importing the program every time.

Most of what ``backoffice ask "find Dana"`` waits for is not the book (an indexed lookup) but
start-up: the interpreter, then pydantic, rich, phonenumbers, the offline planner's understanding.
The server pays that once. It is a *fork server*: it imports and warms everything, then for each
command it forks a child that takes over the caller's standard input, output and error (passed
over a Unix socket), its working folder, umask, environment and arguments, and runs the command
exactly as a fresh process would, the same code from ``main`` on. Every guarantee of the book
holds unchanged, because each command is still its own process: it opens the book, takes the
cross-process lock, commits through the journal and closes it again; the server itself never
opens the book. Ctrl-C and other signals the caller gets are passed on to the child, and the
caller exits with the child's exit status.

Started on demand: a command run the ordinary way (no server yet) starts one for its data dir in
the background as it exits, and the next command uses it. It stops by itself after
``BACKOFFICE_SERVER_IDLE`` seconds without a command (default 900), when its data dir goes away,
or when the program it loaded is no longer the one installed (an upgrade, an edited file, another
Python): a caller whose *fingerprint* differs is told so, the server exits and the caller runs the
command itself. ``backoffice server status|stop`` shows or stops it; ``BACKOFFICE_SERVER=off``
turns it off (the tests do). POSIX only; elsewhere every command runs the ordinary way.

Files, in the data dir (kept 0600, the folder 0700): ``.server.sock`` (the socket; only the owner's
user may connect, checked again with the peer's credentials), ``.server.lock`` (held while a server
lives: never two per book) and ``logs/server.log``.

This module is the caller's side and the wire between the two, imported by every command-line
start, so it is stdlib only; the server's own process is ``agent.serve``.
"""

from __future__ import annotations

import array
import contextlib
import hashlib
import json
import os
import signal
import socket
import struct
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

ENV = "BACKOFFICE_SERVER"  # off, 0, no or false: every command runs the ordinary way
IDLE_ENV = "BACKOFFICE_SERVER_IDLE"
IDLE_SECONDS = 900.0
SOCKET, LOCK, LOG = ".server.sock", ".server.lock", "server.log"
UNUSABLE = ".server.unusable"  # why no server can run for this book (no sockets there): none is started
NOT_SERVED = frozenset({"run", "server"})  # the daemon lives long with its own signals; server manages this
STREAMS = (0, 1, 2)
# The child could not take over the command before running any of it: the caller runs it itself.
NOT_STARTED = "not started"
_HEADER = struct.Struct("!I")
# the interpreter's start-up flags a command could behave differently under (safe_path is not one)
FLAGS = (
    "bytes_warning",
    "debug",
    "dev_mode",
    "dont_write_bytecode",
    "hash_randomization",
    "ignore_environment",
    "int_max_str_digits",
    "isolated",
    "no_site",
    "no_user_site",
    "optimize",
    "utf8_mode",
    "verbose",
    "warn_default_encoding",
)
_MAX_MESSAGE = 16 * 1024 * 1024


OFF_WORDS, ON_WORDS = {"off", "0", "no", "false"}, {"", "on", "1", "yes", "true"}


def enabled() -> bool:
    if os.environ.get(ENV, "").strip().lower() in OFF_WORDS:
        return False
    return os.name == "posix" and hasattr(socket, "AF_UNIX") and hasattr(socket, "CMSG_LEN") and hasattr(os, "fork")


def idle_seconds() -> float:
    """How long a server waits for a command before it stops (``BACKOFFICE_SERVER_IDLE``)."""
    try:
        idle = float(os.environ.get(IDLE_ENV) or IDLE_SECONDS)
    except ValueError:
        return IDLE_SECONDS
    return idle if 0 < idle < float("inf") else IDLE_SECONDS


def setting_problems() -> list[str]:
    """The server's environment settings that are not understood, and what is done instead."""
    problems = []
    value = os.environ.get(ENV, "")
    if value.strip().lower() not in OFF_WORDS | ON_WORDS:
        problems.append(f"{ENV}={value!r} is neither on nor off; the server is on (off, 0, no or false turn it off)")
    idle = os.environ.get(IDLE_ENV)
    if idle and idle_seconds() == IDLE_SECONDS and idle.strip() not in (str(int(IDLE_SECONDS)), str(IDLE_SECONDS)):
        problems.append(f"{IDLE_ENV}={idle!r} is not a number of seconds above 0; {IDLE_SECONDS:.0f} is used")
    return problems


def duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:g} second{'' if seconds == 1 else 's'}"


def phase(data_dir: Path) -> tuple[int, str] | None:
    """The pid and phase (starting, serving, stopping) of the server holding this book's lock;
    None when there is none."""
    if not lock_held(data_dir):
        return None
    try:
        pid, state = (data_dir / LOCK).read_text(encoding="utf-8").split()[:2]
        return int(pid), state
    except (OSError, ValueError):
        return None


def servable(command: str | None) -> bool:
    return command is not None and command not in NOT_SERVED


# ---------------------------------------------------------------------------- fingerprint
def fingerprint() -> str:
    """What the running program is: the interpreter, its start-up settings and every file of the
    package (name, size, modification time). A server built from anything else must not answer."""
    import backoffice

    # sys.path[0] is where the caller was started from (the script's folder, or the current one for
    # ``python -m``): it differs between callers and the server, which starts without it (-P)
    flags = [f"{name}={getattr(sys.flags, name, None)}" for name in FLAGS]
    paths = sys.path if sys.flags.safe_path else sys.path[1:]
    executable = os.path.realpath(sys.executable)  # .venv/bin/python and python3 are one interpreter
    parts: list[str] = [executable, sys.version, *flags, repr(paths), repr(sys.warnoptions)]
    parts += sorted(
        f"{k}={v}" for k, v in os.environ.items() if k.startswith("PYTHON") or k in ("LANG", "LC_ALL", "LC_CTYPE")
    )
    for root in _package_dirs(backoffice):
        parts.append(root)
        parts += _stamps(root)
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _package_dirs(package: Any) -> list[str]:
    import importlib.util

    roots = list(package.__path__)
    for sub in ("agent", "tools", "schemas", "procedures"):
        module = sys.modules.get(f"backoffice.{sub}")
        if module is not None:
            roots += list(module.__path__)
        else:
            spec = importlib.util.find_spec(f"backoffice.{sub}")
            roots += list(spec.submodule_search_locations or ()) if spec else []
    return sorted(set(roots))


def _stamps(root: str) -> list[str]:
    out: list[str] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name == "__pycache__":
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    st = entry.stat()
                    out.append(f"{entry.path}:{st.st_size}:{st.st_mtime_ns}")
            except OSError:
                continue
    return sorted(out)


# ---------------------------------------------------------------------------- messages
def send(sock: socket.socket, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
    body = json.dumps(message).encode("utf-8", "surrogateescape")
    data = _HEADER.pack(len(body)) + body
    if fds:
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
        sent = sock.sendmsg([data], ancillary)
        data = data[sent:]
    sock.sendall(data)


def receive(sock: socket.socket, *, want_fds: int = 0) -> tuple[dict[str, Any] | None, list[int]]:
    """One message (None at the end of the connection) and the descriptors that came with it."""
    fds: list[int] = []
    buf = b""
    while len(buf) < _HEADER.size:
        chunk, ancillary = _recv_some(sock, want_fds, fds)
        if not chunk:
            close_all(fds)
            return None, []
        buf += chunk
    (size,) = _HEADER.unpack(buf[: _HEADER.size])
    if size > _MAX_MESSAGE:
        close_all(fds)
        raise ValueError(f"a message of {size} bytes is not one of ours")
    buf = buf[_HEADER.size :]
    while len(buf) < size:
        chunk, _ = _recv_some(sock, 0, fds)
        if not chunk:
            close_all(fds)
            return None, []
        buf += chunk
    return json.loads(buf.decode("utf-8", "surrogateescape")), fds


def _recv_some(sock: socket.socket, want_fds: int, fds: list[int]) -> tuple[bytes, None]:
    if not want_fds or fds:
        return sock.recv(65536), None
    space = socket.CMSG_SPACE(want_fds * array.array("i").itemsize)
    data, ancillary, _flags, _addr = sock.recvmsg(65536, space)
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(payload) - len(payload) % array.array("i").itemsize
            fds += array.array("i", payload[:usable]).tolist()
    return data, None


def close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


# ---------------------------------------------------------------------------- the caller's side
def _connect(data_dir: Path, timeout: float | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    path = str(data_dir / SOCKET)
    try:
        if len(os.fsencode(path)) < 100:
            sock.connect(path)
        else:  # longer than a socket address may be: connect by the short name from inside the folder
            here = os.open(".", os.O_RDONLY)
            try:
                os.chdir(data_dir)
                sock.connect(SOCKET)
            finally:
                os.fchdir(here)
                os.close(here)
    except BaseException:
        sock.close()
        raise
    return sock


def serve_here(argv: Sequence[str], data_dir: Path) -> int | None:
    """Run the command in the book server, if one is up for ``data_dir`` and runs this very
    program: its exit status, or None when the caller must run the command itself.

    Besides its standard streams the caller hands over its working folder (as an open descriptor,
    so even a folder deleted meanwhile is the child's as it is ours) and one end of a *lifeline*,
    a socket pair: the child says its exit status on it, and when the caller dies the child finds
    the lifeline closed and ends too, as a process does when its terminal hangs up. So a killed
    server does not end the command (the child finishes and answers on the lifeline), and a
    killed caller leaves nothing running behind it. From the moment the request is sent, the
    signals the caller gets (Ctrl-C, a terminal closing, kill) are the command's: passed on to the
    child as soon as its pid is known."""
    if not _streams_open():
        return None
    try:
        here = os.open(".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None  # a folder we may not open: the ordinary way meets it as it is
    try:
        sock = _connect(data_dir)
    except OSError:
        os.close(here)
        return None
    ours, theirs = socket.socketpair()
    child: list[int] = []
    caught: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if not child:
            caught.append(signum)  # before the child is known: passed on once it is
            return
        with contextlib.suppress(OSError):
            os.kill(child[0], signum)

    def stop(_signum: int, _frame: object) -> None:  # Ctrl-Z: the child stops with us
        if child:
            with contextlib.suppress(OSError):
                os.kill(child[0], signal.SIGSTOP)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)
        signal.signal(signal.SIGTSTP, stop)

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    previous[signal.SIGTSTP] = signal.signal(signal.SIGTSTP, stop)
    sent = False
    reply: dict[str, Any] | None = None
    try:
        with sock, ours:
            request = {
                "op": "run",
                "fingerprint": fingerprint(),
                "argv": list(argv),
                "env": dict(os.environ),
                "cwd": _cwd(),
                "umask": _umask(),
                "streams": [_stream_shape(s) for s in (sys.stdin, sys.stdout, sys.stderr)],
                "fds": list(HANDED),
            }
            try:
                with _flushed():
                    send(sock, request, [*STREAMS, theirs.fileno(), here])
                sent = True
            except OSError:
                return None
            finally:
                theirs.close()
                os.close(here)
            try:
                started, _ = receive(sock)
            except (OSError, ValueError):
                started = None
            if not started or "pid" not in started:
                # stale (it is stopping), or refused: the caller runs the command itself
                if caught:
                    raise KeyboardInterrupt
                return None
            child.append(int(started["pid"]))
            for signum in caught:
                forward(signum, None)
            reply = _outcome(sock, ours)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception:  # a bug here: before the request went, run the command ordinarily; after, never twice
        if os.environ.get("BACKOFFICE_DEBUG"):
            raise
        if not sent:
            return None
        reply = None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return _ended(reply)  # our handlers are gone: a child ended by a signal ends us the same way


HANDED = ("stdin", "stdout", "stderr", "lifeline", "cwd")  # the descriptors a request carries, in order


def _outcome(server: socket.socket, lifeline: socket.socket) -> dict[str, Any] | None:
    """How the command ended: the child's own word on the lifeline, or the server's (which alone
    knows a child killed by a signal, or one that never started). A server that dies meanwhile
    changes nothing: the child still answers on the lifeline."""
    import selectors

    waiting = {server: "server", lifeline: "child"}
    with selectors.DefaultSelector() as selector:
        for end, who in waiting.items():
            selector.register(end, selectors.EVENT_READ, who)
        while waiting:
            for key, _ in selector.select():
                end = next(e for e in waiting if e is key.fileobj)
                try:
                    said, _ = receive(end)
                except (OSError, ValueError):
                    said = None
                if said is not None:
                    return said
                selector.unregister(end)  # gone without a word: listen to the other one
                del waiting[end]
    return None


# passed on to the child (Windows has not all of them: there the server is off, but this module loads)
_PASSED_ON = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGWINCH", "SIGCONT")
FORWARDED = tuple(getattr(signal, name) for name in _PASSED_ON if hasattr(signal, name))


def _streams_open() -> bool:
    for fd in STREAMS:
        try:
            os.fstat(fd)
        except OSError:
            return False
    return True


def _ended(reply: dict[str, Any] | None) -> int | None:
    if reply is None:
        print(
            "backoffice: the book server stopped while this command ran, so its end is not known here (it may "
            "still be finishing). What was saved is safe: look the record up before running the command again "
            "(BACKOFFICE_SERVER=off runs commands without the server).",
            file=sys.stderr,
        )
        return 1
    if reply.get(NOT_STARTED):
        return None
    if reply.get("signal"):  # ended by a signal: end the same way, as the shell expects
        signum = int(reply["signal"])
        with contextlib.suppress(OSError, ValueError):
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        return 128 + signum
    return int(reply.get("exit", 1))


@contextlib.contextmanager
def _flushed() -> Any:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    yield


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # the folder we were started in is gone
        return None


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _stream_shape(stream: Any) -> dict[str, Any] | None:
    if stream is None:
        return None
    return {"encoding": getattr(stream, "encoding", None), "errors": getattr(stream, "errors", None)}


def start_in_background(data_dir: Path) -> None:
    """Start a server for ``data_dir`` and return at once; it is ready a second or so later. Does
    nothing when one is already running or starting (its lock is held)."""
    if not (data_dir / ".").is_dir() or (data_dir / UNUSABLE).exists() or lock_held(data_dir):
        return
    import subprocess

    with contextlib.suppress(OSError):
        subprocess.Popen(  # noqa: S603 - this very interpreter, running this module
            [sys.executable, "-P", "-m", "backoffice.agent.serve", str(data_dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not in the terminal's process group: Ctrl-C on a later command spares it
            close_fds=True,
            cwd="/",
        )


def lock_held(data_dir: Path) -> bool:
    import fcntl

    try:
        fd = os.open(data_dir / LOCK, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def ask(data_dir: Path, op: str, timeout: float = 5.0) -> dict[str, Any] | None:
    """A question for the server (``status``, ``stop``): its answer, or None when none is up."""
    try:
        sock = _connect(data_dir, timeout)
    except OSError:
        return None
    with sock:
        try:
            send(sock, {"op": op})
            reply, _ = receive(sock)
        except (OSError, ValueError):
            return None
        return reply


class Stopped(NamedTuple):
    pid: int | None  # None: no server was running
    running: int  # commands it is still finishing (a chat left open); it exits after the last
    finishing: bool = False  # it was already stopping, finishing commands of unknown number


def stop(data_dir: Path, within: float = 10.0) -> Stopped:
    """Stop the server of ``data_dir`` (one still starting too). New commands stop using it at
    once; it exits when the commands it is running have ended, waited for here only when there
    are none (up to ``within`` seconds)."""
    import time

    answer = ask(data_dir, "stop")
    pid = int(answer["pid"]) if answer and "pid" in answer else None
    running = int(answer.get("running", 0)) if answer else 0
    if pid is None and (found := phase(data_dir)) is not None:  # starting (not listening yet) or stopping
        pid = found[0]
        if found[1] == "stopping":
            return Stopped(pid, 0, finishing=True)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    if running:
        return Stopped(pid, running)
    deadline = time.monotonic() + within
    while lock_held(data_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    _tidy(data_dir)
    return Stopped(pid, 0)


def _tidy(data_dir: Path) -> None:
    """The socket of a server that was killed, removed while holding its lock (so it is never a
    live server's)."""
    import fcntl

    try:
        fd = os.open(data_dir / LOCK, os.O_RDWR)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(data_dir / SOCKET)
    except OSError:
        pass
    finally:
        os.close(fd)
