//! The bundled validation scenarios (scenarios/validation/) pass `dynosim validate` with the
//! default tolerances (|p50 error| <= 10 %, |p99 error| <= 25 %), here shortened to 15 to 40 s
//! each: long enough for a few hundred requests per tier, since the p50 of fewer is a coarse
//! statistic (restarts.toml runs its full minute: its deploy is at 20 s, its crash at 40 s).
//! Root and cgroups needed (skips with a reason otherwise; `DYNOSIM_REQUIRE_JAIL=1` makes a
//! skip fail). About 3 minutes.

mod jail_support;

use std::process::Command;

#[test]
fn bundled_validation_scenarios_are_within_the_default_tolerances() {
    require_jail!();
    let out = tempfile::tempdir().expect("tempdir");
    let mut failed = Vec::new();
    for (name, duration) in [
        ("dedicated-mm1", "15s"),
        ("shared-weights", "40s"),
        ("shared-noisy", "20s"),
        ("cpu-quota", "25s"),
        ("restarts", "60s"),
    ] {
        let r = Command::new(jail_support::bin())
            .args([
                "validate",
                &format!("scenarios/validation/{name}.toml"),
                "--duration",
                duration,
                "--out",
            ])
            .arg(out.path().join(name))
            .output()
            .expect("run dynosim validate");
        let stdout = String::from_utf8_lossy(&r.stdout);
        eprintln!("== {name}\n{stdout}");
        if r.status.code() != Some(0) {
            eprintln!("{}", String::from_utf8_lossy(&r.stderr));
            failed.push(format!("{name}: exit {:?}", r.status.code()));
        }
        // A CDF overlay per tier and size, as PNG and SVG.
        let dir = out.path().join(name).join("validation");
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
    }
    assert!(failed.is_empty(), "out of tolerance or failed: {failed:?}");
}
