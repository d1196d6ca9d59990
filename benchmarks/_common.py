"""Helpers shared by the benchmarks: child processes with their own peak memory, cached inputs.

Why children: each implementation runs in a fresh process so its peak RSS is its own and no
import or cache of one side warms the other.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / ".data"


def peak_gb() -> float:
    """Peak resident memory of this process in GiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def reset_peak() -> None:
    """Start the peak-memory count again from the current resident size (Linux clear_refs).

    Why: a benchmark that sets up in the same process (a model trained on a sample) would
    otherwise report the set-up's peak as the measured step's; `step_peak_gb` reads the peak
    since this call.
    """
    Path("/proc/self/clear_refs").write_text("5")


def step_peak_gb() -> float:
    """Peak resident memory in GiB since the last `reset_peak` (VmHWM; KiB in /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_child(script: Path, args: list[str]) -> dict:
    """Run `script --worker ...` in a fresh interpreter; it prints one JSON line last."""
    result = subprocess.run(
        [sys.executable, str(script), "--worker", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"worker {args[:1]} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def verdict(ok: bool) -> str:
    """What a target line ends with."""
    return "met" if ok else "NOT met"


def simulated_events(users: int, days: int, seed: int = 7) -> Path:
    """A simulated log cached under benchmarks/.data (the same arguments give the same file)."""
    from simulator.simulation import SimulationConfig, write_simulation

    path = DATA / f"events_{users}u_{days}d_s{seed}.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        write_simulation(SimulationConfig(users=users, days=days, seed=seed), path)
    return path


def record(
    measure: str, value: float, unit: str, target: str = "", met: bool | None = None
) -> None:
    """Append one headline figure for `benchmarks/run_all.py` (a no-op when run on its own).

    `run_all.py` sets RETAIN_BENCH_RESULTS to a JSON-lines file; each benchmark records the
    numbers its issue names, the target, and whether it was met.
    """
    import os

    path = os.environ.get("RETAIN_BENCH_RESULTS")
    if not path:
        return
    row = {"measure": measure, "value": value, "unit": unit, "target": target, "met": met}
    with open(path, "a") as handle:
        handle.write(json.dumps(row) + "\n")
