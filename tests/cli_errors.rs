//! Bad input through the real binary: every rejected scenario exits 2, names the file, the line and
//! the key, says something useful, never panics, and leaves no output folder behind (nor harms an
//! existing one).

use std::path::{Path, PathBuf};
use std::process::Output;

mod cli_support;

/// A valid scenario that the cases below mutate.
const BASE: &str = r#"name = "t"
seed = 1
duration = "10s"
warmup = "1s"

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "standard-1x"
count = 2
concurrency = 1

[app.workload]
arrivals = { poisson = 5.0 }
cpu = { exponential = "10ms" }
"#;

/// A valid scenario that runs in a blink.
const TINY: &str = r#"name = "tiny"
seed = 1
duration = "10s"

[network]
latency = "0ms"

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "standard-1x"
count = 1

[app.workload]
arrivals = { poisson = 5.0 }
cpu = { constant = "1ms" }
"#;

/// 1-based number of the only line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    let hits: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "test bug: `{needle}` should be on exactly one line of:\n{text}"
    );
    hits[0]
}

/// `BASE` with the one line that contains `from` replaced by `to` (which may span several lines).
fn base_with(from: &str, to: &str) -> String {
    line_of(BASE, from);
    BASE.lines()
        .map(|l| if l.contains(from) { to } else { l })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn dynosim(dir: &Path, args: &[&str]) -> Output {
    cli_support::command(args)
        // Anything written by mistake without --out lands in the temp dir, not the repo.
        .current_dir(dir)
        .output()
        .expect("run the dynosim binary")
}

/// Where and how a bad scenario must be reported.
struct Expect<'a> {
    /// Text that is on the offending line (its line number is computed), or None for errors about
    /// the whole file.
    at: Option<&'a str>,
    /// The key path printed as ``key `PATH` `` (None: the message must still name what is wrong).
    key: Option<&'a str>,
    /// Stable fragments that must appear in the message.
    phrases: &'a [&'a str],
}

/// A temp dir holding `scenario.toml` (and any extra files), for one case.
struct Case {
    name: &'static str,
    dir: tempfile::TempDir,
    file: PathBuf,
    text: String,
}

impl Case {
    fn new(name: &'static str, text: &str) -> Case {
        Case::with_files(name, text, &[])
    }

    fn with_files(name: &'static str, text: &str, files: &[(&str, &str)]) -> Case {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("scenario.toml");
        std::fs::write(&file, text).expect("write scenario");
        for (n, body) in files {
            std::fs::write(dir.path().join(n), body).expect("write extra file");
        }
        Case {
            name,
            dir,
            file,
            text: text.to_string(),
        }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn file_str(&self) -> String {
        self.file.display().to_string()
    }

    /// `dynosim run FILE --out DIR/out --quiet` must reject the scenario as `expect` says.
    fn rejects(&self, expect: &Expect<'_>) -> String {
        let file = self.file_str();
        let out = self.out().display().to_string();
        let o = dynosim(self.dir.path(), &["run", &file, "--out", &out, "--quiet"]);
        let stderr = self.check_rejection("run", &o, expect);
        self.assert_no_output();
        stderr
    }

    /// `dynosim check FILE` must reject it the same way.
    fn check_rejects(&self, expect: &Expect<'_>) -> String {
        let file = self.file_str();
        let o = dynosim(self.dir.path(), &["check", &file]);
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            !stdout.contains(": ok"),
            "case `{}` (check): a bad scenario was listed as ok:\n{stdout}",
            self.name
        );
        self.check_rejection("check", &o, expect)
    }

    /// Both `run` and `check`.
    fn rejects_both(&self, expect: &Expect<'_>) -> String {
        let from_check = self.check_rejects(expect);
        let from_run = self.rejects(expect);
        assert_eq!(
            from_check, from_run,
            "case `{}`: `check` and `run` report the problem differently",
            self.name
        );
        from_run
    }

    fn check_rejection(&self, cmd: &str, o: &Output, expect: &Expect<'_>) -> String {
        let name = self.name;
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let ctx = format!(
            "case `{name}` ({cmd}); stderr:\n{stderr}\nscenario:\n{}",
            self.text
        );
        assert_eq!(o.status.code(), Some(2), "exit code, {ctx}");
        assert!(!stderr.contains("panicked"), "panic, {ctx}");
        let file = self.file_str();
        let first = stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("no `error: ` line, {ctx}"));
        let rest = first
            .strip_prefix(&format!("error: {file}"))
            .unwrap_or_else(|| panic!("the error does not start with the file `{file}`, {ctx}"));
        let rest = match expect.at {
            Some(needle) => {
                let line = line_of(&self.text, needle);
                let after_line = rest.strip_prefix(&format!(":{line}:")).unwrap_or_else(|| {
                    panic!("expected line {line} (the line with `{needle}`), {ctx}")
                });
                let digits = after_line.chars().take_while(char::is_ascii_digit).count();
                assert!(digits > 0, "no column after the line number, {ctx}");
                &after_line[digits..]
            }
            None => rest,
        };
        if let Some(key) = expect.key {
            assert!(
                rest.starts_with(&format!(": key `{key}`: ")),
                "expected key `{key}` right after the location, {ctx}"
            );
        }
        for p in expect.phrases {
            assert!(rest.contains(p), "expected the phrase `{p}`, {ctx}");
        }
        stderr
    }

    /// Nothing was written: no output folder, no staging folder.
    fn assert_no_output(&self) {
        let name = self.name;
        assert!(
            !self.out().exists(),
            "case `{name}`: the output folder was created for a rejected scenario"
        );
        assert_no_partial(self.dir.path(), name);
    }
}

fn assert_no_partial(dir: &Path, name: &str) {
    for entry in std::fs::read_dir(dir).expect("list temp dir") {
        let n = entry.expect("dir entry").file_name();
        let n = n.to_string_lossy();
        assert!(
            !(n.starts_with(".out.partial-") || n.contains(".partial-")),
            "case `{name}`: a staging folder `{n}` was left behind"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Keys and types

#[test]
fn unknown_top_level_key() {
    let text = base_with("seed = 1", "seed = 1\nbogus = 3");
    Case::new("unknown top-level key", &text).rejects_both(&Expect {
        at: Some("bogus"),
        key: Some("bogus"),
        phrases: &["unknown field `bogus`", "duration"],
    });
}

#[test]
fn unknown_key_in_process() {
    let text = base_with("concurrency = 1", "conurrency = 1");
    Case::new("unknown key in [[app.process]]", &text).rejects_both(&Expect {
        at: Some("conurrency"),
        key: Some("app[0].process[0].conurrency"),
        phrases: &["unknown field `conurrency`", "`concurrency`"],
    });
}

#[test]
fn unknown_key_in_inline_table_suggests_the_right_one() {
    let text = base_with("poisson = 5.0", "arrivals = { poison = 5.0 }");
    Case::new("unknown arrivals kind", &text).rejects(&Expect {
        at: Some("poison"),
        key: Some("app[0].workload.arrivals.poison"),
        phrases: &["unknown key `poison`", "did you mean `poisson`?"],
    });
}

#[test]
fn wrong_type_count_string() {
    let text = base_with("count = 2", "count = \"four\"");
    Case::new("count = \"four\"", &text).rejects_both(&Expect {
        at: Some("\"four\""),
        key: Some("app[0].process[0].count"),
        phrases: &["invalid type", "\"four\""],
    });
}

#[test]
fn missing_required_duration() {
    let text = base_with("duration = ", "");
    let stderr = Case::new("missing duration", &text).rejects_both(&Expect {
        at: None,
        key: None,
        phrases: &["missing", "`duration`"],
    });
    assert!(
        stderr.contains("key `duration`: missing required key `duration`"),
        "{stderr}"
    );
}

#[test]
fn missing_size_points_at_the_process_table() {
    let text = base_with("size = ", "");
    Case::new("missing size", &text).rejects(&Expect {
        at: Some("[[app.process]]"),
        key: Some("app[0].process[0].size"),
        phrases: &["missing required key `size`"],
    });
}

#[test]
fn no_app_at_all() {
    let text = "name = \"t\"\nseed = 1\nduration = \"10s\"\n";
    Case::new("no [[app]]", text).rejects_both(&Expect {
        at: None,
        key: None,
        phrases: &["no [[app]]", "at least one app"],
    });
}

#[test]
fn invalid_toml_syntax_unclosed_bracket() {
    let text = base_with("[[app.process]]", "[[app.process]");
    Case::new("unclosed bracket", &text).rejects_both(&Expect {
        at: Some("[[app.process]"),
        key: None,
        phrases: &["invalid TOML"],
    });
}

// ---------------------------------------------------------------------------------------------
// Numbers

#[test]
fn negative_arrival_rate() {
    let text = base_with("poisson = 5.0", "arrivals = { poisson = -5.0 }");
    Case::new("negative rate", &text).rejects_both(&Expect {
        at: Some("poisson"),
        key: Some("app[0].workload.arrivals.poisson"),
        phrases: &["must be positive", "-5"],
    });
}

#[test]
fn nan_arrival_rate() {
    let text = base_with("poisson = 5.0", "arrivals = { poisson = nan }");
    Case::new("NaN rate", &text).rejects(&Expect {
        at: Some("poisson"),
        key: Some("app[0].workload.arrivals.poisson"),
        phrases: &["NaN"],
    });
}

#[test]
fn infinite_arrival_rate() {
    let text = base_with("poisson = 5.0", "arrivals = { poisson = inf }");
    Case::new("infinite rate", &text).rejects(&Expect {
        at: Some("poisson"),
        key: Some("app[0].workload.arrivals.poisson"),
        phrases: &["finite"],
    });
}

#[test]
fn zero_arrival_rate() {
    let text = base_with("poisson = 5.0", "arrivals = { poisson = 0.0 }");
    Case::new("zero rate", &text).rejects(&Expect {
        at: Some("poisson"),
        key: Some("app[0].workload.arrivals.poisson"),
        phrases: &["must be positive"],
    });
}

#[test]
fn zero_concurrency() {
    let text = base_with("concurrency = 1", "concurrency = 0");
    Case::new("zero concurrency", &text).rejects_both(&Expect {
        at: Some("concurrency"),
        key: Some("app[0].process[0].concurrency"),
        phrases: &["at least 1"],
    });
}

#[test]
fn negative_count() {
    let text = base_with("count = 2", "count = -1");
    Case::new("negative count", &text).rejects(&Expect {
        at: Some("count"),
        key: Some("app[0].process[0].count"),
        phrases: &["must not be negative"],
    });
}

#[test]
fn zero_replications() {
    let text = base_with("seed = 1", "seed = 1\nreplications = 0");
    Case::new("zero replications", &text).rejects(&Expect {
        at: Some("replications"),
        key: Some("replications"),
        phrases: &["at least one replication"],
    });
}

// ---------------------------------------------------------------------------------------------
// Durations

#[test]
fn warmup_longer_than_duration() {
    let text = base_with("warmup", "warmup = \"20s\"");
    Case::new("warmup > duration", &text).rejects_both(&Expect {
        at: Some("warmup"),
        key: Some("warmup"),
        phrases: &["must be shorter than the duration"],
    });
}

#[test]
fn warmup_equal_to_duration() {
    let text = base_with("warmup", "warmup = \"10s\"");
    Case::new("warmup = duration", &text).rejects(&Expect {
        at: Some("warmup"),
        key: Some("warmup"),
        phrases: &["must be shorter than the duration"],
    });
}

#[test]
fn duration_with_unknown_unit() {
    let text = base_with("duration = ", "duration = \"5 parsecs\"");
    Case::new("5 parsecs", &text).rejects_both(&Expect {
        at: Some("parsecs"),
        key: Some("duration"),
        phrases: &["unknown unit `parsecs`", "ms"],
    });
}

#[test]
fn duration_without_unit() {
    let text = base_with("duration = ", "duration = \"30\"");
    Case::new("duration \"30\"", &text).rejects(&Expect {
        at: Some("\"30\""),
        key: Some("duration"),
        phrases: &["no unit", "\"30s\""],
    });
}

#[test]
fn default_window_too_narrow_points_at_duration() {
    // 10000 days of 1-minute windows (the default) is over a million rows.
    let text = base_with("duration = ", "duration = \"10000d\"");
    Case::new("default window too narrow", &text).rejects(&Expect {
        at: Some("10000d"),
        key: Some("duration"),
        phrases: &["more than a million rows", "`window`"],
    });
}

#[test]
fn explicit_window_too_narrow() {
    let text = base_with("warmup", "warmup = \"1s\"\nwindow = \"1us\"");
    Case::new("window too narrow", &text).rejects(&Expect {
        at: Some("window"),
        key: Some("window"),
        phrases: &["more than a million rows"],
    });
}

// ---------------------------------------------------------------------------------------------
// Apps, processes, sizes

#[test]
fn duplicate_app_names() {
    let second = "\n[[app]]\nname = \"shop\" # the second one\n\n[[app.process]]\ntype = \"web\"\nsize = \"standard-1x\"\n";
    let text = format!("{BASE}{second}");
    Case::new("duplicate app", &text).rejects_both(&Expect {
        at: Some("# the second one"),
        key: Some("app[1].name"),
        phrases: &["duplicate app name `shop`"],
    });
}

#[test]
fn duplicate_process_types() {
    let text = base_with(
        "concurrency = 1",
        "concurrency = 1\n\n[[app.process]]\ntype = \"web\" # again\nsize = \"standard-2x\"",
    );
    Case::new("duplicate process type", &text).rejects_both(&Expect {
        at: Some("# again"),
        key: Some("app[0].process[1].type"),
        phrases: &["duplicate process type `web`", "`shop`"],
    });
}

#[test]
fn unknown_size_suggests_a_close_one() {
    let text = base_with("size = ", "size = \"standard-3x\"");
    Case::new("standard-3x", &text).rejects_both(&Expect {
        at: Some("standard-3x"),
        key: Some("app[0].process[0].size"),
        phrases: &[
            "unknown size `standard-3x`",
            "did you mean `standard-",
            "dynosim catalog",
        ],
    });
}

#[test]
fn size_in_wrong_case() {
    let text = base_with("size = ", "size = \"Standard-1X\"");
    Case::new("Standard-1X", &text).rejects(&Expect {
        at: Some("Standard-1X"),
        key: Some("app[0].process[0].size"),
        phrases: &["unknown size `Standard-1X`", "lower case", "`standard-1x`"],
    });
}

#[test]
fn eco_count_above_platform_limit() {
    let text = base_with("size = ", "size = \"eco\"");
    Case::new("2 eco dynos", &text).rejects_both(&Expect {
        at: Some("count = 2"),
        key: Some("app[0].process[0].count"),
        phrases: &["limit of 1 per process type"],
    });
}

#[test]
fn too_many_performance_m() {
    let text = base_with("size = ", "size = \"performance-m\"").replace("count = 2", "count = 11");
    Case::new("11 performance-m", &text).rejects(&Expect {
        at: Some("count = 11"),
        key: Some("app[0].process[0].count"),
        phrases: &["11 dynos", "limit of 10 per process type"],
    });
}

#[test]
fn an_unknown_space() {
    let text = base_with("name = \"shop\"", "name = \"shop\"\nspace = \"prod\"");
    Case::new("space", &text).rejects(&Expect {
        at: Some("space"),
        key: Some("app[0].space"),
        phrases: &["unknown space `prod`", "[[space]]"],
    });
}

#[test]
fn a_common_runtime_size_in_a_space() {
    let text = format!(
        "{}[[space]]\nname = \"prod\"\nkind = \"private\"\nregion = \"virginia\"\n",
        base_with("name = \"shop\"", "name = \"shop\"\nspace = \"prod\"")
    );
    Case::new("standard in a space", &text).rejects(&Expect {
        at: Some("size = "),
        key: Some("app[0].process[0].size"),
        phrases: &["run on the Common Runtime", "private-*"],
    });
}

#[test]
fn a_space_size_on_the_common_runtime() {
    let text = base_with("size = ", "size = \"shield-m\"");
    Case::new("shield outside", &text).rejects(&Expect {
        at: Some("size = "),
        key: Some("app[0].process[0].size"),
        phrases: &["run only in shield spaces"],
    });
}

#[test]
fn a_fir_size_in_a_private_space() {
    let text = format!(
        "{}[[space]]\nname = \"prod\"\nkind = \"private\"\nregion = \"virginia\"\n",
        base_with("name = \"shop\"", "name = \"shop\"\nspace = \"prod\"")
            .replace("standard-1x", "dyno-1c-0.5gb")
    );
    Case::new("fir in private", &text).rejects(&Expect {
        at: Some("size = "),
        key: Some("app[0].process[0].size"),
        phrases: &["run only in fir spaces", "private space"],
    });
}

#[test]
fn a_bad_space_region_and_cidr() {
    let text = format!(
        "{}[[space]]\nname = \"prod\"\nkind = \"private\"\nregion = \"virgina\"\n",
        BASE
    );
    Case::new("region", &text).rejects(&Expect {
        at: Some("region = "),
        key: Some("space[0].region"),
        phrases: &["unknown space region", "did you mean `virginia`"],
    });
    let text = format!(
        "{}[[space]]\nname = \"prod\"\nkind = \"private\"\nregion = \"virginia\"\ntrusted_ips = [\"10.0.0.0/33\"]\n",
        BASE
    );
    Case::new("cidr", &text).rejects(&Expect {
        at: Some("trusted_ips"),
        key: Some("space[0].trusted_ips[0]"),
        phrases: &["prefix length"],
    });
}

// ---------------------------------------------------------------------------------------------
// Workloads and distributions

#[test]
fn workload_targets_missing_process_type() {
    let text = base_with("[app.workload]", "[app.workload]\nprocess = \"worker\"");
    Case::new("workload -> worker", &text).rejects_both(&Expect {
        at: Some("process = \"worker\""),
        key: Some("app[0].workload.process"),
        phrases: &["`worker`", "it has: web"],
    });
}

#[test]
fn default_workload_target_missing() {
    // No `process` key: the workload goes to `web`, which this app does not have.
    let text = BASE.replace("type = \"web\"", "type = \"worker\"");
    Case::new("workload -> default web", &text).rejects(&Expect {
        at: Some("[app.workload]"),
        key: Some("app[0].workload"),
        phrases: &["`web`", "it has: worker"],
    });
}

#[test]
fn lognormal_p99_below_median() {
    let text = base_with(
        "cpu = ",
        "cpu = { lognormal = { median = \"20ms\", p99 = \"10ms\" } }",
    );
    Case::new("lognormal p99 < median", &text).rejects_both(&Expect {
        at: Some("lognormal"),
        key: Some("app[0].workload.cpu.lognormal.p99"),
        phrases: &["must not be below the median"],
    });
}

#[test]
fn exponential_with_zero_mean() {
    let text = base_with("cpu = ", "cpu = { exponential = \"0ms\" }");
    Case::new("exponential 0ms", &text).rejects(&Expect {
        at: Some("exponential"),
        key: Some("app[0].workload.cpu.exponential"),
        phrases: &["greater than zero"],
    });
}

#[test]
fn two_distribution_kinds_in_one_table() {
    let text = base_with(
        "cpu = ",
        "cpu = { exponential = \"10ms\", constant = \"1ms\" }",
    );
    Case::new("two kinds", &text).rejects(&Expect {
        at: Some("cpu = "),
        key: Some("app[0].workload.cpu"),
        phrases: &["exactly one of"],
    });
}

#[test]
fn empirical_cpu_from_missing_csv() {
    let text = base_with(
        "cpu = ",
        "cpu = { empirical = { file = \"missing.csv\", column = \"cpu_ms\" } }",
    );
    Case::new("empirical missing file", &text).rejects_both(&Expect {
        at: Some("missing.csv"),
        key: Some("app[0].workload.cpu.empirical.file"),
        phrases: &["cannot read", "missing.csv"],
    });
}

#[test]
fn empirical_column_not_found() {
    let text = base_with(
        "cpu = ",
        "cpu = { empirical = { file = \"cpu.csv\", column = \"cpu_ms\" } }",
    );
    let csv = "latency_ms,other\n1.0,2\n3.5,4\n";
    Case::with_files("empirical missing column", &text, &[("cpu.csv", csv)]).rejects(&Expect {
        at: Some("cpu.csv"),
        key: Some("app[0].workload.cpu.empirical.column"),
        phrases: &["no column `cpu_ms`", "(2 column(s))"],
    });
}

#[test]
fn empirical_non_numeric_cell() {
    let text = base_with(
        "cpu = ",
        "cpu = { empirical = { file = \"cpu.csv\", column = \"cpu_ms\" } }",
    );
    let csv = "cpu_ms\n1.0\nlots\n";
    Case::with_files("empirical bad cell", &text, &[("cpu.csv", csv)]).rejects(&Expect {
        at: Some("cpu.csv"),
        key: Some("app[0].workload.cpu.empirical.file"),
        phrases: &[
            "line 3, column 1 (`cpu_ms`)",
            "expected a number",
            "found text",
        ],
    });
}

// ---------------------------------------------------------------------------------------------
// Sweeps

#[test]
fn sweep_key_naming_a_missing_app() {
    let text = format!("{BASE}\n[sweep]\n\"app.nope.process.web.count\" = [1, 2]\n");
    Case::new("sweep app.nope", &text).rejects_both(&Expect {
        at: Some("app.nope"),
        key: Some("sweep.\"app.nope.process.web.count\""),
        phrases: &["no `app` named `nope`", "shop"],
    });
}

#[test]
fn sweep_value_failing_validation_points_at_the_sweep() {
    let text = format!("{BASE}\n[sweep]\n\"app.shop.process.web.count\" = [1, -1]\n");
    Case::new("sweep count -1", &text).rejects_both(&Expect {
        at: Some("[1, -1]"),
        key: Some("sweep.\"app.shop.process.web.count\""),
        phrases: &["`-1`", "app[0].process[0].count", "must not be negative"],
    });
}

#[test]
fn sweep_value_of_wrong_type_blames_its_own_axis() {
    // Two axes; the bad value is on the one that sorts last, so the error must not just blame the
    // first axis.
    let text = format!(
        "{BASE}\n[sweep]\n\"app.shop.process.web.count\" = [1, \"x\"]\n\"app.shop.process.web.concurrency\" = [1, 2]\n"
    );
    Case::new("sweep wrong type", &text).rejects_both(&Expect {
        at: Some("[1, \"x\"]"),
        key: Some("sweep.\"app.shop.process.web.count\""),
        phrases: &["does not fit its key", "invalid type"],
    });
}

#[test]
fn sweep_with_no_values() {
    let text = format!("{BASE}\n[sweep]\n\"app.shop.process.web.count\" = []\n");
    Case::new("empty sweep", &text).rejects(&Expect {
        at: Some("= []"),
        key: Some("sweep.\"app.shop.process.web.count\""),
        phrases: &["at least one value"],
    });
}

#[test]
fn sweep_of_the_seed_is_refused() {
    let text = format!("{BASE}\n[sweep]\nseed = [1, 2]\n");
    Case::new("sweep seed", &text).rejects(&Expect {
        at: Some("[sweep]"),
        key: Some("sweep"),
        phrases: &["only the model can be swept"],
    });
}

// ---------------------------------------------------------------------------------------------
// Files and the command line

#[test]
fn scenario_file_does_not_exist() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("nope.toml");
    let file_s = file.display().to_string();
    let out = dir.path().join("out");
    for args in [
        vec!["run", &file_s, "--out", out.to_str().unwrap(), "--quiet"],
        vec!["check", &file_s],
    ] {
        let o = dynosim(dir.path(), &args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("error: {file_s}: ")),
            "{args:?}: file not named: {stderr}"
        );
        assert!(stderr.contains("cannot read"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    assert!(!out.exists());
    assert_no_partial(dir.path(), "missing file");
}

#[test]
fn two_scenarios_with_the_same_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = dir.path().join("a.toml");
    let b = dir.path().join("b.toml");
    std::fs::write(&a, TINY).unwrap();
    std::fs::write(&b, TINY).unwrap();
    let out = dir.path().join("out");
    let o = dynosim(
        dir.path(),
        &[
            "run",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("error: {}", b.display())),
        "{stderr}"
    );
    assert!(stderr.contains("also named `tiny`"), "{stderr}");
    assert!(!out.exists());
    assert_no_partial(dir.path(), "same name");
}

#[test]
fn failed_run_leaves_previous_output_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = dir.path().join("good.toml");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&good, TINY).unwrap();
    std::fs::write(&bad, TINY.replace("count = 1", "count = -1")).unwrap();
    let out = dir.path().join("out");
    let out_s = out.to_str().unwrap();

    let o = dynosim(
        dir.path(),
        &["run", good.to_str().unwrap(), "--out", out_s, "--quiet"],
    );
    assert!(
        o.status.success(),
        "the good scenario failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let summary = out.join("summary.csv");
    let before = std::fs::read(&summary).expect("summary.csv from the good run");
    let listing = |p: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let files_before = listing(&out);

    let o = dynosim(
        dir.path(),
        &["run", bad.to_str().unwrap(), "--out", out_s, "--quiet"],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("must not be negative"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::fs::read(&summary).expect("summary.csv still there"),
        before,
        "summary.csv changed after a rejected run"
    );
    assert_eq!(listing(&out), files_before, "the output folder changed");
    assert_no_partial(dir.path(), "previous output");
}

#[test]
fn run_without_arguments_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let o = dynosim(dir.path(), &["run"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Usage"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn run_with_unknown_flag_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("tiny.toml");
    std::fs::write(&file, TINY).unwrap();
    let out = dir.path().join("out");
    let o = dynosim(
        dir.path(),
        &[
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--bogus-flag",
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--bogus-flag"), "{stderr}");
    assert!(stderr.contains("Usage"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists(), "a usage error still wrote output");
    assert_no_partial(dir.path(), "unknown flag");
}

#[test]
fn catalog_override_of_an_unknown_size_must_be_complete() {
    let text = format!("{}\n[catalog.mine]\nvcpus = 2\n", BASE);
    Case::new("incomplete new size", &text).rejects(&Expect {
        at: Some("[catalog.mine]"),
        key: Some("catalog.mine"),
        phrases: &["not a catalog size", "must set every field"],
    });
}

#[test]
fn catalog_override_with_an_impossible_value() {
    let text = format!("{}\n[catalog.\"standard-1x\"]\nvcpus = 0\n", BASE);
    Case::new("zero vcpus", &text).rejects(&Expect {
        at: Some("vcpus = 0"),
        key: Some("catalog.standard-1x.vcpus"),
        phrases: &["at least one vCPU"],
    });
}

#[test]
fn a_sweep_entry_that_is_not_a_list() {
    let text = format!("{}\n[sweep]\n\"app.shop.process.web.count\" = 3\n", BASE);
    Case::new("sweep scalar", &text).rejects(&Expect {
        at: Some("\"app.shop.process.web.count\" = 3"),
        key: Some("sweep.\"app.shop.process.web.count\""),
        phrases: &["expected a list of values"],
    });
}

// ---------------------------------------------------------------------------------------------
// Fixed-shape tables (serde structs): unknown keys with a hint, wrong types, bad keywords, and
// the range checks serde cannot do, each at its line and key.

#[test]
fn lifecycle_unknown_key_suggests_the_right_one() {
    let text = format!("{BASE}\n[lifecycle]\ncyclng = false\n");
    Case::new("lifecycle cyclng", &text).rejects_both(&Expect {
        at: Some("cyclng"),
        key: Some("lifecycle.cyclng"),
        phrases: &[
            "unknown field `cyclng`",
            "did you mean `cycling`?",
            "`drain`",
        ],
    });
}

#[test]
fn lifecycle_of_the_wrong_shape() {
    let text = base_with("seed = 1", "seed = 1\nlifecycle = 3");
    Case::new("lifecycle = 3", &text).rejects(&Expect {
        at: Some("lifecycle = 3"),
        key: Some("lifecycle"),
        phrases: &["invalid type: integer `3`", "a table such as [lifecycle]"],
    });
    let text = format!("{BASE}\n[lifecycle]\ncycling = \"no\"\n");
    Case::new("cycling = \"no\"", &text).rejects(&Expect {
        at: Some("cycling"),
        key: Some("lifecycle.cycling"),
        phrases: &["invalid type: string \"no\"", "expected a boolean"],
    });
    let text = format!("{BASE}\n[lifecycle]\ndrain = \"0s\"\n");
    Case::new("drain = 0s", &text).rejects(&Expect {
        at: Some("drain"),
        key: Some("lifecycle.drain"),
        phrases: &["must be longer than zero"],
    });
    let text = format!("{BASE}\n[lifecycle]\nbackoff = [\"0s\", 5]\n");
    Case::new("backoff with an integer", &text).rejects(&Expect {
        at: Some("backoff"),
        key: Some("lifecycle.backoff[1]"),
        phrases: &["expected a duration string", "`5`"],
    });
}

#[test]
fn placement_policy_typo_suggests_the_right_one() {
    let text = format!("{BASE}\n[placement]\npolicy = \"binpak\"\n");
    Case::new("policy binpak", &text).rejects_both(&Expect {
        at: Some("binpak"),
        key: Some("placement.policy"),
        phrases: &["unknown variant `binpak`", "did you mean `binpack`?"],
    });
    let text = format!("{BASE}\n[placement]\ninstances = 2.5\n");
    Case::new("instances 2.5", &text).rejects(&Expect {
        at: Some("instances"),
        key: Some("placement.instances"),
        phrases: &["must be a whole number"],
    });
}

#[test]
fn cpu_mode_of_the_wrong_type() {
    let text = format!("{BASE}\n[cpu]\nmode = 3\n");
    Case::new("cpu mode 3", &text).rejects(&Expect {
        at: Some("mode = 3"),
        key: Some("cpu.mode"),
        phrases: &["invalid type: integer `3`", "\"fluid\", \"cfs\""],
    });
    let text = format!("{BASE}\n[cpu]\nmode = \"cfs\"\nphase = \"1s\"\n");
    Case::new("phase past the period", &text).rejects(&Expect {
        at: Some("phase"),
        key: Some("cpu.phase"),
        phrases: &["must be shorter than the period"],
    });
}

#[test]
fn noise_keyword_and_keys() {
    let text = base_with("seed = 1", "seed = 1\nnoise = \"of\"");
    Case::new("noise = of", &text).rejects(&Expect {
        at: Some("noise"),
        key: Some("noise"),
        phrases: &["expected \"off\" or a table", "`\"of\"`"],
    });
    let text = format!("{BASE}\n[noise]\nlod = 0.5\n");
    Case::new("noise lod", &text).rejects(&Expect {
        at: Some("lod"),
        key: Some("noise.lod"),
        phrases: &["unknown field `lod`", "did you mean `load`?"],
    });
    let text = format!("{BASE}\n[noise]\nload = nan\n");
    Case::new("noise load nan", &text).rejects(&Expect {
        at: Some("load = nan"),
        key: Some("noise.load"),
        phrases: &["not NaN"],
    });
}

#[test]
fn router_and_filesystem_keys() {
    let text = format!("{BASE}\n[app.router]\nkeepalive = \"yes\"\n");
    Case::new("keepalive yes", &text).rejects(&Expect {
        at: Some("keepalive"),
        key: Some("app[0].router.keepalive"),
        phrases: &["expected a boolean"],
    });
    let text = format!("{BASE}\n[app.router]\nrouters = 0\n");
    Case::new("routers 0", &text).rejects(&Expect {
        at: Some("routers = 0"),
        key: Some("app[0].router.routers"),
        phrases: &["must be between 1 and 255, found 0"],
    });
    let text = format!("{BASE}\n[app.filesystem]\nslug_mbb = 80\n");
    Case::new("slug_mbb", &text).rejects_both(&Expect {
        at: Some("slug_mbb"),
        key: Some("app[0].filesystem.slug_mbb"),
        phrases: &["unknown field `slug_mbb`", "did you mean `slug_mb`?"],
    });
}

#[test]
fn memory_crash_and_calls_keys() {
    let text = base_with("concurrency = 1", "concurrency = 1\nmemory = { leak = 3 }");
    Case::new("memory leak", &text).rejects(&Expect {
        at: Some("leak"),
        key: Some("app[0].process[0].memory.leak"),
        phrases: &["unknown field `leak`", "`base_mb`"],
    });
    let text = format!("{BASE}\n[[app.crash]]\nprocess = \"web\"\n");
    Case::new("crash without at", &text).rejects(&Expect {
        at: Some("[[app.crash]]"),
        key: Some("app[0].crash[0].at"),
        phrases: &["missing required key `at`"],
    });
    let text = format!("{BASE}\n[[app.crash]]\nat = \"1s\"\ndyno = 3\n");
    Case::new("crash dyno 3", &text).rejects(&Expect {
        at: Some("dyno = 3"),
        key: Some("app[0].crash[0].dyno"),
        phrases: &["has dynos 1 to 2, found 3"],
    });
    let text = format!("{BASE}\n[[app.workload.calls]]\ncpu = \"1ms\"\ntimeout = \"1s\"\n");
    Case::new("call timeout", &text).rejects(&Expect {
        at: Some("timeout"),
        key: Some("app[0].workload.calls[0].timeout"),
        phrases: &["unknown field `timeout`", "`parallel`"],
    });
}

#[test]
fn space_kind_typo_suggests_the_right_one() {
    let text =
        format!("{BASE}\n[[space]]\nname = \"prod\"\nkind = \"privat\"\nregion = \"virginia\"\n");
    Case::new("kind privat", &text).rejects_both(&Expect {
        at: Some("privat"),
        key: Some("space[0].kind"),
        phrases: &["unknown variant `privat`", "did you mean `private`?"],
    });
}

#[test]
fn sweep_of_a_bad_keyword_points_at_the_sweep() {
    let text = format!("{BASE}\n[sweep]\n\"placement.policy\" = [\"spread\", \"binpak\"]\n");
    Case::new("sweep policy", &text).rejects_both(&Expect {
        at: Some("binpak"),
        key: Some("sweep.\"placement.policy\""),
        phrases: &["`binpak`", "unknown variant", "did you mean `binpack`?"],
    });
}
