"""A score file written batch by batch, atomically: readers see the old file or the whole new one.

Why not `features.write_frame`: a streamed run (serving/scoring/streaming.py) never holds the
whole table. Batches are appended to a temporary file beside the target
(`features.temporary_beside`, as `write_frame` writes: a killed run's leftover is swept by the
next write) and renamed over it once the last batch is in. A Parquet file carries `attrs` (the run's
decision summary) as `DataFrame.to_parquet` stores them, so `read_scores` gets them back; a CSV
file has no place for them, as with `write_frame`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features import check_output_path, temporary_beside

PANDAS_ATTRS = "PANDAS_ATTRS"  # the metadata key pandas reads DataFrame.attrs from


class ScoreWriter:
    """Appends score tables (same columns every batch) to `target`, a .parquet or .csv file."""

    def __init__(self, target: Path, attrs: dict[str, Any]) -> None:
        check_output_path(target)
        self.attrs = attrs
        self.target = Path(target)
        self.parquet = self.target.suffix.lower() == ".parquet"
        self.temporary = temporary_beside(self.target)
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._columns: list[str] | None = None
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        """Append one batch; its columns must be the first batch's."""
        if self._columns is None:
            self._columns = list(frame.columns)
        elif list(frame.columns) != self._columns:
            raise ValueError(f"batch columns {list(frame.columns)} differ from {self._columns}")
        if self.parquet:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._writer is None:
                attrs = {PANDAS_ATTRS: json.dumps(self.attrs)}
                self._schema = table.schema.with_metadata({**table.schema.metadata, **attrs})
                self._writer = pq.ParquetWriter(self.temporary, self._schema)
            self._writer.write_table(table.cast(self._schema))
        else:
            frame.to_csv(self.temporary, mode="a", header=self.rows == 0, index=False)
        self.rows += len(frame)

    def close(self) -> Path:
        """Finish the file and rename it over the target."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._columns is None:
            raise ValueError(f"{self.target}: no batch was written")
        os.replace(self.temporary, self.target)
        return self.target

    def abort(self) -> None:
        """Drop the temporary (nothing once `close` has renamed it)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.temporary.unlink(missing_ok=True)


def narrow_scores(path: Path) -> pd.DataFrame:
    """The columns a scoring run's manifest reads, from a (streamed) score file, text columns
    as categories: ~40 bytes a user instead of the whole table's ~1 KB, so that recording a
    ten-million-user run stays within a streamed run's memory."""
    from serving.scoring.manifest import COUNTED, QUANTILE_COLUMNS
    from serving.scoring.pipeline import VERSION_COLUMNS

    text = [*COUNTED, *VERSION_COLUMNS, "feature_set_id"]
    columns = [*text, *QUANTILE_COLUMNS]
    if Path(path).suffix.lower() == ".parquet":
        table = pq.read_table(path, columns=columns, read_dictionary=text)
        return table.to_pandas()
    return pd.read_csv(path, usecols=columns, dtype=dict.fromkeys(text, "category"))
