"""Who is carrying out an approved action, and whether that process is still alive.

An action moves to ``running`` with a claim: the process id, the host, the process's start time
(so a pid the system has since handed to another program is not mistaken for ours) and a random
token that tags what the run writes. A process killed mid-run (power cut, SIGKILL, a closed
terminal) leaves its claim behind; ``gone`` tells such a claim from a live one.

Only claims made on this host can be judged; one from another machine sharing the folder is
taken as alive, and the owner is told where it runs.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

from backoffice.tools.book import clock


def _host() -> str:
    return socket.gethostname()


def start_time(pid: int) -> str | None:
    """When process ``pid`` started, in the kernel's clock ticks (Linux); None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count from the last ')'
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else None


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :][:1] in (b"Z", b"X")


def new_claim(earlier: dict[str, Any] | None = None) -> dict[str, Any]:
    """A claim for this process. Taking over from an ``earlier`` run that was interrupted keeps
    the moment the action was first approved (``as_of``): a re-run is dated as the first run."""
    pid = os.getpid()
    now = clock.stamp(clock.now())
    return {
        "pid": pid,
        "host": _host(),
        "started": start_time(pid),
        "token": uuid.uuid4().hex[:16],
        "at": now,
        "as_of": (earlier or {}).get("as_of") or (earlier or {}).get("at") or now,
    }


def gone(claim: dict[str, Any] | None) -> bool:
    """Whether the process that claimed an action has ended (so the action will never finish)."""
    if not claim:
        return True  # running without a claim: written by a version that did not record one
    if claim.get("host") != _host():
        return False
    pid = claim.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return True
    if os.name != "posix":  # os.kill(pid, 0) would end the process on Windows: judge by age instead
        return _age_seconds(claim) > STALE_ELSEWHERE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, and someone else's: certainly not ours any more if the start time differs
    except OSError:
        return False
    if _zombie(pid):
        return True
    started = start_time(pid)
    return bool(claim.get("started") and started and started != claim["started"])


STALE_ELSEWHERE = 3600  # where liveness cannot be asked (Windows), a claim this old is taken as dead


def _age_seconds(claim: dict[str, Any]) -> float:
    try:
        return (clock.wall_now() - clock.parse_stamp(str(claim.get("at")))).total_seconds()
    except (ValueError, TypeError):
        return float("inf")


def describe(claim: dict[str, Any] | None) -> str:
    if not claim:
        return "an earlier run (no record of which process)"
    where = "" if claim.get("host") == _host() else f" on {claim.get('host')}"
    return f"process {claim.get('pid')}{where}, started {str(claim.get('at', ''))[:16].replace('T', ' ')}"
