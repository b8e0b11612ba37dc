#!/usr/bin/env python3
"""Redraw dynosim's "p99 latency and monthly cost per sweep point" figure with pandas and matplotlib.

Shows how to load an output folder in a notebook: summary.csv is tidy (one row per job x app x
process type), every sweep key is a column of its own, and manifest.json names the sweep keys.

    python3 examples/plot_p99.py outputs/quickstart            # writes outputs/quickstart/p99_pandas.png
    python3 examples/plot_p99.py outputs/tiers --out tiers.png

Exits non-zero if the folder cannot be read or has no completed requests.
"""

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def load(folder: Path) -> tuple[pd.DataFrame, list[str], str]:
    """summary.csv, the sweep keys (column names), and the scenario name."""
    summary = pd.read_csv(folder / "summary.csv")
    manifest = json.loads((folder / "manifest.json").read_text())
    keys = manifest["sweep_keys"]
    missing = [k for k in keys if k not in summary.columns]
    if missing:
        raise SystemExit(f"summary.csv lacks the sweep columns {missing}")
    return summary, keys, manifest["scenario"]


def per_point(summary: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per sweep point: p99 mean/min/max over replications (processes with traffic), cost."""
    traffic = summary[summary.requests > 0]
    p99 = traffic.groupby("point").agg(
        p99_mean=("p99_ms", "mean"),
        p99_min=("p99_ms", "min"),
        p99_max=("p99_ms", "max"),
        errors=("errors", "sum"),
        requests=("requests", "sum"),
    )
    # Cost of the whole formation (every process type) in one replication.
    first = summary[summary.replication == summary.replication.min()]
    cost = first.groupby("point").cost_usd_month.sum()
    labels = summary.groupby("point")[keys].first().astype(str).agg(" · ".join, axis=1) if keys else None
    table = p99.join(cost)
    table["label"] = labels if labels is not None else table.index.astype(str)
    table["error_rate"] = table.errors / table.requests
    return table


def draw(table: pd.DataFrame, scenario: str, keys: list[str], out: Path) -> None:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, height_ratios=[3, 2])
    x = range(len(table))
    ok = table.p99_mean.notna()
    top.errorbar(
        [i for i, k in zip(x, ok) if k],
        table.p99_mean[ok],
        yerr=[(table.p99_mean - table.p99_min)[ok], (table.p99_max - table.p99_mean)[ok]],
        fmt="o-",
        capsize=4,
        label="p99, mean of replications (bars: min to max)",
    )
    top.set_yscale("log")
    top.set_ylabel("p99 latency (ms, log scale)")
    top.grid(True, which="both", alpha=0.3)
    for i, (_, row) in enumerate(table.iterrows()):
        if row.error_rate >= 0.001:
            top.annotate(f"{row.error_rate:.0%} err", (i, 1), xycoords=("data", "axes fraction"),
                         xytext=(0, -14), textcoords="offset points", ha="center", color="red")
    top.legend(loc="lower left")
    bottom.bar(x, table.cost_usd_month, color="0.6")
    bottom.set_ylabel("cost (USD per month)")
    bottom.set_xticks(list(x), table.label, rotation=30 if len(table) > 6 else 0, ha="right" if len(table) > 6 else "center")
    bottom.set_xlabel("sweep point (" + " · ".join(k.split(".")[-1] for k in keys) + ")")
    fig.suptitle(f"p99 latency and monthly cost per sweep point — {scenario} (pandas)")
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, nargs="?", default=Path("outputs/quickstart"))
    ap.add_argument("--out", type=Path, help="PNG to write (default: FOLDER/p99_pandas.png)")
    args = ap.parse_args()
    summary, keys, scenario = load(args.folder)
    table = per_point(summary, keys)
    if table.p99_mean.isna().all():
        print("no completed requests in this output", file=sys.stderr)
        return 1
    print(table[["label", "p99_mean", "p99_min", "p99_max", "error_rate", "cost_usd_month"]].to_string())
    out = args.out or args.folder / "p99_pandas.png"
    draw(table, scenario, keys, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
