"""Writing tables atomically: a reader sees the old file or the complete new one, never half.

Why: an interrupted `retain features` or `retain score` must not leave a truncated file that a
later job would read as if it were complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

SUPPORTED_SUFFIXES = (".parquet", ".csv")


def check_output_path(path: Path) -> None:
    """Fail early (before any work) on an output name whose format we cannot write."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise ValueError(
            f"{path}: unsupported output type {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def sweep_stale_temporaries(target: Path) -> list[Path]:
    """Remove temporaries beside `target` left by writers that were killed (SIGKILL, OOM).

    A killed writer cannot clean up after itself; its temporary is named with its process id
    (`.<name>.<pid>.<random>.tmp`), so the next write removes those whose process is gone
    and leaves a concurrent live writer's file alone.
    """
    removed = []
    for candidate in target.parent.glob(f".{target.name}.*.tmp"):
        pid = candidate.name[len(target.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def private_folder(parent: Path | None, kind: str) -> tempfile.TemporaryDirectory:
    """A temporary folder for a run's spill, removed when the run ends, however it ends
    short of SIGKILL; named `.<kind>-<pid>-<random>` so that the next run in `parent` (None:
    the system's temporary folder) removes those of killed runs, as `_atomic` does for files.

    Why: a streamed 10M-user run spills gigabytes; a run killed by the OOM killer or SIGKILL
    cannot clean up, and its folder would stay until someone notices the disk filling.
    """
    folder = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    for candidate in folder.glob(f".{kind}-*-*"):
        pid = candidate.name[len(kind) + 2 :].split("-", 1)[0]
        if candidate.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(candidate, ignore_errors=True)
    return tempfile.TemporaryDirectory(prefix=f".{kind}-{os.getpid()}-", dir=folder)


def _umask() -> int:
    """The process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temporary_beside(target: Path) -> Path:
    """A new, empty temporary file beside `target`, to be renamed over it once written.

    Killed writers' temporaries beside `target` are swept first; this one is named with this
    process's id, so the next writer sweeps it if this process is killed. It is created private
    (mkstemp: 0600) and opened up to the mode any new file gets (0666 less the umask) before it
    is written, so the output is as readable as one written with `open()`: a shared folder's
    group can read what `retain score` wrote.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temporaries(target)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent
    )
    try:
        os.fchmod(handle, 0o666 & ~_umask())
    finally:
        os.close(handle)
    return Path(temporary)


def _atomic(target: Path, write: Callable[[str], object]) -> Path:
    """Run `write(temporary_path)` beside `target` (`temporary_beside`), then rename over it
    (or clean up)."""
    temporary = temporary_beside(target)
    try:
        write(str(temporary))
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def write_frame(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write Parquet or CSV (by extension) to a temporary file beside `path`, then rename."""
    target = Path(path)
    check_output_path(target)
    if target.suffix.lower() == ".parquet":
        return _atomic(target, lambda temporary: frame.to_parquet(temporary, index=False))
    return _atomic(target, lambda temporary: frame.to_csv(temporary, index=False))


def write_text(text: str, path: str | Path) -> Path:
    """Write a text file (an HTML report) atomically, UTF-8."""
    return _atomic(Path(path), lambda temporary: Path(temporary).write_text(text, "utf-8"))
