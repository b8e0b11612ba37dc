#!/usr/bin/env python3
"""Redraw dynosim's "p99 latency and monthly cost per sweep point" figure with pandas and matplotlib.

Shows how to load an output folder in a notebook: summary.csv is tidy (one row per job x app x
process type), every sweep key is a column of its own, and manifest.json names the sweep keys.
Each process (app/process) is its own series: a callee's p99 (an API the web process calls) is
never pooled with its caller's, whose p99 already includes the calls' round trips.

    python3 examples/plot_p99.py outputs/quickstart            # writes outputs/quickstart-p99.png
    python3 examples/plot_p99.py outputs/tiers --out tiers.png

The figure goes beside the output folder by default, not into it: `dynosim run` refuses to
replace a folder holding files it did not write, so a figure inside would block the next run.

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
    summary["series"] = summary.app + "/" + summary.process
    return summary, keys, manifest["scenario"]


def per_process(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per sweep point x process with traffic: p99 mean/min/max over replications and
    the error rate (errors over requests, replications pooled)."""
    traffic = summary[summary.requests > 0]
    table = traffic.groupby(["series", "point"]).agg(
        p99_mean=("p99_ms", "mean"),
        p99_min=("p99_ms", "min"),
        p99_max=("p99_ms", "max"),
        errors=("errors", "sum"),
        requests=("requests", "sum"),
    )
    table["error_rate"] = table.errors / table.requests
    return table.reset_index()


def per_point(summary: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per sweep point: its label (the swept values) and the monthly cost of the whole
    formation (every process type) in one replication."""
    first = summary[summary.replication == summary.replication.min()]
    table = first.groupby("point").cost_usd_month.sum().to_frame()
    if keys:
        table["label"] = summary.groupby("point")[keys].first().astype(str).agg(" · ".join, axis=1)
    else:
        table["label"] = table.index.astype(str)
    return table


def percent(rate: float) -> str:
    """An error rate with enough digits that a non-zero rate never reads as 0%."""
    pct = 100 * rate
    return f"{pct:.0f}%" if pct >= 10 else f"{pct:.2g}%"


def draw(processes: pd.DataFrame, points: pd.DataFrame, scenario: str, keys: list[str], out: Path) -> None:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, height_ratios=[3, 2])
    position = {p: i for i, p in enumerate(points.index)}
    names = sorted(processes.series.unique())
    width = 0.3  # the series of one point spread over this much of the x axis
    for n, name in enumerate(names):
        rows = processes[(processes.series == name) & processes.p99_mean.notna()]
        shift = (n - (len(names) - 1) / 2) * width / max(len(names) - 1, 1)
        x = [position[p] + shift for p in rows.point]
        bars = top.errorbar(
            x,
            rows.p99_mean,
            yerr=[rows.p99_mean - rows.p99_min, rows.p99_max - rows.p99_mean],
            fmt="o-",
            capsize=3,
            label=name,
        )
        colour = bars.lines[0].get_color()
        for xi, (_, row) in zip(x, rows.iterrows()):
            if row.errors > 0:
                top.annotate(f"{percent(row.error_rate)} err", (xi, row.p99_max), xytext=(0, 6),
                             textcoords="offset points", ha="center", fontsize=8, color=colour)
    top.set_yscale("log")
    top.margins(y=0.12)  # room for the error-rate labels above the highest points
    top.set_ylabel("p99 latency (ms, log scale)")
    top.grid(True, which="both", alpha=0.3)
    top.legend(title="app/process (mean of replications; bars: min to max)", loc="best", fontsize=8,
               title_fontsize=8)
    x = list(range(len(points)))
    bottom.bar(x, points.cost_usd_month, color="0.6")
    bottom.set_ylabel("formation cost (USD per month)")
    many = len(points) > 6
    bottom.set_xticks(x, points.label, rotation=30 if many else 0, ha="right" if many else "center")
    bottom.set_xlabel("sweep point (" + " · ".join(k.split(".")[-1] for k in keys) + ")" if keys else "sweep point")
    fig.suptitle(f"p99 latency per process and monthly cost per sweep point — {scenario} (pandas)")
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def default_out(folder: Path) -> Path:
    """`<folder>-p99.png` beside the folder (outputs/quickstart -> outputs/quickstart-p99.png)."""
    folder = folder.resolve()
    return folder.with_name(folder.name + "-p99.png")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, nargs="?", default=Path("outputs/quickstart"))
    ap.add_argument("--out", type=Path, help="PNG to write (default: FOLDER-p99.png beside the folder)")
    args = ap.parse_args()
    summary, keys, scenario = load(args.folder)
    processes = per_process(summary)
    if processes.p99_mean.isna().all():
        print("no completed requests in this output", file=sys.stderr)
        return 1
    points = per_point(summary, keys)
    shown = processes.merge(points.label, left_on="point", right_index=True)
    print(shown[["series", "label", "p99_mean", "p99_min", "p99_max", "error_rate"]].to_string(index=False))
    out = args.out or default_out(args.folder)
    if out.resolve().is_relative_to(args.folder.resolve()):
        print(f"warning: {out} is inside the output folder: the next `dynosim run` into "
              f"{args.folder} will refuse to replace it until the figure is moved", file=sys.stderr)
    draw(processes, points, scenario, keys, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
