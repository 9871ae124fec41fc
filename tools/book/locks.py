"""Cross-process file locks: shared for readers, exclusive for writers.

POSIX (Linux, macOS) locks with flock(2) from the standard library; Windows with portalocker
(LockFileEx). portalocker would serve POSIX too (it calls the same flock), but importing it reads
its package metadata, a cost every command would pay for nothing. Either way the module imports on
every platform, so no owner is turned away at start-up.
"""

from __future__ import annotations

import os
from typing import IO

POSIX = os.name == "posix"


def lock(handle: IO[bytes], shared: bool = False, blocking: bool = True) -> bool:
    """Take the lock on an open file; False (at once) when ``blocking`` is off and another
    process holds it."""
    if POSIX:
        import fcntl

        flags = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(handle.fileno(), flags)
        except BlockingIOError:
            return False
        return True
    import portalocker

    mode = portalocker.LockFlags.SHARED if shared else portalocker.LockFlags.EXCLUSIVE
    try:
        portalocker.lock(handle, mode if blocking else mode | portalocker.LockFlags.NON_BLOCKING)
    except portalocker.LockException:  # AlreadyLocked in recent portalockers, its base class in 2.7
        return False
    return True


def unlock(handle: IO[bytes]) -> None:
    if POSIX:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return
    import portalocker

    portalocker.unlock(handle)
