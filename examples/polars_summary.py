#!/usr/bin/env python3
"""A notebook-style look at a dynosim output folder written with `--format parquet` (or `both`),
with polars: each cell below is what you would type into a notebook, one step at a time.

The Parquet tables carry their types (docs/csv.md, "Parquet"): counts are Int64, `seed` is
UInt64, times and latencies Float64, names Utf8, and an empty CSV cell is a null; so nothing
needs a schema override, unlike reading the CSVs.

    dynosim run scenarios/quickstart.toml --format parquet --requests --out outputs/quickstart-pq
    python3 examples/polars_summary.py outputs/quickstart-pq

Prints, per sweep point and process: replications, mean p99 (ms), its spread, monthly cost, and
(with --requests) the share of requests slower than 250 ms, computed lazily from
requests.parquet, which is scanned by row groups and never loaded whole. Exits non-zero if the
folder has no summary.parquet.
"""

import argparse
import json
import sys
from pathlib import Path

import polars as pl


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="an output folder with summary.parquet")
    parser.add_argument("--slow-ms", type=float, default=250.0, help="threshold for 'slow'")
    args = parser.parse_args()
    folder: Path = args.folder
    if not (folder / "summary.parquet").exists():
        print(f"{folder} has no summary.parquet (run with --format parquet or both)", file=sys.stderr)
        return 1

    # %% The sweep keys: columns of their own, named in the manifest.
    manifest = json.loads((folder / "manifest.json").read_text())
    keys: list[str] = manifest["sweep_keys"]

    # %% summary: one row per job x process; types come with the file.
    summary = pl.read_parquet(folder / "summary.parquet")
    assert summary.schema["seed"] == pl.UInt64 and summary.schema["p99_ms"] == pl.Float64

    # %% Per sweep point and process: the replications' p99 and the cost.
    table = (
        summary.group_by(["point", *keys, "app", "process"], maintain_order=True)
        .agg(
            pl.len().alias("replications"),
            pl.col("p99_ms").mean().alias("p99_ms"),
            pl.col("p99_ms").std().alias("p99_sd_ms"),
            pl.col("cost_usd_month").first().alias("cost_usd_month"),
        )
        .sort("point")
    )

    # %% With --requests: the share of slow requests, from a lazy scan (flat memory).
    requests = folder / "requests.parquet"
    if requests.exists():
        slow = (
            pl.scan_parquet(requests)
            .filter(pl.col("status") == "ok")
            .group_by(["point", "app", "process"])
            .agg((pl.col("latency_ms") > args.slow_ms).mean().alias(f"share_over_{args.slow_ms:g}ms"))
            .collect()
        )
        table = table.join(slow, on=["point", "app", "process"], how="left")

    # %% Show it.
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=160):
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
