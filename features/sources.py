"""Finding event files and reading them, untyped, into an Ibis table on the chosen engine.

Why separate from validation: where bytes come from (one file, a partitioned folder, CSV vs
Parquet) is an engine concern; what counts as a valid event is not, and lives in `loading.py`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from features.contract import (
    REJECT_INVALID_ENCODING,
    REJECT_MALFORMED_LINE,
    EventContractError,
)

# File endings per format; compressed text is read transparently by both engines.
_FORMATS: dict[str, tuple[str, ...]] = {
    "parquet": (".parquet", ".pq"),
    "csv": (".csv", ".csv.gz"),
    "jsonl": (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz"),
}


@dataclass(frozen=True)
class EventFiles:
    """The files of one event source, all of one format."""

    root: Path
    paths: tuple[Path, ...]
    fmt: str

    @property
    def label(self) -> str:
        """How messages name the source: the single file, or the folder and a file count."""
        if len(self.paths) == 1:
            return str(self.paths[0])
        return f"{self.paths[0].parent} ({len(self.paths)} {self.fmt} files)"


def file_format(path: Path) -> str | None:
    """The event format a file name implies, or None for a file that is not an event file."""
    name = path.name.lower()
    for fmt, endings in _FORMATS.items():
        if name.endswith(endings):
            return fmt
    return None


def discover(source: str | Path) -> EventFiles:
    """Resolve a file or a (possibly partitioned) folder into its event files of one format."""
    root = Path(source)
    if not root.exists():
        raise EventContractError(f"{root}: no such file or folder")
    if root.is_file():
        candidates = [root]
    else:
        candidates = sorted(
            p for p in root.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))
        )
    typed = {p: file_format(p) for p in candidates}
    if root.is_file() and typed[root] is None:
        known = ", ".join(e for endings in _FORMATS.values() for e in endings)
        raise EventContractError(f"{root}: unknown file type; expected one of {known}")
    formats = {fmt for fmt in typed.values() if fmt is not None}
    if not formats:
        raise EventContractError(f"{root}: no event files (.parquet, .csv, .jsonl) found")
    if len(formats) > 1:
        raise EventContractError(
            f"{root}: mixes formats ({', '.join(sorted(formats))}); keep one format per folder"
        )
    paths = tuple(p for p, fmt in typed.items() if fmt is not None)
    empty = [p for p in paths if p.stat().st_size == 0]
    if empty:
        raise EventContractError(f"{empty[0]}: the file is empty (0 bytes)")
    return EventFiles(root=root, paths=paths, fmt=formats.pop())


@dataclass(frozen=True)
class SkippedLine:
    """A line the reader could not read as a row: its number (1 = the header; a quoted line
    break starts no new line), why, and its text as the reader saw it."""

    line: int
    reason: str
    text: str


@dataclass(frozen=True)
class RawEvents:
    """The files as an untyped table, and how to count the lines the reader had to skip.

    `skipped_lines` (counts by reason) and `skipped_details` (each line, in file order, for
    one file) are only meaningful once the table has been scanned (the reader logs what it
    skipped while it reads), so the loader calls them after its first pass over the rows.
    """

    table: ir.Table
    skipped_lines: Callable[[], dict[str, int]] = lambda: {}
    skipped_details: Callable[[], list[SkippedLine]] = lambda: []


_READER_IDS = itertools.count()
# DuckDB's CSV error types, as our reject reasons: any line that is not valid UTF-8 is an
# encoding problem; every other error (field count, quoting, line size) is a malformed line.
_INVALID_ENCODING_ERROR = "INVALID ENCODING"
_REASON = {True: REJECT_INVALID_ENCODING, False: REJECT_MALFORMED_LINE}


def read_raw(backend: BaseBackend, files: EventFiles) -> RawEvents:
    """Read the files as they are; CSV stays text so ids like '00042' keep their zeros.

    CSV on DuckDB skips lines it cannot read (bad UTF-8, too many or too few fields) instead of
    failing the whole file over one line, and records them in a rejects table that
    `RawEvents.skipped_lines` counts by reason: an export with three broken lines loses those
    three, visibly, not the other million.
    """
    paths = [str(p) for p in files.paths]
    try:
        if files.fmt == "parquet":
            if backend.name == "pyspark":  # Spark reads a partitioned folder natively
                return RawEvents(backend.read_parquet(str(files.root)))
            hive = any("=" in part for p in files.paths for part in p.parent.parts)
            return RawEvents(backend.read_parquet(paths, hive_partitioning=hive))
        if files.fmt == "csv":
            if backend.name == "pyspark":
                sep = header_delimiter(files.paths[0])
                return RawEvents(backend.read_csv(paths, header=True, inferSchema=False, sep=sep))
            return _read_duckdb_csv(backend, paths)
        if backend.name == "pyspark":
            return RawEvents(backend.read_json(paths))
        # Types from every line, not DuckDB's first 20,480: a text amount or id further down
        # would otherwise fail the whole load mid-query instead of being counted in its row.
        table = backend.read_json(paths, format="newline_delimited", sample_size=-1)
        return RawEvents(_json_values_as_text(table))
    except EventContractError:
        raise
    except Exception as error:  # engine errors become one readable line, not a traceback
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise EventContractError(
            f"{files.label}: cannot read as {files.fmt}: {first_line}"
        ) from error


# The delimiters DuckDB's CSV sniffer tries; Spark's reader takes the one it is given.
_DELIMITERS = (",", ";", "\t", "|")


def header_delimiter(path: Path) -> str:
    """The delimiter of a CSV file's header line: whichever of `_DELIMITERS` it holds most of
    (a comma when it holds none).

    Why: DuckDB sniffs the delimiter, Spark assumes a comma, so a semicolon export (as
    spreadsheets in much of Europe write it) loaded on DuckDB and was refused on Spark as
    "missing columns" named `user_id;event_time;…`. Reading the header, as DuckDB's sniffer
    does among others, gives Spark the same delimiter for the same file.
    """
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as handle:
        header = handle.readline()
    counts = {sep: header.count(sep) for sep in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda sep: counts[sep])  # ties keep the earlier, a comma first
    return best if counts[best] else ","


def _json_values_as_text(table: ir.Table) -> ir.Table:
    """Columns DuckDB could only type as JSON (values of mixed kinds) as the text of each value.

    Why: a key holding strings on some lines and numbers on others (`"user_id": "u1"` and
    `"user_id": 5`, `"amount": "12.5"` and `"amount": 3`) comes back as JSON, whose text keeps
    the quotes: the id would become `"u1"` and the amount unparseable. A string's own text and a
    number's digits are what a CSV of the same events holds, and what Spark's reader gives.
    """
    mixed = [name for name, dtype in table.schema().items() if dtype.is_json()]
    if not mixed:
        return table
    return table.mutate(
        **{name: ibis.coalesce(table[name].str, table[name].cast("string")) for name in mixed}
    )


def _read_duckdb_csv(backend: BaseBackend, paths: list[str]) -> RawEvents:
    """CSV through DuckDB with unreadable lines skipped into a rejects table of our own."""
    n = next(_READER_IDS)
    rejects, scans = f"_retain_csv_rejects_{n}", f"_retain_csv_scans_{n}"
    table = backend.read_csv(
        paths,
        all_varchar=True,
        header=True,
        ignore_errors=True,
        store_rejects=True,
        rejects_table=rejects,
        rejects_scan=scans,
    )

    def skipped_lines() -> dict[str, int]:
        # A line can be logged once per bad field, and again by every later scan of the files:
        # count distinct lines of the first scan (the loader's own pass).
        rows = backend.raw_sql(
            f"""
            SELECT encoding, count(*) FROM (
                SELECT bool_or(error_type = '{_INVALID_ENCODING_ERROR}') AS encoding
                FROM {rejects}
                WHERE scan_id = (SELECT min(scan_id) FROM {rejects})
                GROUP BY file_id, line
            )
            GROUP BY encoding
            """
        ).fetchall()
        return {_REASON[bool(encoding)]: int(count) for encoding, count in rows if count}

    def skipped_details() -> list[SkippedLine]:
        rows = backend.raw_sql(
            f"""
            SELECT line, bool_or(error_type = '{_INVALID_ENCODING_ERROR}'), any_value(csv_line)
            FROM {rejects}
            WHERE scan_id = (SELECT min(scan_id) FROM {rejects})
            GROUP BY file_id, line
            ORDER BY file_id, line
            """
        ).fetchall()
        return [
            SkippedLine(int(line), _REASON[bool(encoding)], str(text).strip("\r\n"))
            for line, encoding, text in rows
        ]

    return RawEvents(table, skipped_lines, skipped_details)
