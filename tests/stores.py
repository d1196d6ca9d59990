"""Copying an MLflow SQLite store (database and artefacts) so a test may change its copy.

Why a helper: training champions costs seconds of CPU per model, and several test modules need
the same trained store in a fresh state per test (promotions and rollbacks move aliases, scoring
runs add runs). Training once and copying is the same store, bit for bit, minus the CPU.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

__all__ = ["copy_mlflow_store"]


def copy_mlflow_store(source: Path, target: Path, *ignored: str) -> None:
    """Copy the folder `source` (holding `mlflow.db` and its artefacts) to `target`.

    The SQLite database records absolute artefact paths, so every text column that names
    `source` is rewritten to name `target`; the original stays untouched. `ignored` are glob
    patterns of files not to copy (logs, caches).
    """
    ignore = shutil.ignore_patterns(*ignored) if ignored else None
    shutil.copytree(source, target, ignore=ignore, dirs_exist_ok=True)
    old, new = str(source), str(target)
    with sqlite3.connect(target / "mlflow.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for column in db.execute(f'PRAGMA table_info("{table}")').fetchall():
                name, kind = column[1], (column[2] or "").upper()
                if "CHAR" in kind or "TEXT" in kind:
                    db.execute(
                        f'UPDATE "{table}" SET "{name}" = replace("{name}", ?, ?) '
                        f'WHERE "{name}" LIKE ?',
                        (old, new, f"%{old}%"),
                    )
