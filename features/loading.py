"""Loading event logs into the event contract, counting every row that is rejected and why.

What a row means is decided by the row check (`row_checks.py`, in Ibis, the same on DuckDB and
Spark); this module decides where rows come from (files, adapters, frames, an import profile's
column mapping) and counts every outcome: rows rejected by reason, rows kept with a missing
amount by reason, export columns left unused by name.

Loading is lazy where re-reading is cheap: a query over Parquet re-reads and re-checks the rows
(columnar, fast) rather than paying to copy them all into the engine first. Text formats (CSV,
JSON lines) are parsed once and the checked rows cached on the engine, because re-parsing text
for every cutoff costs more than the features themselves. Parquet on DuckDB whose footers prove
every row clean (`parquet_stats.py`) is not even counted: the footers give the report.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from features import contract as c
from features.engines import connect, register_frame
from features.import_profile import ImportProfile
from features.parquet_stats import CleanRows, clean_rows
from features.row_checks import FIRST_KEPT_CODE, ISSUE, normalise
from features.sources import EventFiles, discover, read_raw

if TYPE_CHECKING:
    from features.adapters import AdaptedEvents

    Adapter = Callable[[Path], AdaptedEvents]

_FRAME_IDS = itertools.count()
_NO_PROFILE = ImportProfile()


@dataclass(frozen=True)
class LoadReport(c.RowCountSummary):
    """What loading did: rows read, rows accepted, and rejected rows counted by reason.

    `kept` counts accepted rows with a value set to missing, by reason (`amount_unparseable`);
    `ignored_columns` names the export's columns no contract column is read from.
    """

    source: str
    rows_read: int
    rows_accepted: int
    rejected: dict[str, int] = field(default_factory=dict)
    min_event_time: datetime | None = None
    max_event_time: datetime | None = None
    note: str = ""  # an adapter's account of how source rows became events
    kept: dict[str, int] = field(default_factory=dict)
    ignored_columns: tuple[str, ...] = ()

    def _more(self) -> list[str]:
        clauses = []
        if self.kept:
            reasons = ", ".join(f"{n:,} {reason}" for reason, n in self.kept.items())
            clauses.append(f"kept {sum(self.kept.values()):,} with a missing amount ({reasons})")
        if self.ignored_columns:
            n = len(self.ignored_columns)
            names = ", ".join(self.ignored_columns)
            clauses.append(f"ignored {n} column{'s' if n > 1 else ''} ({names})")
        return clauses


@dataclass(frozen=True)
class LoadedEvents:
    """A clean event table (contract columns, naive UTC timestamps) and how it was obtained."""

    table: ir.Table
    report: LoadReport
    backend: BaseBackend
    engine: str


def _clean_report(
    clean: CleanRows, source: str, note: str, ignored_columns: tuple[str, ...]
) -> LoadReport:
    """The report of a log whose every row is proven clean: all read, all accepted."""
    return LoadReport(
        source=source,
        rows_read=clean.rows,
        rows_accepted=clean.rows,
        min_event_time=clean.first_event_time,
        max_event_time=clean.last_event_time,
        note=note,
        ignored_columns=ignored_columns,
    )


def _report(
    annotated: ir.Table,
    source: str,
    extra_rejected: dict[str, int],
    note: str,
    ignored_columns: tuple[str, ...],
) -> LoadReport:
    """Count rows by outcome in one pass over the data."""
    issue = annotated[ISSUE]
    good = issue.isnull() | (issue >= FIRST_KEPT_CODE)
    time = annotated[c.EVENT_TIME]
    row = (
        annotated.aggregate(
            n=annotated.count(),
            lo=time.min(where=good),
            hi=time.max(where=good),
            **{f"_n_{i}": issue.count(where=issue == i) for i in range(len(c.ROW_ISSUES))},
        )
        .execute()
        .iloc[0]
    )
    counts = {reason: int(row[f"_n_{i}"]) for i, reason in enumerate(c.ROW_ISSUES)}
    rejected = dict(extra_rejected)
    for reason in c.REJECT_REASONS:
        if counts[reason]:
            rejected[reason] = rejected.get(reason, 0) + counts[reason]
    accepted = int(row["n"]) - sum(counts[reason] for reason in c.REJECT_REASONS)
    return LoadReport(
        source=source,
        rows_read=int(row["n"]) + sum(extra_rejected.values()),
        rows_accepted=accepted,
        rejected=rejected,
        min_event_time=as_datetime(row["lo"]) if accepted else None,
        max_event_time=as_datetime(row["hi"]) if accepted else None,
        note=note,
        kept={reason: counts[reason] for reason in c.KEPT_REASONS if counts[reason]},
        ignored_columns=ignored_columns,
    )


def as_datetime(value: object) -> datetime:
    """An engine's timestamp value (numpy, pandas or Python) as a Python datetime."""
    return pd.Timestamp(value).to_pydatetime()


def clean_events(
    raw: ir.Table,
    backend: BaseBackend,
    engine: str,
    source: str,
    extra_rejected: dict[str, int] | None = None,
    note: str = "",
    *,
    cache: bool = False,
    skipped_lines: Callable[[], dict[str, int]] | None = None,
    import_profile: ImportProfile | None = None,
    prove_clean: Callable[[Mapping[str, str]], CleanRows | None] | None = None,
) -> LoadedEvents:
    """Validate a raw table and count rejects; with `cache`, keep the checked rows on the engine.

    `skipped_lines` counts what the file reader skipped before any row existed; it is asked
    after the first pass over the rows, when the reader has seen every line. `prove_clean`
    (given the contract-to-raw column mapping) may prove every row clean without that pass.
    """
    extra_rejected = extra_rejected or {}
    import_profile = import_profile or _NO_PROFILE
    plan = import_profile.plan(raw.columns, source)
    annotated = normalise(raw, engine, plan.sources, strict_amounts=import_profile.strict_amounts)
    clean = prove_clean(plan.sources) if prove_clean and not extra_rejected else None
    if clean is not None:
        report = _clean_report(clean, source, note, plan.ignored)
        return LoadedEvents(annotated.drop(ISSUE), report, backend=backend, engine=engine)
    if cache:
        annotated = annotated.cache()
    report = _report(annotated, source, extra_rejected, note, plan.ignored)
    rejected_here = report.rows_rejected - sum(extra_rejected.values())
    if skipped_lines is not None and (skipped := skipped_lines()):
        rejected = dict(report.rejected)
        for reason, count in skipped.items():
            rejected[reason] = rejected.get(reason, 0) + count
        report = replace(
            report, rows_read=report.rows_read + sum(skipped.values()), rejected=rejected
        )
    # With nothing rejected (the usual case) later queries need no reject filter at all.
    if rejected_here:
        issue = annotated[ISSUE]
        annotated = annotated.filter(issue.isnull() | (issue >= FIRST_KEPT_CODE))
    return LoadedEvents(table=annotated.drop(ISSUE), report=report, backend=backend, engine=engine)


def event_reader(source: str | Path, fmt: str, import_profile: ImportProfile) -> Adapter | None:
    """The adapter that reads `source` (None: the file is in the contract already).

    A column mapping cannot apply to an adapter's fixed columns, so it is refused there.
    """
    from features.adapters import ADAPTERS, detect_adapter

    adapter = ADAPTERS.get(fmt) if fmt != "auto" else detect_adapter(Path(source))
    if fmt not in ("auto", "events") and adapter is None:
        known = ", ".join(("auto", "events", *ADAPTERS))
        raise c.EventContractError(f"unknown input format {fmt!r}; choose one of: {known}")
    if fmt == "events" or adapter is None:
        return None
    if import_profile.columns:
        name = next(key for key, value in ADAPTERS.items() if value is adapter)
        raise c.EventContractError(
            f"{source}: a column mapping cannot apply to the {name} format (its columns are "
            "fixed); map columns only for files in the event contract (--format events)"
        )
    return adapter


def load_events(
    source: str | Path,
    engine: str = "duckdb",
    *,
    fmt: str = "auto",
    backend: BaseBackend | None = None,
    import_profile: ImportProfile | None = None,
) -> LoadedEvents:
    """Read an event file or folder (or a known public format) into the contract.

    `import_profile` maps the export's column names to the contract's and says whether an
    unreadable amount rejects its row (`strict_amounts`) or keeps it with a missing amount.
    """
    backend = backend or connect(engine)
    import_profile = import_profile or _NO_PROFILE
    adapter = event_reader(source, fmt, import_profile)
    if adapter is not None:
        adapted = adapter(Path(source))
        loaded = from_frame(
            adapted.events,
            engine,
            source=str(source),
            backend=backend,
            extra_rejected=adapted.rejected,
            note=adapted.note,
            import_profile=import_profile,
        )
        # The adapter's own extra columns are not the export's: its note says what it read.
        return replace(loaded, report=replace(loaded.report, ignored_columns=()))
    files: EventFiles = discover(source)
    raw = read_raw(backend, files)
    # Spark's row check also rejects garbled text, which no footer can rule out: it counts.
    proof = files.fmt == "parquet" and engine == "duckdb"
    return clean_events(
        raw.table,
        backend,
        engine,
        files.label,
        cache=files.fmt != "parquet",
        skipped_lines=raw.skipped_lines,
        import_profile=import_profile,
        prove_clean=(lambda sources: clean_rows(files, sources)) if proof else None,
    )


def from_frame(
    events: pd.DataFrame,
    engine: str = "duckdb",
    *,
    source: str = "in-memory events",
    backend: BaseBackend | None = None,
    extra_rejected: dict[str, int] | None = None,
    note: str = "",
    import_profile: ImportProfile | None = None,
) -> LoadedEvents:
    """Load an in-memory frame (tests, adapters, the service's snapshot) through the same checks."""
    backend = backend or connect(engine)
    import_profile = import_profile or _NO_PROFILE
    import_profile.plan([str(name) for name in events.columns], source)  # fail before copying
    raw = register_frame(backend, f"_raw_events_{next(_FRAME_IDS)}", events)
    return clean_events(
        raw, backend, engine, source, extra_rejected, note, import_profile=import_profile
    )
