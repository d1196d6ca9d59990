"""Source line numbers of a text export's records, so an operator can open the file at a bad row.

Why a scan of our own: the engine numbers the lines it skips but not the rows it reads. The row
check sees rows in file order; this scan lists where each record starts (physical line, 1 =
the first line), so the n-th row read is the n-th record the reader did not skip. Records
follow RFC 4180 for CSV (a line break inside double quotes continues the record, numbered
once, as DuckDB numbers it) and one per line for JSON lines; blank lines are no record.

The scan is numpy over the bytes in chunks (memory bounded by the chunk and 8 bytes per
record), run only by `retain validate` when a file has rows to show.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_CHUNK = 1 << 22  # 4 MiB of text per step
_QUOTE, _NEWLINE, _RETURN = ord('"'), ord("\n"), ord("\r")


@dataclass(frozen=True)
class RecordLines:
    """Where each record of one text file starts.

    `starts[i]` is the physical line on which the reader's line `i + 1` starts (the engine
    counts blank lines as lines and a quoted line break as none); `blank[i]` marks a blank line.
    """

    starts: np.ndarray
    blank: np.ndarray

    def row_lines(self, skipped: set[int], header: bool) -> np.ndarray | None:
        """The physical line of every row read, in order, given the reader's skipped lines.

        None when the records left do not pair one to one with the rows (the caller checks
        the count): a wrong line number would send an operator to the wrong row.
        """
        keep = ~self.blank
        if header and len(keep):
            keep[0] = False
        if skipped:
            numbers = np.array(sorted(skipped), dtype=np.int64) - 1
            keep[numbers[numbers < len(keep)]] = False
        return self.starts[keep]

    def physical(self, reader_line: int) -> int:
        """The physical line of the reader's line number (its own for lines beyond the scan)."""
        index = reader_line - 1
        return int(self.starts[index]) if 0 <= index < len(self.starts) else reader_line


def _chunks(path: Path) -> Iterator[bytes]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


def scan_records(path: Path, quoted: bool = True) -> RecordLines:
    """Record starts and blank lines of a CSV (`quoted`) or JSON-lines file."""
    starts: list[np.ndarray] = [np.array([1], dtype=np.int64)]
    blank: list[np.ndarray] = []
    offset = 0  # bytes before this chunk
    lines_before = 0  # newlines before this chunk
    inside = 0  # 1 while inside a quoted field at the chunk boundary
    record_start = 0  # byte offset where the current record starts
    last_byte = -1  # the byte before this chunk (for a '\r' before a terminating newline)
    for chunk in _chunks(path):
        data = np.frombuffer(chunk, dtype=np.uint8)
        newlines = np.flatnonzero(data == _NEWLINE)
        if quoted:
            parity = np.bitwise_xor.accumulate((data == _QUOTE).view(np.uint8)) ^ inside
            terminal = newlines[parity[newlines] == 0] if len(newlines) else newlines
            inside = int(parity[-1])
        else:
            terminal = newlines
        if len(terminal):
            ends = terminal + offset
            begins = np.concatenate(([record_start], ends[:-1] + 1))
            before = np.where(terminal > 0, data[np.maximum(terminal - 1, 0)], last_byte)
            blank.append((ends == begins) | ((ends - begins == 1) & (before == _RETURN)))
            newline_rank = np.searchsorted(newlines, terminal) + lines_before
            starts.append(newline_rank + 2)  # the line after the terminating newline
            record_start = int(ends[-1]) + 1
        lines_before += len(newlines)
        offset += len(data)
        last_byte = int(data[-1])
    if offset > record_start:
        blank.append(np.array([False]))  # a last record without a final newline
    else:
        starts[-1] = starts[-1][:-1]  # the file ends with a newline: no record after it
    return RecordLines(
        starts=np.concatenate(starts), blank=np.concatenate(blank) if blank else np.array([], bool)
    )
