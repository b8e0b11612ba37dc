//! Plots through the CLI: drawn for every bundled scenario, readable PNGs of the right size and
//! SVGs, redrawn identically from the CSVs by `dynosim plot`; and the tiers' ordering under the
//! default noise, as the plots are meant to show it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dynosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dynosim"))
        .args(args)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .expect("the dynosim binary runs")
}

fn ok(args: &[&str]) -> Output {
    let out = dynosim(args);
    assert!(
        out.status.success(),
        "dynosim {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

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
        svg.contains("from summary.csv quantiles"),
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
