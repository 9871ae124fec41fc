"""Reading and writing spreadsheet files (CSV) the way other programs actually produce them.

Reading works out the encoding (UTF-8 with or without a byte-order mark, UTF-16 from Excel's
"Unicode text", otherwise Windows-1252), the delimiter (comma, semicolon, tab or pipe) and which
row is the header (report exports often start with a title and a date). Every data row keeps the
line number it starts on, so messages can point at it.

Spreadsheet formula injection: a cell starting with ``=``, ``+``, ``-`` or ``@`` is run as a
formula by Excel and LibreOffice. Such text is stored and written with a leading apostrophe, which
makes it plain text; phone numbers and plain numbers are left alone because they cannot run
anything.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from backoffice.tools.book.storage import atomic_write_bytes
from backoffice.tools.errors import BadInput

csv.field_size_limit(16 * 1024 * 1024)  # long notes fields; the default (128 KiB) refuses them

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SAMPLE_BYTES = 256 * 1024
MAX_FILE_BYTES = 512 * 1024 * 1024  # several hundred thousand contacts; anything bigger is not an export
HEADER_SEARCH_ROWS = 25


@dataclass
class Row:
    line: int  # the file line the row starts on, counting from 1
    values: list[str]


@dataclass
class Table:
    path: Path
    encoding: str
    delimiter: str
    header_line: int
    header: list[str]
    rows: list[Row]
    malformed: list[tuple[Row, str]] = field(default_factory=list)  # rows that do not fit the header

    def describe(self) -> str:
        return (
            f"{self.encoding}, {DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))}-separated, "
            f"header on line {self.header_line}, {len(self.rows) + len(self.malformed)} rows"
        )


# ---------------------------------------------------------------------------- decoding
def decode(raw: bytes) -> tuple[str, str]:
    """The text of ``raw`` and the name of the encoding it was in."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "UTF-8 with BOM"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "UTF-16"
    try:
        return raw.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        # five bytes are undefined in cp1252; Latin-1 maps every byte, so nothing is lost
        return raw.decode("latin-1"), "Latin-1"


def _parse(text: str, delimiter: str) -> Iterable[Row]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    previous = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a field over the limit: a stray quote swallowing the rest of the file
            raise BadInput(
                "Cannot import the file",
                [
                    f"the row starting on line {previous + 1} cannot be read ({exc}): a quote left open there "
                    "makes the rest of the file one value"
                ],
            ) from exc
        start, previous = previous + 1, reader.line_num
        if any(v.strip() for v in values):
            yield Row(start, values)


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first rows into the same, largest number of fields."""
    sample = text[:SAMPLE_BYTES]
    if len(text) > SAMPLE_BYTES and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        counts = [len(row.values) for _, row in zip(range(40), _parse(sample, delimiter), strict=False)]
        split = [c for c in counts if c > 1]
        if not split:
            continue
        # the width most rows share; title rows above the header may be narrower
        typical = max(set(split), key=lambda c: (split.count(c), c))
        score = (sum(1 for c in counts if c >= typical - 1 and c > 1) / len(counts), typical)
        if score > best_score:
            best, best_score = delimiter, score
    return best


# ---------------------------------------------------------------------------- reading
def read_file(path: Path, subject: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes. A device (/dev/zero), a pipe, a
    folder or a bigger file is refused without reading it, so nothing hangs or fills the memory."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise BadInput(subject, ["there is no such file"]) from None
    except OSError as exc:
        raise BadInput(subject, [f"cannot be read ({exc.strerror or exc})"]) from None
    if stat.S_ISDIR(st.st_mode):
        raise BadInput(subject, ["is a folder, not a CSV file"])
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(subject, ["is not a regular file (a device or a pipe?); save the data to a file first"])
    if st.st_size > limit:
        raise BadInput(subject, [f"is {st.st_size:,} bytes; files up to {limit // 2**20} MiB are imported"])
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise BadInput(subject, [f"cannot be read ({exc.strerror or exc})"]) from None
    if len(raw) > limit:  # it grew while being read
        raise BadInput(subject, [f"is over {limit // 2**20} MiB; files up to that size are imported"])
    return raw


def read_table(path: Path, header_score: Callable[[Sequence[str]], int]) -> Table:
    """Read ``path``. ``header_score`` says how many cells of a row look like known column names;
    the best-scoring row among the first ones is the header."""
    raw = read_file(path, f"Cannot import {path}")
    if b"\x00" in raw[:4096] and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise BadInput(f"Cannot import {path}", ["looks like a binary file (an .xlsx?); save it as CSV first"])
    text, encoding = decode(raw)
    text = text.replace("\x00", "")
    if not text.strip():
        raise BadInput(f"Cannot import {path}", ["is empty"])
    delimiter = sniff_delimiter(text)
    try:
        rows = list(_parse(text, delimiter))
    except BadInput as exc:
        raise BadInput(f"Cannot import {path}", exc.problems) from exc
    header_at = _find_header(rows[:HEADER_SEARCH_ROWS], header_score)
    header_row = rows[header_at]
    header = [h.strip() for h in header_row.values]
    while header and not header[-1]:
        header.pop()
    table = Table(path, encoding, delimiter, header_row.line, header, [])
    width = len(header)
    for row in rows[header_at + 1 :]:
        values = row.values
        if len(values) > width and not any(v.strip() for v in values[width:]):
            values = values[:width]  # trailing empty cells (a trailing delimiter)
        if len(values) != width:
            table.malformed.append(
                (row, f"has {len(values)} values but the header has {width} columns; a value may be missing or split")
            )
            continue
        table.rows.append(Row(row.line, values))
    return table


def _find_header(rows: list[Row], score: Callable[[Sequence[str]], int]) -> int:
    if not rows:
        raise BadInput("Cannot import the file", ["it has no rows"])
    scored = [(score(r.values), -i) for i, r in enumerate(rows)]
    best, neg_index = max(scored)
    if best >= 2:
        return -neg_index
    # no known column names: the first row with two or more filled, non-numeric cells
    for i, row in enumerate(rows):
        filled = [v for v in row.values if v.strip()]
        if len(filled) >= 2 and not any(re.fullmatch(r"[\d\s.,:/+()-]+", v) for v in filled):
            return i
    return 0


# ---------------------------------------------------------------------------- formula injection
_HARMLESS = re.compile(r"[+-]?[\d\s().,/-]*\d[\d\s().,/-]*")  # phone numbers and plain numbers


def is_formula(value: str) -> bool:
    """Would a spreadsheet run this cell as a formula (or a DDE command)?"""
    if not value or value[0] not in "=+-@\t\r":
        return False
    return not _HARMLESS.fullmatch(value)


def neutralise(value: str) -> str:
    """Text a spreadsheet shows as text: a leading apostrophe before anything formula-like."""
    return "'" + value if is_formula(value) else value


def write_csv(path: Path | None, header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """CSV bytes (UTF-8 with a BOM, so Excel reads accents right), every cell formula-safe.
    Written atomically to ``path`` when one is given."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(str(h)) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else neutralise(str(v)) for v in row])
    payload = codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")
    if path is not None:
        atomic_write_bytes(path, payload)
    return payload
