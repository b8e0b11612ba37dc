//! Errors that used to have no place (issue 14, point 9): each names file, line and column, exits
//! 2 and writes nothing; and what was refused for no good reason (a seed from 2^63 with a sweep)
//! now works.

mod scenario_support;

use scenario_support::{Case, line_of};

const BASE: &str = r#"name = "t"
seed = 1
duration = "5s"

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "standard-1x"

[app.workload]
arrivals = { poisson = 5.0 }
cpu = "10ms"
"#;

const SWEEP: &str = "\n[sweep]\n\"app.shop.process.web.count\" = [1, 2]\n";

/// `check` and `run` both reject `text`; returns the first error line (of `run`).
fn both_reject(text: impl AsRef<[u8]>, line: Option<usize>) -> String {
    let case = Case::new(text);
    let from_check = case.assert_rejected(&case.check(&[], &[]), line);
    let from_run = case.assert_rejected(&case.run(&[], &[]), line);
    assert_eq!(from_check, from_run, "check and run differ");
    from_run
}

/// The seeds `check` lists for its jobs.
fn job_seeds(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("  job "))
        .filter_map(|l| l.rsplit("seed ").next().map(str::to_string))
        .collect()
}

#[test]
fn a_seed_from_2_to_the_63_works_with_a_sweep() {
    for seed in ["9223372036854775808", "18446744073709551615"] {
        let text = BASE.replace("seed = 1", &format!("seed = {seed}"));
        let plain = Case::new(&text).check(&[], &[]);
        assert_eq!(plain.code(), Some(0), "{}", plain.stderr());
        let swept = Case::new(format!("{text}{SWEEP}")).check(&[], &[]);
        assert_eq!(swept.code(), Some(0), "{}", swept.stderr());
        assert!(
            swept
                .stdout()
                .contains(&format!("seed {seed}, 1 replication(s), 2 point(s)"))
        );
        // Common random numbers: both points use the seeds the plain scenario's job has.
        let seeds = job_seeds(&swept.stdout());
        assert_eq!(seeds.len(), 2);
        assert_eq!(seeds[0], seeds[1]);
        assert_eq!(job_seeds(&plain.stdout()), vec![seeds[0].clone()]);
        // And it runs.
        let case = Case::new(format!("{text}{SWEEP}"));
        let r = case.run(&[], &[]);
        assert_eq!(r.code(), Some(0), "{}", r.stderr());
        assert!(case.out().join("summary.csv").exists());
    }
    // The seed still cannot be swept.
    let text =
        BASE.replace("seed = 1", "seed = 9223372036854775808") + "\n[sweep]\n\"seed\" = [1, 2]\n";
    let e = both_reject(&text, Some(line_of(&text, "[sweep]")));
    assert!(e.contains("only the model can be swept"), "{e}");
}

#[test]
fn a_header_of_a_hundred_dotted_parts_is_placed() {
    let deep = vec!["a"; 120].join(".");
    let text = format!("{BASE}\n[{deep}]\nx = 1\n");
    let line = line_of(&text, "[a.a.a");
    let e = both_reject(&text, Some(line));
    // At the key, inside the brackets.
    assert!(
        e.contains(&format!(
            ":{line}:2: invalid TOML: a dotted key of more than 80 parts"
        )),
        "{e}"
    );
    // A dotted key before `=`, and one inside an inline table, the same.
    let text = format!("{BASE}{deep} = 1\n");
    both_reject(&text, Some(line_of(&text, "a.a.a")));
    let text = format!("{BASE}t = {{ {deep} = 1 }}\n");
    both_reject(&text, Some(line_of(&text, "a.a.a")));
    // Nesting too deep in values was placed already; still is.
    let text = format!("{BASE}x = {}{}\n", "[".repeat(200), "]".repeat(200));
    both_reject(&text, Some(line_of(&text, "[[[[")));
}

#[test]
fn invalid_utf8_is_placed_and_not_shown() {
    let mut text = BASE.as_bytes().to_vec();
    let at = BASE.find("shop").expect("app name");
    text.splice(at..at, *b"s\xff\xfe");
    let e = both_reject(&text, Some(line_of(BASE, "name = \"shop\"")));
    assert!(e.contains(":6:10: invalid UTF-8"), "{e}");
    assert!(!e.contains('\u{fffd}'), "{e}");
    // A UTF-8 byte-order mark is valid UTF-8, and TOML allows it.
    let mut text = b"\xef\xbb\xbf".to_vec();
    text.extend(BASE.as_bytes());
    let r = Case::new(&text).check(&[], &[]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
}

#[test]
fn a_catalog_overflow_points_at_the_key() {
    let text = format!("{BASE}\n[catalog.\"standard-1x\"]\nram_mb = 1\nvcpus = 99999999999\n");
    let e = both_reject(&text, Some(line_of(&text, "vcpus =")));
    assert!(e.contains("key `catalog.standard-1x.vcpus`"), "{e}");
    assert!(e.contains("99999999999"), "{e}");
    let text = format!("{BASE}\n[catalog.\"standard-1x\"]\nprice_usd_month = \"lots\"\n");
    let e = both_reject(&text, Some(line_of(&text, "price_usd_month")));
    assert!(
        e.contains("key `catalog.standard-1x.price_usd_month`"),
        "{e}"
    );
}

#[test]
fn a_name_too_long_for_a_folder_fails_check_as_well_as_run() {
    let long = "n".repeat(245);
    let text = BASE.replace("name = \"t\"", &format!("name = \"{long}\""));
    let e = both_reject(&text, Some(1));
    assert!(e.contains("the name has 245 characters"), "{e}");
    // The longest name allowed runs.
    let text = BASE.replace("name = \"t\"", &format!("name = \"{}\"", "n".repeat(200)));
    let case = Case::new(&text);
    let r = case.run(&[], &[]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    // A name from the file name is checked the same way, and says so.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(format!("{}.toml", "f".repeat(230)));
    std::fs::write(&file, BASE.replace("name = \"t\"\n", "")).expect("write");
    let r = scenario_support::run_bounded(
        dir.path(),
        &["check", &file.display().to_string()],
        &[],
        std::time::Duration::from_secs(60),
    );
    assert_eq!(r.code(), Some(2));
    let e = r.stderr();
    assert!(
        e.contains(":1:1: key `name`") && e.contains("comes from the file name"),
        "{e}"
    );
}

#[test]
fn errors_about_the_whole_file_are_placed_at_its_start() {
    for (text, phrase) in [
        (
            BASE.replace("duration = \"5s\"\n", ""),
            "missing required key `duration`",
        ),
        (
            BASE.split("[[app]]").next().unwrap_or_default().to_string(),
            "no [[app]] defined",
        ),
        (String::new(), "missing required key"),
    ] {
        let e = both_reject(&text, Some(1));
        assert!(e.contains(phrase), "{e}");
    }
}

#[test]
fn a_scenario_that_is_not_a_file_is_refused_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, what) in [("/dev/zero", "a device"), (".", "a directory")] {
        let r = scenario_support::run_bounded(
            dir.path(),
            &["check", path],
            &[],
            std::time::Duration::from_secs(60),
        );
        assert_eq!(r.code(), Some(2), "{path}: {}", r.stderr());
        assert!(r.stderr().contains(what), "{path}: {}", r.stderr());
    }
}
