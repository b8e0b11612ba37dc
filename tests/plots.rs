//! Plots through the CLI: drawn for every bundled scenario, readable PNGs of the right size and
//! SVGs, redrawn identically from the CSVs by `dynosim plot`; and the tiers' ordering under the
//! default noise, as the plots are meant to show it.

mod cli_support;
use cli_support::{dynosim, ok};

use std::path::{Path, PathBuf};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Decode a PNG: its size, and the share of pixels that are not white (something was drawn).
fn png_info(path: &Path) -> (u32, u32, f64) {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(f))
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let px = &buf[..info.buffer_size()];
    let channels = info.color_type.samples();
    let inked = px
        .chunks(channels)
        .filter(|p| p.iter().take(3).any(|&c| c < 250))
        .count();
    (
        info.width,
        info.height,
        inked as f64 / (info.width * info.height) as f64,
    )
}

fn bundled() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

const FIGURES: [&str; 3] = ["latency_by_formation", "latency_cdf", "p99_over_time"];

#[test]
fn every_bundled_scenario_gets_readable_plots() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let scenarios = bundled();
    assert!(scenarios.len() >= 5, "bundled scenarios: {scenarios:?}");
    for sc in &scenarios {
        let name = sc.file_stem().and_then(|n| n.to_str()).expect("name");
        let out = tmp.path().join(name);
        let r = ok(&["run", s(sc), "--out", s(&out), "--quiet"]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!err.contains("plot"), "{name}: plot warnings: {err}");
        let text = std::fs::read_to_string(sc).expect("read");
        let mut figures = FIGURES.to_vec();
        if text.contains("[sweep]") {
            figures.push("sweep_p99_cost");
        }
        let manifest = std::fs::read_to_string(out.join("manifest.json")).expect("manifest");
        for f in figures {
            let png = out.join(format!("{f}.png"));
            let (w, h, inked) = png_info(&png);
            assert!(
                (1280..=3000).contains(&w) && (400..=2400).contains(&h),
                "{name}/{f}.png is {w}x{h}"
            );
            assert!(
                inked > 0.01,
                "{name}/{f}.png is almost blank ({inked:.4} of pixels drawn)"
            );
            let svg = std::fs::read_to_string(out.join(format!("{f}.svg"))).expect("svg");
            assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
            assert!(
                svg.contains(&format!("width=\"{w}\"")),
                "{name}/{f}.svg has the PNG's size"
            );
            assert!(svg.contains("<text"), "{name}/{f}.svg has labels");
            assert!(
                manifest.contains(&format!("\"{f}.png\"")),
                "manifest lists {f}.png"
            );
        }
        // Titles and axis labels with units.
        let svg = std::fs::read_to_string(out.join("latency_by_formation.svg")).expect("svg");
        assert!(svg.contains("latency (ms, log scale)"), "{name}");
        let svg = std::fs::read_to_string(out.join("p99_over_time.svg")).expect("svg");
        assert!(svg.contains("simulated time ("), "{name}");
    }
}

#[test]
fn plot_redraws_the_same_files_from_the_csvs_alone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sc = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
    let out = tmp.path().join("q");
    ok(&["run", s(&sc), "--out", s(&out), "--quiet"]);
    let before: Vec<Vec<u8>> = FIGURES
        .iter()
        .map(|f| std::fs::read(out.join(format!("{f}.png"))).expect("png"))
        .collect();
    for f in FIGURES {
        std::fs::remove_file(out.join(format!("{f}.png"))).expect("rm");
    }
    // Only the CSVs are needed.
    std::fs::remove_file(out.join("manifest.json")).expect("rm");
    ok(&["plot", s(&out)]);
    for (f, b) in FIGURES.iter().zip(before) {
        assert!(
            std::fs::read(out.join(format!("{f}.png"))).expect("png") == b,
            "{f}.png differs when redrawn"
        );
    }
    // Not an output folder: bad input, exit 2.
    let r = dynosim(&["plot", s(tmp.path())]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("summary.csv"));
    // A summary.csv that lost its columns: exit 2, naming the column.
    let broken = tmp.path().join("broken");
    std::fs::create_dir(&broken).expect("mkdir");
    std::fs::write(
        broken.join("summary.csv"),
        "scenario,point,replication\nx,0,0\n",
    )
    .expect("w");
    let r = dynosim(&["plot", s(&broken)]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("`app`"));
}

#[test]
fn the_cdf_uses_requests_csv_when_present() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sc = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mm1-check.toml");
    let out = tmp.path().join("m");
    ok(&[
        "run",
        s(&sc),
        "--out",
        s(&out),
        "--quiet",
        "--requests",
        "--replications",
        "1",
    ]);
    let svg = std::fs::read_to_string(out.join("latency_cdf.svg")).expect("svg");
    assert!(svg.contains("from requests.csv"), "exact CDF");
    // The M/M/c tail reaches past a second: the axis must span it (values are not clamped).
    assert!(svg.contains("\n1,000\n</text>"), "latency axis reaches 1 s");
    std::fs::remove_file(out.join("requests.csv")).expect("rm");
    ok(&["plot", s(&out)]);
    let svg = std::fs::read_to_string(out.join("latency_cdf.svg")).expect("svg");
    assert!(
        svg.contains("from summary.csv: each formation"),
        "approximate CDF"
    );
}

/// The same load on each size, concurrency 1, default noise, common random numbers.
const SIZES: &str = r#"
name = "sizes"
seed = 11
duration = "20m"
warmup = "2m"
replications = 3

[[app]]
name = "api"

[[app.process]]
type = "web"
size = "standard-1x"
count = 4
concurrency = 1

[app.workload]
arrivals = { poisson = 100.0 }
cpu = { exponential = "25ms" }

[sweep]
"app.api.process.web.size" = ["standard-1x", "standard-2x", "performance-m", "performance-l"]
"#;

#[test]
fn under_default_noise_a_size_sweep_orders_p99_as_the_tiers_predict() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sc = tmp.path().join("sizes.toml");
    std::fs::write(&sc, SIZES).expect("write");
    let out = tmp.path().join("o");
    ok(&["run", s(&sc), "--out", s(&out), "--quiet"]);
    let text = std::fs::read_to_string(out.join("summary.csv")).expect("summary");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).expect(n);
    let (c_size, c_rep, c_p99) = (col("size"), col("replication"), col("p99_ms"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let p99 = |size: &str, rep: &str| -> f64 {
        rows.iter()
            .find(|r| r[c_size] == size && r[c_rep] == rep)
            .and_then(|r| r[c_p99].parse().ok())
            .unwrap_or_else(|| panic!("no p99 for {size} replication {rep}"))
    };
    for rep in ["0", "1", "2"] {
        // Shared hosts with noisy neighbours lose to dedicated hosts, replication by replication
        // (common random numbers make the comparison paired).
        for shared in ["standard-1x", "standard-2x"] {
            for dedicated in ["performance-m", "performance-l"] {
                assert!(
                    p99(shared, rep) > p99(dedicated, rep),
                    "replication {rep}: {shared} p99 {} should exceed {dedicated} p99 {}",
                    p99(shared, rep),
                    p99(dedicated, rep)
                );
            }
        }
    }
    let mean = |size: &str| (p99(size, "0") + p99(size, "1") + p99(size, "2")) / 3.0;
    assert!(
        mean("standard-1x") > 1.1 * mean("performance-m"),
        "standard-1x {} vs performance-m {}",
        mean("standard-1x"),
        mean("performance-m")
    );
}

#[test]
fn a_figure_that_cannot_be_written_is_a_warning_and_the_others_are_drawn() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sc = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
    let out = tmp.path().join("q");
    ok(&["run", s(&sc), "--out", s(&out), "--quiet"]);
    for f in FIGURES {
        std::fs::remove_file(out.join(format!("{f}.png"))).expect("rm");
    }
    // A folder where the CDF's PNG should go: that file cannot be written.
    std::fs::create_dir(out.join("latency_cdf.png")).expect("mkdir");
    let report = dynosim::output::plot::draw_all(&out).expect("the CSVs are readable");
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("latency_cdf"));
    assert!(out.join("latency_by_formation.png").exists());
    assert!(out.join("p99_over_time.png").exists());
    assert!(report.files.contains(&"sweep_p99_cost.png".to_string()));
    // Through the CLI: the failure is reported and the exit code says so.
    let r = dynosim(&["plot", s(&out)]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("latency_cdf"));
}

/// Rewrite `column` of `file` in `dir` with `values`, row by row (cycling).
fn set_column(dir: &Path, file: &str, column: &str, values: &[&str]) {
    let path = dir.join(file);
    let mut r = csv::Reader::from_path(&path).expect("read");
    let header = r.headers().expect("header").clone();
    let i = header
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("{file} has no {column}"));
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.expect("row")).collect();
    let mut w = csv::Writer::from_path(&path).expect("write");
    w.write_record(&header).expect("write");
    for (n, row) in rows.iter().enumerate() {
        let mut cells: Vec<&str> = row.iter().collect();
        cells[i] = values[n % values.len()];
        w.write_record(&cells).expect("write");
    }
    w.flush().expect("flush");
}

/// Issue 14: `plot` on a folder with a subnormal p99 (5e-324) aborted asking for 4 GiB. With
/// degenerate figures everywhere (zero, negative, NaN, infinite, subnormal, huge), every figure
/// is drawn under a 1 GiB address-space limit.
#[test]
fn degenerate_figures_never_make_a_plot_allocate_without_bound() {
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let sc = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/tiers.toml");
    let out = tmp.path().join("t");
    ok(&[
        "run",
        s(&sc),
        "--out",
        s(&out),
        "--quiet",
        "--replications",
        "1",
    ]);
    let bad = [
        "5e-324", "0", "-1", "NaN", "inf", "-inf", "1e308", "", "2.5e-320",
    ];
    for c in ["p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms"] {
        set_column(&out, "summary.csv", c, &bad);
    }
    set_column(
        &out,
        "summary.csv",
        "cost_usd_month",
        &["1e308", "inf", "-5", "NaN"],
    );
    set_column(&out, "windows.csv", "p99_ms", &bad);
    set_column(
        &out,
        "windows.csv",
        "window_start_s",
        &["0", "1e308", "-3", "5e-324"],
    );
    for (name, subnormal_only) in [("all", false), ("subnormal", true)] {
        if subnormal_only {
            for c in ["p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms"] {
                set_column(&out, "summary.csv", c, &["5e-324"]);
            }
            set_column(&out, "windows.csv", "p99_ms", &["5e-324"]);
        }
        let mut cmd = cli_support::command(&[]);
        cmd.args(["plot", s(&out)]);
        // SAFETY: setrlimit in the child before exec; async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: 1 << 30,
                    rlim_max: 1 << 30,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &lim) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let started = std::time::Instant::now();
        let r = cmd.output().expect("runs");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(r.status.success(), "{name}: {:?} {err}", r.status);
        assert!(started.elapsed().as_secs() < 60, "{name}: too slow");
        for f in ["latency_by_formation", "latency_cdf", "p99_over_time"] {
            let (w, h, _) = png_info(&out.join(format!("{f}.png")));
            assert!(w <= 3000 && h <= 2400, "{name}/{f}: {w}x{h}");
        }
    }
}

/// Issue 22: plots that read at real sweep sizes. A 30-point sweep (3 arrival rates x 5 dyno
/// counts x 2 sizes) and 33 process types, run through the CLI: every figure is drawn within
/// bounds, the CDF and the sweep figure come in the 6 groups that vary the count alone, and the
/// time figure spreads the 33 lines over panels (the data behind each figure is tested in
/// src/output/plot/tests.rs).
#[test]
fn a_thirty_point_sweep_and_thirty_three_processes_get_readable_plots() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sweep = r#"
name = "sweep30"
seed = 7
duration = "3m"
warmup = "30s"
window = "30s"
replications = 1

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "standard-1x"
count = 2
concurrency = 2

[app.workload]
arrivals = { poisson = 40.0 }
cpu = { lognormal = { median = "20ms", p99 = "150ms" } }
wait = { constant = "30ms" }

[sweep]
"app.shop.workload.arrivals.poisson" = [20.0, 60.0, 120.0]
"app.shop.process.web.count" = [1, 2, 3, 4, 6]
"app.shop.process.web.size" = ["standard-1x", "performance-m"]
"#;
    let mut procs = String::from(
        "name = \"procs33\"\nseed = 5\nduration = \"5m\"\nwarmup = \"30s\"\nwindow = \"30s\"\n",
    );
    for i in 0..33 {
        let size = ["standard-1x", "standard-2x", "performance-m"][i % 3];
        procs += &format!(
            "\n[[app]]\nname = \"app{i:02}\"\n\n[[app.process]]\ntype = \"web\"\nsize = \"{size}\"\n\
             count = {}\nconcurrency = 2\n\n[app.workload]\narrivals = {{ poisson = {}.0 }}\n\
             cpu = {{ exponential = \"20ms\" }}\n",
            1 + i % 3,
            5 + i % 7
        );
    }
    for (name, text) in [("sweep30", sweep.to_string()), ("procs33", procs)] {
        let sc = tmp.path().join(format!("{name}.toml"));
        std::fs::write(&sc, text).expect("write");
        let out = tmp.path().join(name);
        let r = ok(&["run", s(&sc), "--out", s(&out), "--quiet"]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!err.contains("plot"), "{name}: plot warnings: {err}");
        let mut figures = FIGURES.to_vec();
        if name == "sweep30" {
            figures.push("sweep_p99_cost");
        }
        for f in figures {
            let (w, h, inked) = png_info(&out.join(format!("{f}.png")));
            assert!(w <= 3000 && h <= 2400, "{name}/{f}.png is {w}x{h}");
            assert!(inked > 0.01, "{name}/{f}.png is almost blank");
        }
        let svg = |f: &str| std::fs::read_to_string(out.join(format!("{f}.svg"))).expect("svg");
        if name == "sweep30" {
            for rate in ["20.0", "60.0", "120.0"] {
                for size in ["standard-1x", "performance-m"] {
                    let group = format!("arrivals.poisson={rate} · {size}");
                    for f in [
                        "latency_cdf",
                        "sweep_p99_cost",
                        "latency_by_formation",
                        "p99_over_time",
                    ] {
                        assert!(svg(f).contains(&group), "{f}.svg names the group {group}");
                    }
                }
            }
            // Each CDF panel names its 5 counts.
            assert_eq!(svg("latency_cdf").matches("\ncount=3\n").count(), 6);
        } else {
            // 11 formations a size: split in two panels of at most 8 lines each.
            let t = svg("p99_over_time");
            for size in ["standard-1x", "standard-2x", "performance-m"] {
                for part in ["(1/2)", "(2/2)"] {
                    assert!(t.contains(&format!("{size} {part}")), "{size} {part}");
                }
            }
            assert_eq!(t.matches("app00/web").count(), 1, "one legend entry a line");
        }
    }
}
