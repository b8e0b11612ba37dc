//! The bundled validation scenarios (scenarios/validation/) under `dynosim validate`'s
//! statistical verdict, on whatever machine runs the suite: each must be `ok` (exit 0) or,
//! where this host cannot decide it in the time given, `inconclusive` with its reason named
//! (exit 4: the host too noisy, or the intervals straddling a tolerance with what would decide
//! them), and never `out` (exit 3): the model is right. A deliberately mis-set model (told
//! its dyno has twice its real CFS quota) must be `out`. Each scenario runs the sequential
//! rule with a shortened budget (runs of 15 to 20 s, at most two; restarts.toml runs its full
//! minute: its deploy is at 20 s, its crash at 40 s). Root and cgroups needed (skips with a
//! reason otherwise; `DYNOSIM_REQUIRE_JAIL=1` makes a skip fail). About 4 minutes.

mod jail_support;

use std::process::Command;
use std::time::Instant;

fn validate(name: &str, out: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let t0 = Instant::now();
    let r = Command::new(jail_support::bin())
        .arg("validate")
        .arg(format!("scenarios/validation/{name}.toml"))
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run dynosim validate");
    let stdout = String::from_utf8_lossy(&r.stdout).into_owned();
    eprintln!(
        "== {name} {args:?}: exit {:?} in {:.0} s\n{stdout}",
        r.status.code(),
        t0.elapsed().as_secs_f64()
    );
    if !matches!(r.status.code(), Some(0 | 3 | 4)) {
        eprintln!("{}", String::from_utf8_lossy(&r.stderr));
    }
    (r.status.code(), stdout)
}

/// The printed verdict line.
fn verdict(stdout: &str) -> &str {
    stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("verdict: "))
        .unwrap_or("")
}

#[test]
fn bundled_validation_scenarios_are_never_out_and_a_mis_set_model_is() {
    require_jail!();
    let out = tempfile::tempdir().expect("tempdir");
    let mut failed = Vec::new();
    let mut seen = Vec::new();
    for (name, run, budget) in [
        ("dedicated-mm1", "15s", "30s"),
        ("shared-weights", "20s", "40s"),
        ("shared-noisy", "15s", "30s"),
        ("cpu-quota", "20s", "40s"),
        ("restarts", "60s", "60s"),
    ] {
        let dir = out.path().join(name);
        let (code, stdout) = validate(name, &dir, &["--duration", run, "--max-real", budget]);
        let v = verdict(&stdout);
        seen.push(format!("{name}: {v}"));
        match code {
            Some(0) if v == "verdict: ok" => {}
            // Undecided here: named, with the reason (host too noisy, or what would decide).
            Some(4) if v.starts_with("verdict: inconclusive: ") && v.len() > 30 => {}
            c => failed.push(format!("{name}: exit {c:?}, {v:?}")),
        }
        // A CDF overlay per tier and size, as PNG and SVG, and the comparison's verdict column.
        let dir = dir.join("validation");
        let cdfs: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|f| f.starts_with("cdf_") && !f.ends_with(".csv"))
                    .collect()
            })
            .unwrap_or_default();
        for ext in ["png", "svg"] {
            let file = cdfs.iter().find(|f| f.ends_with(ext));
            let bytes = file.and_then(|f| std::fs::read(dir.join(f)).ok());
            let magic: &[u8] = if ext == "png" { b"\x89PNG" } else { b"<svg" };
            if !bytes.is_some_and(|b| b.starts_with(magic)) {
                failed.push(format!(
                    "{name}: no CDF overlay .{ext} in {}",
                    dir.display()
                ));
            }
        }
        let comparison = std::fs::read_to_string(dir.join("comparison.csv")).unwrap_or_default();
        if comparison.contains(",out\n") {
            failed.push(format!("{name}: a tier is out in comparison.csv"));
        }
    }
    // The model told the dyno has twice its real quota (0.5 core): the tail is far off.
    let (code, stdout) = validate(
        "cpu-quota",
        &out.path().join("mis-set"),
        &[
            "--duration",
            "20s",
            "--max-real",
            "40s",
            "--sim-quota-factor",
            "2",
        ],
    );
    let v = verdict(&stdout);
    seen.push(format!("cpu-quota, mis-set model: {v}"));
    match code {
        Some(3) if v == "verdict: out" => {}
        // Only a host too noisy to judge anything may stop it being found out.
        Some(4) if v.starts_with("verdict: inconclusive: host too noisy: ") => {}
        c => failed.push(format!("mis-set cpu-quota: exit {c:?}, {v:?}")),
    }
    eprintln!("verdicts:\n  {}", seen.join("\n  "));
    assert!(failed.is_empty(), "{failed:?}");
}
