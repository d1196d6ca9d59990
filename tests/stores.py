"""Copying MLflow SQLite stores, so a test starts from one without paying to build it.

Why: training champions costs seconds of CPU per model, and several test modules need the same
trained store in a fresh state per test (promotions and rollbacks move aliases, scoring runs add
runs). Training once and copying is the same store, bit for bit, minus the CPU. Likewise an
empty store: MLflow creates one by running its ~100 schema migrations (~1 CPU s, more on a
loaded machine), while a copy of a migrated empty database is a store at the current schema
in which MLflow migrates nothing.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

__all__ = ["copy_mlflow_store", "create_empty_mlflow_db", "new_mlflow_store"]


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


def create_empty_mlflow_db(path: Path) -> None:
    """An MLflow SQLite database at `path` with its schema and nothing else (MLflow's own
    migrations, run once). Artefacts never go beside it: each test's experiments are created
    beside its own copy."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    artifacts = (path.parent / "unused-artifacts").as_uri()
    SqlAlchemyStore(f"sqlite:///{path}", artifacts).engine.dispose()


def new_mlflow_store(folder: Path, empty_db: Path) -> str:
    """A new, empty store in `folder` (a copy of `empty_db`); returns its tracking URI."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(empty_db, folder / "mlflow.db")
    return f"sqlite:///{folder / 'mlflow.db'}"
