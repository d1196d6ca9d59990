"""Which rows of an export loading rejects or keeps with a missing amount, and where they are.

Why: a count per reason says that an export has problems, not where. An operator fixing the
export needs the lines and the values as written; `retain validate` shows a few per reason and
writes them all with `--rejects`. Loading never pays for this: it is a second pass that
`validate` runs only when the load report counted something.

Why always on DuckDB: the rows come back in file order (a projection over a scan keeps its
insertion order), which is what pairs each row with its line (`line_numbers.py`). The row check
is the same on both engines; the one difference (Spark reads ragged CSV lines instead of
skipping them) is documented in docs/bad-input.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from features import contract as c
from features.engines import connect, register_frame
from features.import_profile import ImportProfile
from features.line_numbers import scan_records
from features.loading import event_reader
from features.row_checks import FIRST_KEPT_CODE, ISSUE, check_rows
from features.sources import EventFiles, RawEvents, discover, read_raw

# The columns every listed row carries before the export's own columns (then `source_line`,
# the text of a line the reader could not split into columns).
ISSUE_COLUMNS = ("file", "line", "reason", "outcome")
SOURCE_LINE = "source_line"
_OWN = (*ISSUE_COLUMNS, SOURCE_LINE)
# The contract column whose value shows why a row failed; None: the whole line shows it.
REASON_COLUMN: dict[str, str | None] = {
    c.REJECT_MISSING_USER_ID: c.USER_ID,
    c.REJECT_UNPARSEABLE_TIME: c.EVENT_TIME,
    c.REJECT_FUTURE_TIME: c.EVENT_TIME,
    c.REJECT_MISSING_EVENT_TYPE: c.EVENT_TYPE,
    c.REJECT_UNPARSEABLE_AMOUNT: c.AMOUNT,
    c.REJECT_AMOUNT_OUT_OF_RANGE: c.AMOUNT,
    c.REJECT_INVALID_ENCODING: None,
    c.REJECT_MALFORMED_LINE: None,
    c.KEPT_AMOUNT_UNPARSEABLE: c.AMOUNT,
}
_BATCH_ROWS = 100_000


@dataclass(frozen=True)
class RowIssues:
    """Every listed row, in file order, and what could not be listed or numbered.

    `rows`: `ISSUE_COLUMNS`, the export's columns as written, `source_line`. `line` is the
    physical line (CSV: the header is line 1; JSON lines: the first line is 1; Parquet: the
    row's position, 1 = first); null where it cannot be known (see `unnumbered`).
    """

    rows: pd.DataFrame
    sources: dict[str, str]  # contract column → export column
    unnumbered: tuple[str, ...] = ()  # files whose rows could not be paired with lines
    unlisted: dict[str, int] = field(default_factory=dict)  # excluded by an adapter, by reason

    def samples(self, reason: str, count: int = 3) -> list[tuple[int | None, str]]:
        """The first `count` rows with `reason`: (line, the value that shows why)."""
        rows = self.rows[self.rows["reason"] == reason].head(count)
        contract_column = REASON_COLUMN.get(reason)
        column = self.sources.get(contract_column) if contract_column else None
        values = rows[column] if column in rows else rows[SOURCE_LINE]
        lines = [None if pd.isna(line) else int(line) for line in rows["line"]]
        return [(line, "" if pd.isna(v) else str(v)) for line, v in zip(lines, values, strict=True)]


def _flagged(
    backend: BaseBackend, raw: RawEvents, label: str, profile: ImportProfile
) -> tuple[pd.DataFrame, np.ndarray, int, dict[str, str]]:
    """Rows with an issue as a frame (export columns as given), their positions, rows read."""
    table = raw.table
    plan = profile.plan(table.columns, label)
    checked = check_rows(table, plan.sources, "duckdb", profile.strict_amounts, table.columns)
    # An export column named like one of ours (`line`, `file`) is listed as `export_<name>`.
    sourced = {
        f"_source_{i}": f"export_{name}" if name in _OWN else name
        for i, name in enumerate(table.columns)
    }
    frames, positions, read = [], [], 0
    query = backend.compile(checked.select(ISSUE, *sourced))
    reader = backend.con.sql(query).to_arrow_reader(_BATCH_ROWS)  # type: ignore[attr-defined]
    for batch in reader:
        has_issue = pc.is_valid(batch.column(ISSUE))
        chosen = np.flatnonzero(has_issue.to_numpy(zero_copy_only=False))
        if len(chosen):
            frames.append(batch.filter(has_issue).to_pandas())
            positions.append(chosen + read)
        read += batch.num_rows
    empty = pd.DataFrame(columns=[ISSUE, *sourced])
    flagged = pd.concat(frames, ignore_index=True) if frames else empty
    where = np.concatenate(positions) if positions else np.array([], dtype=np.int64)
    return flagged.rename(columns=sourced), where, read, plan.sources


def _file_issues(
    backend: BaseBackend, path: Path, fmt: str, profile: ImportProfile
) -> tuple[pd.DataFrame, dict[str, str], bool]:
    """One file's listed rows; False when its rows could not be paired with lines."""
    raw = read_raw(backend, EventFiles(root=path, paths=(path,), fmt=fmt))
    flagged, where, read, sources = _flagged(backend, raw, str(path), profile)
    skipped = raw.skipped_details()
    records = scan_records(path, quoted=fmt == "csv") if fmt != "parquet" else None
    if records is None:
        lines: np.ndarray | None = np.arange(1, read + 1)
    else:
        lines = records.row_lines({s.line for s in skipped}, header=fmt == "csv")
    numbered = lines is not None and len(lines) == read
    rows = _listed(flagged, str(path), lines[where] if numbered else None)  # type: ignore[index]
    unreadable = pd.DataFrame(
        {
            "file": str(path),
            # Paired with the scan, its physical line; else the reader's own number, which
            # is physical up to a quoted line break.
            "line": [records.physical(s.line) if records and numbered else s.line for s in skipped],
            "reason": [s.reason for s in skipped],
            "outcome": "rejected",
            SOURCE_LINE: [s.text for s in skipped],
        }
    )
    both = pd.concat([unreadable, rows], ignore_index=True) if len(skipped) else rows
    if numbered and len(skipped):
        both = both.sort_values("line", kind="stable", ignore_index=True)
    ordered = [*ISSUE_COLUMNS, *(col for col in rows.columns if col not in _OWN), SOURCE_LINE]
    return both[ordered], sources, numbered


def _listed(flagged: pd.DataFrame, file: str, lines: np.ndarray | None) -> pd.DataFrame:
    codes = flagged.pop(ISSUE).astype(int).to_numpy()
    head = pd.DataFrame(
        {
            "file": file,
            "line": pd.array(lines if lines is not None else [None] * len(codes), dtype="Int64"),
            "reason": [c.ROW_ISSUES[code] for code in codes],
            "outcome": np.where(codes < FIRST_KEPT_CODE, "rejected", "kept"),
        }
    )
    return pd.concat([head, flagged.reset_index(drop=True)], axis=1).assign(**{SOURCE_LINE: ""})


def find_row_issues(
    source: str | Path, *, fmt: str = "auto", import_profile: ImportProfile | None = None
) -> RowIssues:
    """Every row of `source` that loading (with the same profile) rejects or keeps with a
    missing amount, with its line, reason, outcome and values as written."""
    profile = import_profile or ImportProfile()
    backend = connect("duckdb")
    adapter = event_reader(source, fmt, profile)
    if adapter is not None:  # adapted rows come from many or no lines: listed without numbers
        adapted = adapter(Path(source))
        raw = RawEvents(register_frame(backend, "_adapted_events", adapted.events))
        flagged, _, _, sources = _flagged(backend, raw, str(source), profile)
        rows = _listed(flagged, str(source), None)
        return RowIssues(rows, sources, (str(source),), dict(adapted.rejected))
    files = discover(source)
    parts, unnumbered, sources = [], [], {}
    for path in files.paths:
        rows, sources, numbered = _file_issues(backend, path, files.fmt, profile)
        parts.append(rows)
        if not numbered:
            unnumbered.append(str(path))
    return RowIssues(pd.concat(parts, ignore_index=True), sources, tuple(unnumbered))
