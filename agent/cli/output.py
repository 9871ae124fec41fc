"""The consoles the commands print to.

A terminal gets rich's usual console. Anything else (a pipe, a file) gets the text as it is: no
hard wrap at 80 columns (a very wide console, soft wrapping), and none of the spaces rich pads
lines and tables with. Colour follows rich's rules, so ``NO_COLOR`` and ``FORCE_COLOR`` work.
"""

from __future__ import annotations

import errno
import io
import os
import re
from typing import IO, cast

from rich.console import Console

# Wide enough that no table or line is squeezed; an explicit COLUMNS still wins.
PIPE_WIDTH = 10_000
_PADDING = re.compile(r" +(?=\n)")


def console_for(stream: IO[str]) -> Console:
    if stream.isatty():
        return _Console(file=stream, highlight=False)
    width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else PIPE_WIDTH
    return _Console(file=cast(IO[str], Unpadded(stream)), width=width, soft_wrap=True, highlight=False)


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # rich would exit(1) here; the entry point handles a reader that left, for every kind of
        # output alike (exit 141, nothing printed)
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the reader of the output went away")


class Unpadded(io.TextIOBase):
    """A text stream that drops the spaces at the end of each line. Spaces at the end of a write
    are held back until the next write shows whether the line goes on."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self._held = ""

    def write(self, text: str) -> int:
        whole = _PADDING.sub("", self._held + text)
        kept = whole.rstrip(" ")
        self._held = whole[len(kept) :]
        self.stream.write(kept)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", None) or "utf-8"
