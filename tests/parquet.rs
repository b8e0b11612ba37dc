//! `--format csv|parquet|both`: the Parquet tables hold exactly the CSVs' columns and values,
//! typed (read back with pyarrow, as a user would); `--format parquet` writes no CSV; `merge`
//! and `plot` read a folder that holds only Parquet, and give the bytes a single run gives; the
//! Parquet bytes do not depend on the thread count or the shard split; a bad `--format` is a
//! usage error.
//!
//! The pyarrow test needs python3 with pyarrow (.ci/run installs it): without it the test says
//! so and returns, except under `CI=true`, where it fails.

mod cli_support;

use cli_support::{dynosim, ok};
use dynosim::output::{Kind, Table, kinds_of};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

const CHECKOUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/checkout-trace.toml");

/// A small sweep (a sweep key column) with a deploy (lifecycle events, whose rows have empty
/// cells), two replications, and endpoints.
const DEPLOYS: &str = r#"
name = "deploys"
seed = 7
duration = "6m"
warmup = "30s"
window = "1m"
replications = 2

[[app]]
name = "shop"
deploys = ["3m"]

[[app.process]]
type = "web"
size = "standard-1x"
count = 2
concurrency = 2

[app.workload]
arrivals = { poisson = 15.0 }
cpu = { lognormal = { median = "20ms", p99 = "150ms" } }
wait = { constant = "10ms" }

[sweep]
"app.shop.process.web.count" = [2, 3]
"#;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn manifest_files(dir: &Path) -> Vec<String> {
    let text = fs::read_to_string(dir.join("manifest.json")).expect("manifest");
    let m: serde_json::Value = serde_json::from_str(&text).expect("json");
    m["files"]
        .as_object()
        .expect("files")
        .keys()
        .cloned()
        .collect()
}

/// Compares every Parquet table of a folder with its CSV, cell by cell: same column names in the
/// same order, the type each column's kind says (and the issue's rules: `seed` uint64, `_s` and
/// `_ms` float64), a null exactly where the CSV cell is empty, and otherwise the CSV's value
/// (integers exactly, floats as Python parses the CSV text, strings as they are). Prints
/// `tables rows nulls`.
const COMPARE: &str = r#"
import csv, json, pathlib, sys
import pyarrow as pa
import pyarrow.parquet as pq

folder = pathlib.Path(sys.argv[1])
expected = json.loads(sys.argv[2])
types = {"int64": pa.int64(), "uint64": pa.uint64(), "float64": pa.float64(), "string": pa.string()}
tables = rows = nulls = 0
for path in sorted(folder.glob("*.parquet")):
    table = pq.read_table(path)
    with open(path.with_suffix(".csv"), newline="") as f:
        records = list(csv.reader(f))
    header, body = records[0], records[1:]
    assert table.column_names == header, (path.name, table.column_names, header)
    assert table.num_rows == len(body), (path.name, table.num_rows, len(body))
    kinds = expected[path.name]
    for i, name in enumerate(header):
        column = table.column(name)
        want = types[kinds.get(name, "string")]
        assert column.type == want, (path.name, name, str(column.type), str(want))
        if name == "seed":
            assert column.type == pa.uint64(), (path.name, name)
        if name.endswith("_s") or name.endswith("_ms"):
            assert column.type == pa.float64(), (path.name, name)
        for line, (record, value) in enumerate(zip(body, column.to_pylist()), start=2):
            cell = record[i]
            where = (path.name, line, name, cell, value)
            if cell == "":
                assert value is None, where
                nulls += 1
            elif want in (pa.int64(), pa.uint64()):
                assert value == int(cell), where
            elif want == pa.float64():
                assert value == float(cell), where
            else:
                assert value == cell, where
    tables += 1
    rows += len(body)
print(tables, rows, nulls)
"#;

/// The Parquet (pyarrow) type of a column of this kind.
fn type_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Int => "int64",
        Kind::UInt => "uint64",
        Kind::Float(_) => "float64",
        Kind::Text => "string",
    }
}

/// The Parquet type of every known column of every table, from the column definitions.
fn expected_types() -> String {
    let mut all = BTreeMap::new();
    for table in Table::ALL {
        let cols: BTreeMap<&str, &str> = kinds_of(table)
            .into_iter()
            .map(|(name, kind)| (name, type_name(kind)))
            .collect();
        all.insert(table.parquet_file(), cols);
    }
    serde_json::to_string(&all).expect("json")
}

/// Whether python3 can import pyarrow; under CI=true it must.
fn have_pyarrow() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but python3 cannot import pyarrow: .ci/run installs it \
             (examples/requirements.txt)"
        );
        eprintln!("skipped: python3 with pyarrow is not installed (pip install pyarrow)");
    }
    found
}

/// (tables, rows, nulls) compared in `dir`.
fn compare_with_pyarrow(dir: &Path) -> (u64, u64, u64) {
    let out = Command::new("python3")
        .args(["-c", COMPARE, s(dir), &expected_types()])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the Parquet tables of {} differ from the CSVs:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let n: Vec<u64> = text
        .split_whitespace()
        .map(|w| w.parse().expect("a count"))
        .collect();
    (n[0], n[1], n[2])
}

#[test]
fn both_writes_parquet_tables_equal_to_every_csv_and_leaves_the_csvs_unchanged() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let deploys = tmp.path().join("deploys.toml");
    fs::write(&deploys, DEPLOYS).expect("write");
    for (scenario, name) in [
        (Path::new(CHECKOUT), "checkout"),
        (deploys.as_path(), "deploys"),
    ] {
        let both = tmp.path().join(format!("{name}-both"));
        let csv = tmp.path().join(format!("{name}-csv"));
        ok(&[
            "run",
            s(scenario),
            "--out",
            s(&both),
            "--requests",
            "--quiet",
        ]
        .into_iter()
        .chain(["--format", "both"])
        .collect::<Vec<_>>());
        ok(&[
            "run",
            s(scenario),
            "--out",
            s(&csv),
            "--requests",
            "--quiet",
        ]);
        let files = names_in(&both);
        for table in Table::ALL {
            assert!(files.iter().any(|f| f == table.file()), "{name}: {files:?}");
            assert!(
                files.iter().any(|f| f == table.parquet_file()),
                "{name}: {files:?}"
            );
            // The default format writes exactly what it wrote before: byte-identical CSVs.
            assert_eq!(
                fs::read(both.join(table.file())).expect("csv"),
                fs::read(csv.join(table.file())).expect("csv"),
                "{name}: {} differs between --format both and csv",
                table.file()
            );
        }
        assert!(
            !names_in(&csv).iter().any(|f| f.ends_with(".parquet")),
            "--format csv writes no Parquet"
        );
        let recorded = manifest_files(&both);
        for table in Table::ALL {
            assert!(
                recorded.iter().any(|f| f == table.parquet_file()),
                "{recorded:?}"
            );
            assert!(recorded.iter().any(|f| f == table.file()), "{recorded:?}");
        }
        if !have_pyarrow() {
            return;
        }
        let (tables, rows, nulls) = compare_with_pyarrow(&both);
        assert_eq!(tables, 8, "{name}: every table compared");
        assert!(rows > 1000, "{name}: {rows} rows compared");
        assert!(nulls > 0, "{name}: empty cells are nulls ({nulls} seen)");
    }
}

#[test]
fn parquet_only_writes_no_csv_and_plot_and_merge_read_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let deploys = tmp.path().join("deploys.toml");
    fs::write(&deploys, DEPLOYS).expect("write");
    let d = |n: &str| tmp.path().join(n);
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec!["run", s(&deploys), "--out", s(out), "--requests", "--quiet"];
        args.extend_from_slice(extra);
        ok(&args);
    };
    run(&d("p1"), &["--format", "parquet", "--threads", "1"]);
    run(&d("p2"), &["--format", "parquet", "--threads", "2"]);
    run(&d("c"), &[]);
    run(&d("s"), &["--format", "parquet", "--shard", "0/3"]);
    run(&d("s"), &["--format", "parquet", "--shard", "1/3"]);
    run(&d("s"), &["--format", "parquet", "--shard", "2/3"]);

    let files = names_in(&d("p1"));
    assert!(!files.iter().any(|f| f.ends_with(".csv")), "{files:?}");
    let recorded = manifest_files(&d("p1"));
    let parquet: Vec<String> = Table::ALL
        .iter()
        .map(|t| t.parquet_file().to_string())
        .collect();
    let mut want = parquet.clone();
    want.sort();
    assert_eq!(
        recorded, want,
        "the manifest records the Parquet files only"
    );
    // The plots were drawn from the same rows: the same bytes as the CSV run's.
    for f in files.iter().filter(|f| f.ends_with(".svg")) {
        assert_eq!(
            fs::read(d("p1").join(f)).expect("svg"),
            fs::read(d("c").join(f)).expect("svg"),
            "{f}"
        );
    }

    let shards: Vec<String> = (0..3)
        .map(|k| s(&d(&format!("s.shard-{k}-of-3"))).to_string())
        .collect();
    let merge = |out: &Path, extra: &[&str]| {
        let mut args = vec!["merge"];
        args.extend(shards.iter().map(String::as_str));
        args.extend(["--out", s(out), "--quiet"]);
        args.extend_from_slice(extra);
        ok(&args);
    };
    merge(&d("m"), &[]);
    merge(&d("mc"), &["--format", "csv"]);
    for table in Table::ALL {
        let one = fs::read(d("p1").join(table.parquet_file())).expect("parquet");
        assert_eq!(
            one,
            fs::read(d("p2").join(table.parquet_file())).expect("parquet"),
            "{}: the same bytes at 1 and 2 threads",
            table.parquet_file()
        );
        assert_eq!(
            one,
            fs::read(d("m").join(table.parquet_file())).expect("parquet"),
            "{}: the merged Parquet shards give a single run's bytes",
            table.parquet_file()
        );
        assert_eq!(
            fs::read(d("c").join(table.file())).expect("csv"),
            fs::read(d("mc").join(table.file())).expect("csv"),
            "{}: merged from Parquet shards into CSV, a single run's bytes",
            table.file()
        );
    }
    assert!(!names_in(&d("m")).iter().any(|f| f.ends_with(".csv")));
    assert!(!names_in(&d("mc")).iter().any(|f| f.ends_with(".parquet")));

    // `plot` on a folder that holds only Parquet draws the figures the CSV folder gets.
    let p = d("p1");
    for f in files
        .iter()
        .filter(|f| f.ends_with(".png") || f.ends_with(".svg"))
    {
        fs::remove_file(p.join(f)).expect("remove");
    }
    ok(&["plot", s(&p)]);
    for f in files.iter().filter(|f| f.ends_with(".svg")) {
        assert_eq!(
            fs::read(p.join(f)).expect("redrawn svg"),
            fs::read(d("c").join(f)).expect("svg"),
            "{f} redrawn from Parquet"
        );
    }
}

#[test]
fn a_damaged_parquet_shard_is_refused_by_merge() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let deploys = tmp.path().join("deploys.toml");
    fs::write(&deploys, DEPLOYS).expect("write");
    let base = tmp.path().join("s");
    for k in ["0/2", "1/2"] {
        ok(&["run", s(&deploys), "--out", s(&base), "--quiet"]
            .into_iter()
            .chain(["--format", "parquet", "--shard", k])
            .collect::<Vec<_>>());
    }
    let s0 = tmp.path().join("s.shard-0-of-2");
    let s1 = tmp.path().join("s.shard-1-of-2");
    let f = s1.join("windows.parquet");
    let mut bytes = fs::read(&f).expect("read");
    bytes.truncate(bytes.len() / 2);
    fs::write(&f, bytes).expect("write");
    let out = tmp.path().join("m");
    let r = dynosim(&["merge", s(&s0), s(&s1), "--out", s(&out)]);
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("windows.parquet"), "{err}");
    assert!(!out.exists(), "nothing written");
}

#[test]
fn a_bad_format_is_a_usage_error_that_names_the_choices() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("o");
    for cmd in [
        vec!["run", CHECKOUT, "--out", s(&out), "--format", "x"],
        vec!["merge", "a.shard-0-of-1", "--out", s(&out), "--format", "x"],
    ] {
        let r = dynosim(&cmd);
        assert_eq!(r.status.code(), Some(2), "{cmd:?}");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(
            err.contains("'x'") && err.contains("--format") && err.contains("csv, parquet, both"),
            "{err}"
        );
        assert!(!out.exists(), "nothing written");
    }
}

const PLAN_SHOP: &str = r#"name = "plan-shop"
seed = 11
duration = "150s"
warmup = "30s"
noise = "off"

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "standard-1x"
count = 2

[app.workload]
arrivals = { poisson = 40.0 }
cpu = { exponential = "40ms" }
"#;

#[test]
fn plan_writes_plan_parquet_beside_or_instead_of_plan_csv() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("shop.toml");
    fs::write(&file, PLAN_SHOP).expect("write");
    let plan = |out: &Path, format: &str| {
        ok(&[
            "plan",
            s(&file),
            "--slo",
            "p95<=230ms",
            "--sizes",
            "standard-1x",
            "--counts",
            "1..4",
            "--out",
            s(out),
            "--quiet",
            "--format",
            format,
        ]);
    };
    let (both, only) = (tmp.path().join("both"), tmp.path().join("only"));
    plan(&both, "both");
    plan(&only, "parquet");
    assert_eq!(manifest_files(&both), ["plan.csv", "plan.parquet"]);
    assert_eq!(manifest_files(&only), ["plan.parquet"]);
    assert!(!only.join("plan.csv").exists());
    assert_eq!(
        fs::read(both.join("plan.parquet")).expect("parquet"),
        fs::read(only.join("plan.parquet")).expect("parquet"),
        "the same plan gives the same Parquet bytes"
    );
    if !have_pyarrow() {
        return;
    }
    // The types plan.csv's columns declare, and every cell equal to plan.csv's.
    let kinds: BTreeMap<&str, &str> = dynosim::plan::report::PLAN_COLUMNS
        .iter()
        .map(|(name, kind)| (*name, type_name(*kind)))
        .collect();
    let expected = serde_json::to_string(&BTreeMap::from([("plan.parquet", kinds)])).expect("json");
    let out = Command::new("python3")
        .args(["-c", COMPARE, s(&both), &expected])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("1 "));
}
