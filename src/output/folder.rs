//! What an output folder is: the files dynosim writes into one, and which existing folders a
//! run or a merge may replace.
//!
//! Replacing a folder deletes what was in it, so only a folder that dynosim itself wrote may be
//! replaced: one whose `manifest.json` names dynosim and which holds nothing but files dynosim
//! writes (or an empty folder). Anything else, such as a project folder given to `--out` by
//! mistake, is refused before anything is simulated, and nothing is touched.

use serde::Deserialize;
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// The CSV tables of an output folder (docs/csv.md describes each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    Summary,
    Endpoints,
    Windows,
    Dynos,
    Events,
    Instances,
    Tiers,
    Requests,
}

impl Table {
    pub const ALL: [Table; 8] = [
        Table::Summary,
        Table::Endpoints,
        Table::Windows,
        Table::Dynos,
        Table::Events,
        Table::Instances,
        Table::Tiers,
        Table::Requests,
    ];

    /// The file name, e.g. `summary.csv`.
    pub fn file(self) -> &'static str {
        match self {
            Table::Summary => "summary.csv",
            Table::Endpoints => "endpoints.csv",
            Table::Windows => "windows.csv",
            Table::Dynos => "dynos.csv",
            Table::Events => "events.csv",
            Table::Instances => "instances.csv",
            Table::Tiers => "tiers.csv",
            Table::Requests => "requests.csv",
        }
    }

    /// The file name of its Parquet copy (`--format parquet|both`), e.g. `summary.parquet`.
    pub fn parquet_file(self) -> &'static str {
        match self {
            Table::Summary => "summary.parquet",
            Table::Endpoints => "endpoints.parquet",
            Table::Windows => "windows.parquet",
            Table::Dynos => "dynos.parquet",
            Table::Events => "events.parquet",
            Table::Instances => "instances.parquet",
            Table::Tiers => "tiers.parquet",
            Table::Requests => "requests.parquet",
        }
    }

    /// The table stored in `file`, if any.
    pub fn of_file(file: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.file() == file)
    }
}

/// What `dynosim plan` writes besides the manifest (see [`crate::plan`]).
pub const PLAN_FILES: [&str; 5] = [
    "plan.csv",
    "plan.parquet",
    "plan_cost.png",
    "plan_cost.svg",
    "report.html",
];

/// How the folder was made (see [`super::manifest`]).
pub const MANIFEST_FILE: &str = "manifest.json";

/// The file in a shard folder that carries tiers.csv's inputs (see [`super::merge`]).
pub const TIER_PARTS_FILE: &str = "shard-tiers.jsonl";

/// The data files of a folder that the manifest records (rows and content hash): every table
/// (CSV and Parquet) and the shard's tier parts.
pub fn data_files() -> impl Iterator<Item = &'static str> {
    Table::ALL
        .into_iter()
        .map(Table::file)
        .chain(Table::ALL.into_iter().map(Table::parquet_file))
        .chain([TIER_PARTS_FILE])
}

/// Whether dynosim writes a file of this name into an output folder: the tables, the manifest,
/// the tier parts, the plots, and the temporary file of an atomic write that was cut short
/// (`<stem>.tmp`, see [`super::write_atomic`]).
pub fn is_output_file(name: &str) -> bool {
    let plots: Vec<String> = super::plot::figure_names()
        .flat_map(|f| [format!("{f}.png"), format!("{f}.svg")])
        .collect();
    let known = || {
        data_files()
            .map(str::to_string)
            .chain([MANIFEST_FILE.to_string()])
            .chain(PLAN_FILES.iter().map(|f| f.to_string()))
            .chain(plots.iter().cloned())
    };
    if known().any(|k| k == name) {
        return true;
    }
    name.strip_suffix(".tmp")
        .is_some_and(|stem| known().any(|k| Path::new(&k).file_stem() == Some(stem.as_ref())))
}

/// The manifest fields that identify a folder written by dynosim.
#[derive(Deserialize)]
struct Identity {
    dynosim_version: String,
}

/// Manifests larger than this are not read to identify a folder (a run's manifest lists one
/// object per job, about 150 bytes, for at most 100,000 jobs).
const MANIFEST_LIMIT: u64 = 256 << 20;

/// Whether the existing `path` may be replaced by new results: it does not exist, or it is an
/// empty folder, or a folder dynosim wrote. The error says why not, naming what is in the way
/// (never a file's contents).
pub fn check_replaceable(path: &Path) -> Result<(), String> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot inspect it: {e}")),
    };
    if !meta.is_dir() {
        return Err("it exists and is not a folder".into());
    }
    let entries = fs::read_dir(path).map_err(|e| format!("cannot list it: {e}"))?;
    let mut foreign = Vec::new();
    let mut manifest = false;
    let mut empty = true;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list it: {e}"))?;
        empty = false;
        let name = entry.file_name();
        let regular = entry.file_type().is_ok_and(|t| t.is_file());
        match name.to_str() {
            Some(n) if regular && is_output_file(n) => manifest |= n == MANIFEST_FILE,
            _ => foreign.push(name.to_string_lossy().into_owned()),
        }
    }
    if empty {
        return Ok(());
    }
    if !foreign.is_empty() {
        return Err(in_the_way(
            foreign,
            "a dynosim output folder",
            "dynosim does not write",
        ));
    }
    if !manifest {
        return Err(format!(
            "it is not a dynosim output folder: it has no {MANIFEST_FILE}"
        ));
    }
    let file =
        fs::File::open(path.join(MANIFEST_FILE)).map_err(|e| format!("{MANIFEST_FILE}: {e}"))?;
    match serde_json::from_reader::<_, Identity>(io::BufReader::new(file.take(MANIFEST_LIMIT))) {
        Ok(id) if !id.dynosim_version.is_empty() => Ok(()),
        _ => Err(format!(
            "it is not a dynosim output folder: its {MANIFEST_FILE} was not written by dynosim"
        )),
    }
}

/// Why a folder holding `foreign` entries is not `what`: up to three of them named (never a
/// file's contents), sorted so the message is the same on every file system.
fn in_the_way(mut foreign: Vec<String>, what: &str, writer: &str) -> String {
    foreign.sort();
    let shown: Vec<String> = foreign.iter().take(3).map(|n| format!("`{n}`")).collect();
    let more = match foreign.len() {
        n if n > 3 => format!(" and {} more", n - 3),
        _ => String::new(),
    };
    format!(
        "it is not {what}: it holds {}{more}, which {writer}",
        shown.join(", ")
    )
}

/// The manifest of a folder written by `dynosim import` (see [`crate::import`]), and the kind
/// it names.
pub const IMPORT_MANIFEST_FILE: &str = "import.json";
pub const IMPORT_KIND: &str = "heroku-router-import";

/// The files and folders an import writes (folders hold only `.csv` files).
const IMPORT_FILES: [&str; 2] = ["scenario.toml", IMPORT_MANIFEST_FILE];
const IMPORT_DIRS: [&str; 2] = ["service", "traces"];

/// The kinds of folder dynosim writes, each with its own rule for what may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderKind {
    /// A run's, a merge's or a plan's output folder ([`check_replaceable`]).
    Output,
    /// An imported scenario folder ([`check_replaceable_import`]).
    Import,
}

impl FolderKind {
    pub fn check_replaceable(self, path: &Path) -> Result<(), String> {
        match self {
            FolderKind::Output => check_replaceable(path),
            FolderKind::Import => check_replaceable_import(path),
        }
    }
}

/// The identity an import's manifest carries.
#[derive(Deserialize)]
struct ImportIdentity {
    dynosim_version: String,
    kind: String,
}

/// Whether `path` may be replaced by an imported scenario folder: it does not exist, it is an
/// empty folder, or an earlier import wrote it (its `import.json` names dynosim and the import,
/// and it holds only `scenario.toml`, `import.json` and `.csv` files in `service/` and
/// `traces/`). Anything else, such as a run's output folder or a project, is refused naming up
/// to three of the entries in the way (never a file's contents).
pub fn check_replaceable_import(path: &Path) -> Result<(), String> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot inspect it: {e}")),
    };
    if !meta.is_dir() {
        return Err("it exists and is not a folder".into());
    }
    let list = |p: &Path| -> Result<Vec<(String, fs::FileType)>, String> {
        let mut out = Vec::new();
        for entry in fs::read_dir(p).map_err(|e| format!("cannot list it: {e}"))? {
            let entry = entry.map_err(|e| format!("cannot list it: {e}"))?;
            let t = entry
                .file_type()
                .map_err(|e| format!("cannot list it: {e}"))?;
            out.push((entry.file_name().to_string_lossy().into_owned(), t));
        }
        Ok(out)
    };
    let entries = list(path)?;
    if entries.is_empty() {
        return Ok(());
    }
    let mut foreign = Vec::new();
    for (name, t) in &entries {
        if t.is_file() && IMPORT_FILES.contains(&name.as_str()) {
            continue;
        }
        if t.is_dir() && IMPORT_DIRS.contains(&name.as_str()) {
            for (inner, it) in list(&path.join(name))? {
                if !(it.is_file() && inner.ends_with(".csv")) {
                    foreign.push(format!("{name}/{inner}"));
                }
            }
            continue;
        }
        foreign.push(name.clone());
    }
    if !foreign.is_empty() {
        return Err(in_the_way(
            foreign,
            "a folder written by `dynosim import`",
            "an import does not write",
        ));
    }
    let not_ours = || {
        format!(
            "it is not a folder written by `dynosim import`: it has no {IMPORT_MANIFEST_FILE} of an import"
        )
    };
    let file = fs::File::open(path.join(IMPORT_MANIFEST_FILE)).map_err(|_| not_ours())?;
    match serde_json::from_reader::<_, ImportIdentity>(io::BufReader::new(
        file.take(MANIFEST_LIMIT),
    )) {
        Ok(id) if !id.dynosim_version.is_empty() && id.kind == IMPORT_KIND => Ok(()),
        _ => Err(not_ours()),
    }
}

/// `path` made absolute with symbolic links resolved, so that two spellings of one folder
/// compare equal: the longest prefix that exists is canonicalised, and the rest (which does not
/// exist yet) is applied to it component by component, `..` included.
pub fn resolve(path: &Path) -> io::Result<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let parts: Vec<Component<'_>> = abs.components().collect();
    for split in (1..=parts.len()).rev() {
        let prefix: PathBuf = parts[..split].iter().collect();
        let Ok(mut base) = prefix.canonicalize() else {
            continue;
        };
        for c in &parts[split..] {
            match c {
                Component::ParentDir => {
                    base.pop();
                }
                Component::Normal(n) => base.push(n),
                _ => {}
            }
        }
        return Ok(base);
    }
    Ok(abs)
}

/// Whether `a` is `b`, inside `b`, or contains `b` (both resolved with [`resolve`]).
pub fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_dynosim_writes() {
        for n in [
            "summary.csv",
            "requests.csv",
            "requests.parquet",
            "manifest.json",
            "shard-tiers.jsonl",
            "latency_cdf.png",
            "sweep_p99_cost.svg",
            "manifest.tmp",
            "p99_over_time.tmp",
        ] {
            assert!(is_output_file(n), "{n}");
        }
        for n in [
            "scenario.toml",
            "notes.txt",
            "summary.csv.bak",
            "x.tmp",
            ".summary.csv",
        ] {
            assert!(!is_output_file(n), "{n}");
        }
    }

    #[test]
    fn refuses_folders_dynosim_did_not_write() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path().join("d");
        assert!(check_replaceable(&d).is_ok(), "missing is fine");
        fs::create_dir(&d).expect("mkdir");
        assert!(check_replaceable(&d).is_ok(), "empty is fine");
        fs::write(d.join("summary.csv"), "a\n").expect("write");
        let e = check_replaceable(&d).expect_err("no manifest");
        assert!(e.contains("no manifest.json"), "{e}");
        fs::write(d.join("manifest.json"), "{\"name\": 1}").expect("write");
        let e = check_replaceable(&d).expect_err("foreign manifest");
        assert!(e.contains("not written by dynosim"), "{e}");
        fs::write(d.join("manifest.json"), "{\"dynosim_version\": \"0.1.0\"}").expect("write");
        assert!(check_replaceable(&d).is_ok());
        fs::write(d.join("s.toml"), "secret = 1").expect("write");
        fs::create_dir(d.join("traces")).expect("mkdir");
        let e = check_replaceable(&d).expect_err("foreign files");
        assert!(e.contains("`s.toml`, `traces`"), "{e}");
        assert!(!e.contains("secret"), "never echoes contents: {e}");
        let f = tmp.path().join("file");
        fs::write(&f, "x").expect("write");
        assert!(check_replaceable(&f).is_err());
    }

    #[test]
    fn an_import_replaces_only_an_earlier_import() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path().join("imp");
        assert!(check_replaceable_import(&d).is_ok(), "missing is fine");
        fs::create_dir(&d).expect("mkdir");
        assert!(check_replaceable_import(&d).is_ok(), "empty is fine");
        fs::write(d.join("scenario.toml"), "x").expect("write");
        fs::create_dir(d.join("service")).expect("mkdir");
        fs::write(d.join("service/all.csv"), "demand_ms\n1\n").expect("write");
        let e = check_replaceable_import(&d).expect_err("no manifest");
        assert!(e.contains("no import.json"), "{e}");
        // A run's manifest is not an import's.
        fs::write(d.join("import.json"), "{\"dynosim_version\": \"0.1.0\"}").expect("write");
        assert!(check_replaceable_import(&d).is_err());
        fs::write(
            d.join("import.json"),
            format!("{{\"dynosim_version\": \"0.1.0\", \"kind\": \"{IMPORT_KIND}\"}}"),
        )
        .expect("write");
        assert!(check_replaceable_import(&d).is_ok());
        fs::write(d.join("service/notes.txt"), "secret").expect("write");
        fs::write(d.join("summary.csv"), "a").expect("write");
        let e = check_replaceable_import(&d).expect_err("foreign files");
        assert!(e.contains("`service/notes.txt`, `summary.csv`"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        // And a run may not replace an import.
        assert!(check_replaceable(&d).is_err());
    }

    #[test]
    fn resolves_relative_dotdot_and_symlinked_paths() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let real = tmp.path().join("real");
        fs::create_dir(&real).expect("mkdir");
        std::os::unix::fs::symlink(&real, tmp.path().join("link")).expect("symlink");
        let canon = real.canonicalize().expect("canon");
        assert_eq!(resolve(&tmp.path().join("link")).expect("ok"), canon);
        assert_eq!(
            resolve(&tmp.path().join("link/new/../x")).expect("ok"),
            canon.join("x")
        );
        assert_eq!(resolve(&tmp.path().join("real/sub/..")).expect("ok"), canon);
        assert!(overlaps(&canon, &canon.join("a")));
        assert!(overlaps(&canon.join("a"), &canon));
        assert!(!overlaps(&canon.join("a"), &canon.join("ab")));
    }
}
