"""All benchmarks in one command, one table: each figure against its issue's target.

    .venv/bin/python benchmarks/run_all.py            # default sizes (about an hour; the
                                                      # 10M-user log is simulated once, 33 min)
    .venv/bin/python benchmarks/run_all.py --quick    # small sizes, to check the plumbing

Each benchmark runs as its own process (its own peak memory, nothing warm from another) and
records its headline figures through `_common.record`; this script prints them together.
Not part of the test suite: timings belong on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# (script, arguments at full size, arguments for --quick)
SUITE: tuple[tuple[str, list[str], list[str]], ...] = (
    ("bench_features.py", [], ["--users", "50000", "--days", "120"]),
    ("bench_training.py", [], ["--users", "40000", "--rows", "50000"]),
    (
        "bench_scoring.py",
        [],
        ["--users", "20000", "--requests", "300", "--treeshap-users", "20000"],
    ),
    ("bench_load.py", [], ["--seconds", "10"]),
    (
        "bench_capacity.py",  # 10M users streamed: the log takes ~33 min to simulate, once
        ["--stream-users", "10000000", "--memory-gb", "4", "--reasons", "treeshap"],
        ["--stream-users", "200000", "--memory-gb", "4", "--reasons", "treeshap"],
    ),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (plumbing check)")
    parser.add_argument("--only", nargs="*", help="run only these scripts (e.g. bench_training)")
    args = parser.parse_args()
    results = Path(tempfile.mkstemp(prefix="retain-bench-", suffix=".jsonl")[1])
    env = {**os.environ, "RETAIN_BENCH_RESULTS": str(results)}
    failed = []
    for script, full, quick in SUITE:
        if args.only and Path(script).stem not in args.only:
            continue
        if not (HERE / script).exists():
            failed.append(f"{script} (missing)")
            continue
        started = time.perf_counter()
        print(f"== {script} {' '.join(quick if args.quick else full)}", flush=True)
        code = subprocess.run(
            [sys.executable, str(HERE / script), *(quick if args.quick else full)], env=env
        ).returncode
        print(f"== {script}: exit {code} after {time.perf_counter() - started:.0f}s\n", flush=True)
        if code:
            failed.append(script)
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    print(f"{'measure':<52}{'value':>12} {'unit':<12}{'target':<12}{'':>8}")
    for row in rows:
        met = {True: "met", False: "NOT met", None: ""}[row["met"]]
        print(
            f"{row['measure']:<52}{row['value']:>12,.2f} {row['unit']:<12}{row['target']:<12}{met:>8}"
        )
    print(f"\nmachine load while measuring: {os.getloadavg()[0]:.2f} (1-min average, 2 cores)")
    if failed:
        sys.exit(f"benchmarks that failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
