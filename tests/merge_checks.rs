//! `dynosim merge` refuses what would destroy or corrupt results (issue 14): an `--out` that is,
//! holds or sits inside a shard folder however it is spelled, and shards whose files no longer
//! match the rows and hashes their manifests recorded.

mod cli_support;
use cli_support::dynosim;

use std::path::{Path, PathBuf};
use std::process::Output;

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

/// Exit code 2 and every needle in the message.
fn rejects(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "expected exit 2: {err}");
    for n in needles {
        assert!(err.contains(n), "expected `{n}` in: {err}");
    }
}

const GRID: &str = r#"
name = "grid"
seed = 9
duration = "3m"
warmup = "30s"
replications = 2

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "standard-1x"
count = 2

[app.workload]
arrivals = { poisson = 20.0 }
cpu = { exponential = "15ms" }

[sweep]
"app.shop.process.web.count" = [2, 3]
"#;

/// Two shards of GRID under `dir/r.shard-K-of-2`.
fn shards(dir: &Path) -> Vec<PathBuf> {
    let sc = dir.join("grid.toml");
    std::fs::write(&sc, GRID).expect("write");
    for k in 0..2 {
        ok(&[
            "run",
            s(&sc),
            "--out",
            s(&dir.join("r")),
            "--shard",
            &format!("{k}/2"),
            "--quiet",
        ]);
    }
    (0..2)
        .map(|k| dir.join(format!("r.shard-{k}-of-2")))
        .collect()
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("list")
        .flatten()
        .map(|e| {
            let p = e.path();
            let bytes = if p.is_file() {
                std::fs::read(&p).expect("read")
            } else {
                Vec::new()
            };
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn merge_refuses_an_out_that_is_holds_or_is_inside_a_shard() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sh = shards(tmp.path());
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&sh[0], &link).expect("symlink");
    let before: Vec<_> = sh.iter().map(|d| snapshot(d)).collect();
    let cases: [(PathBuf, &str); 5] = [
        // The parent of the shards: replacing it deleted them (issue 14).
        (tmp.path().to_path_buf(), "contains the shard folder"),
        (sh[1].join(".."), "contains the shard folder"),
        (link.clone(), "is one of the shard folders"),
        (sh[0].join("sub/.."), "is one of the shard folders"),
        (sh[1].join("merged"), "is inside the shard folder"),
    ];
    for (out, why) in &cases {
        let r = dynosim(&["merge", s(&sh[0]), s(&sh[1]), "--out", s(out)]);
        rejects(&r, &[why]);
    }
    // Relative to the current directory.
    let r = cli_support::command(&[])
        .args(["merge", "r.shard-0-of-2", "r.shard-1-of-2", "--out", "."])
        .current_dir(tmp.path())
        .output()
        .expect("runs");
    rejects(&r, &["contains the shard folder"]);
    let after: Vec<_> = sh.iter().map(|d| snapshot(d)).collect();
    assert!(before == after, "the shards are untouched");
    assert!(!sh[1].join("merged").exists());
    ok(&[
        "merge",
        s(&sh[0]),
        s(&sh[1]),
        "--out",
        s(&tmp.path().join("m")),
        "--quiet",
    ]);
}

/// A copy of the shards in `dir`, with `damage` applied to shard 1's `file`.
fn damaged(
    src: &[PathBuf],
    dir: &Path,
    file: &str,
    damage: impl Fn(&str) -> String,
) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("mkdir");
    src.iter()
        .enumerate()
        .map(|(k, sh)| {
            let to = dir.join(sh.file_name().expect("name"));
            std::fs::create_dir_all(&to).expect("mkdir");
            for e in std::fs::read_dir(sh).expect("list").flatten() {
                std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
            }
            if k == 1 {
                let p = to.join(file);
                let text = std::fs::read_to_string(&p).expect("read");
                std::fs::write(&p, damage(&text)).expect("write");
            }
            to
        })
        .collect()
}

fn drop_last_line(t: &str) -> String {
    let mut lines: Vec<&str> = t.lines().collect();
    lines.pop();
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn merge_refuses_shards_whose_files_do_not_match_their_manifest() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sh = shards(tmp.path());
    let header_only = |t: &str| format!("{}\n", t.lines().next().unwrap_or(""));
    let duplicate = |t: &str| {
        let mut lines: Vec<&str> = t.lines().collect();
        lines.insert(2, lines[1]);
        lines.iter().map(|l| format!("{l}\n")).collect()
    };
    let truncate = |t: &str| t[..t.len() / 2].to_string();
    let last_cut_at_line = |t: &str| drop_last_line(t);
    let edit_cell = |t: &str| {
        // Same rows, one digit changed in the last row.
        let i = t
            .trim_end()
            .rfind(|c: char| c.is_ascii_digit())
            .expect("a digit");
        let mut b = t.as_bytes().to_vec();
        b[i] = if b[i] == b'9' { b'8' } else { b[i] + 1 };
        String::from_utf8(b).expect("utf-8")
    };
    type Damage<'a> = (&'a str, &'a dyn Fn(&str) -> String, &'a str);
    let cases: [Damage<'_>; 6] = [
        (
            "summary.csv",
            &drop_last_line,
            "data row(s) but its manifest records",
        ),
        (
            "windows.csv",
            &duplicate,
            "data row(s) but its manifest records",
        ),
        ("dynos.csv", &header_only, "has 0 data row(s)"),
        (
            "shard-tiers.jsonl",
            &last_cut_at_line,
            "data row(s) but its manifest records",
        ),
        ("shard-tiers.jsonl", &truncate, "shard-tiers.jsonl"),
        ("instances.csv", &edit_cell, "does not match its manifest"),
    ];
    for (i, (file, damage, why)) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("case{i}"));
        let bad = damaged(&sh, &dir, file, damage);
        let out = dir.join("merged");
        let r = dynosim(&["merge", s(&bad[0]), s(&bad[1]), "--out", s(&out)]);
        rejects(&r, &[why, "r.shard-1-of-2", file]);
        assert!(!out.exists(), "{file}: nothing written");
        let staging: Vec<_> = std::fs::read_dir(&dir)
            .expect("list")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("partial"))
            .collect();
        assert!(staging.is_empty(), "{file}: staging left: {staging:?}");
    }
    // A shard from before the records, or whose manifest lost them: refused, not trusted.
    let dir = tmp.path().join("norecords");
    let bad = damaged(&sh, &dir, "manifest.json", |t| {
        let mut v: serde_json::Value = serde_json::from_str(t).expect("json");
        v.as_object_mut().expect("object").remove("files");
        serde_json::to_string_pretty(&v).expect("json")
    });
    let r = dynosim(&["merge", s(&bad[0]), s(&bad[1]), "--out", s(&dir.join("m"))]);
    rejects(&r, &["records no row counts and hashes"]);
    // A CSV the manifest does not know.
    let dir = tmp.path().join("extra");
    let bad = damaged(&sh, &dir, "summary.csv", |t| t.to_string());
    for b in &bad {
        std::fs::copy(b.join("summary.csv"), b.join("extra.csv")).expect("copy");
    }
    let r = dynosim(&["merge", s(&bad[0]), s(&bad[1]), "--out", s(&dir.join("m"))]);
    rejects(&r, &["do not match its manifest's records", "extra.csv"]);
    // The undamaged shards still merge, and the merged manifest records its own files.
    let m = tmp.path().join("m");
    ok(&["merge", s(&sh[0]), s(&sh[1]), "--out", s(&m), "--quiet"]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.join("manifest.json")).expect("read"))
            .expect("json");
    let rows = manifest["files"]["summary.csv"]["rows"].as_u64();
    let lines = std::fs::read_to_string(m.join("summary.csv"))
        .expect("read")
        .lines()
        .count() as u64;
    assert_eq!(rows, Some(lines - 1));
    assert_eq!(
        manifest["files"]["summary.csv"]["sha256"]
            .as_str()
            .map(str::len),
        Some(64)
    );
}
