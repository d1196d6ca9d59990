"""Where Retain's feature build spends its time: DuckDB's own operator profile, per query.

Why: issue 20 asks that a missed feature-speed target be explained with a profile, not a guess.
This runs the query Ibis compiles for Retain's full feature set, for its nine core features and
the hand-written DuckDB SQL peer (benchmarks/peer_core_features.py) on the same Parquet file,
with DuckDB's JSON profiler on, and prints each query's time by operator kind (the operators'
own CPU time summed over threads, as DuckDB reports it), then the time spent turning the
result into pandas, which the profiler does not see.

    .venv/bin/python benchmarks/profile_features.py [--events PATH] [--repeat 3]

Not part of the test suite; run it on an otherwise idle machine. Loading and row checks are
done once before timing (they are the same for every query).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA

DEFAULT_EVENTS = DATA / "events_500000u_365d_s7.parquet"


def _operators(node: dict, totals: Counter) -> None:
    """Sum each operator kind's own timing over the profile tree (DuckDB 2.0's JSON layout:
    the root's `operator` list, then `type`, `timing` and `children` per node)."""
    for root in node.get("operator", []):
        _operators(root, totals)
    if "type" in node:
        totals[node["type"]] += float(node.get("timing", 0.0))
    for child in node.get("children", []):
        _operators(child, totals)


def profile(connection, sql: str, repeat: int) -> tuple[float, float, Counter]:
    """Best wall time of the query alone, of the fetch to pandas, and the operators' times."""
    best_query, best_fetch, totals = float("inf"), float("inf"), Counter()
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "profile.json"
        for _ in range(repeat):
            connection.execute("PRAGMA enable_profiling = 'json'")
            connection.execute(f"PRAGMA profiling_output = '{output}'")
            started = time.perf_counter()
            result = connection.sql(sql).to_arrow_table()
            queried = time.perf_counter()
            connection.execute("PRAGMA disable_profiling")
            result.to_pandas()
            fetched = time.perf_counter()
            if queried - started < best_query:
                best_query = queried - started
                totals = Counter()
                _operators(json.loads(output.read_text()), totals)
            best_fetch = min(best_fetch, fetched - queried)
    return best_query, best_fetch, totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=Path, default=DEFAULT_EVENTS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.events.exists():
        sys.exit(f"{args.events}: no such file (bench_features.py --users 500000 writes it)")

    import ibis
    import pyarrow.parquet as pq
    from bench_features import _cutoff
    from peer_core_features import core_features_sql

    from features import CORE_FEATURES, WindowConfig, feature_table, load_events

    events = load_events(args.events)
    cutoff = _cutoff(args.events)  # the feature benchmark's cutoff: 90 days before the end
    full = feature_table(events, cutoff, WindowConfig())
    queries = {
        "retain, full feature set": ibis.to_sql(full, dialect="duckdb"),
        "retain, 9 core features": ibis.to_sql(
            full.select("user_id", *CORE_FEATURES), dialect="duckdb"
        ),
    }
    queries["duckdb SQL peer, 9 core"] = core_features_sql(args.events, cutoff)
    connection = events.backend.con
    connection.execute("SET TimeZone = 'UTC'")  # as the peer runs; Retain's query is naive UTC
    print(f"{args.events.name}: {pq.ParquetFile(args.events).metadata.num_rows:,} events, "
          f"cutoff {cutoff:%Y-%m-%d}, best of {args.repeat}")  # fmt: skip
    for label, sql in queries.items():
        query_s, fetch_s, totals = profile(connection, str(sql), args.repeat)
        operators = sum(totals.values())
        print(f"\n{label}: query {query_s:.2f} s wall, fetch to pandas {fetch_s:.2f} s; "
              f"operators {operators:.2f} s (summed over threads)")  # fmt: skip
        for name, seconds in totals.most_common(8):
            print(f"  {name:<28}{seconds:7.2f} s  {seconds / max(operators, 1e-9):6.1%}")


if __name__ == "__main__":
    main()
