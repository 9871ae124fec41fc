"""Text from outside (an email's subject, a sender's name, a form field, an attachment name) shown
on the owner's terminal without doing anything to it.

The book keeps such text as it arrived. Only showing it is made safe: a terminal obeys escape
sequences (clear the screen, hide text, set the window title, make a hidden link, write to the
clipboard) and bidi overrides reorder what the eye reads, so every control character becomes a
visible, inert stand-in before it reaches the screen. ``safe_text`` is used by the chat's renderer
for every block and panel, and by the commands that print mail.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, and the Unicode bidi/invisible formatting marks
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def _stand_in(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control pictures": ␛ for ESC, ␍ for CR, ␀ for NUL
    if code == 0x7F:
        return "␡"
    return f"<U+{code:04X}>"


def safe_text(text: object) -> str:
    """``text`` with every control and bidi character replaced by a visible stand-in."""
    return _UNSAFE.sub(_stand_in, str(text))


def safe_line(text: object) -> str:
    """``safe_text`` for text that must stay on one line (a title, a table cell's name)."""
    return safe_text(str(text).replace("\r\n", " ").replace("\n", " "))
