//! manifest.json: how an output folder was made, as one typed struct that `run` and `merge`
//! write and `merge` reads (docs/csv.md#manifestjson lists every key).
//!
//! The identity of the folder (version, scenario, its hash and seed) is common to every folder
//! dynosim writes; what a simulated run adds (points, jobs, options, shard, plots) is
//! [`RunInfo`]; anything else a writer records (validate's real run: the machine, the dynos'
//! measured figures) goes to [`Manifest::extra`], so one reader reads every manifest.
//!
//! `files` records each data file's row count and SHA-256, so that a shard corrupted or cut short
//! after its run (a lost last row, a duplicated row, a truncated file) is refused by `merge`
//! instead of being merged into wrong results.

use super::atomic::OutputError;
use super::folder::{MANIFEST_FILE, data_files};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// One manifest.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Version of the binary that wrote the folder; its presence marks a folder dynosim wrote.
    pub dynosim_version: String,
    /// Scenario name.
    pub scenario: String,
    /// The scenario file, as named on the command line.
    pub file: String,
    /// SHA-256 (hex) of the scenario file's bytes.
    pub scenario_sha256: String,
    /// The scenario seed, after any `--seed` override.
    pub seed: u64,
    /// What a simulated run records (absent in validate's real-run folders).
    #[serde(flatten)]
    pub run: Option<RunInfo>,
    /// Row count and content hash of each data file, by file name (absent in folders written by
    /// versions before it was added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<BTreeMap<String, FileRecord>>,
    /// Keys this struct does not type (validate's measurements), kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The keys of a simulated run's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub replications: u32,
    pub common_random_numbers: bool,
    /// The swept keys, in column order.
    pub sweep_keys: Vec<String>,
    pub points: Vec<PointInfo>,
    /// The jobs in this folder, in job order.
    pub jobs: Vec<JobInfo>,
    pub options: RunOptionsInfo,
    /// Jobs in the whole run, whether or not this folder holds them all.
    pub jobs_total: usize,
    /// This folder's shard; `null` for a whole or merged run.
    pub shard: Option<ShardInfo>,
    /// Only in a merged folder: the shard folders it was merged from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<Vec<MergedFrom>>,
    /// The plot files written into the folder.
    pub plots: Vec<String>,
    /// Warnings about the scenario.
    pub warnings: Vec<String>,
    /// Wall-clock time the manifest was written, Unix seconds.
    pub written_at_unix_s: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointInfo {
    pub point: usize,
    /// The sweep values as strings, in the order of `sweep_keys`.
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobInfo {
    pub job: usize,
    pub point: usize,
    pub replication: u32,
    /// The job seed, as in the CSVs.
    pub seed: u64,
    /// Events the engine handled.
    pub events: u64,
    /// Requests generated, warmup included.
    pub requests_generated: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOptionsInfo {
    /// Whether `--requests` was given.
    pub requests: bool,
    /// Worker threads used; `null` in a merged folder.
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    pub index: u32,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedFrom {
    pub folder: String,
    pub shard: ShardInfo,
    pub threads: Option<usize>,
    pub written_at_unix_s: Option<u64>,
}

/// What a data file held when it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Data rows: CSV records after the header; lines of a `.jsonl` file.
    pub rows: u64,
    pub bytes: u64,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
}

impl Manifest {
    /// Read `dir/manifest.json`. The error names the file (and, from serde, the line and column).
    pub fn read(dir: &Path) -> Result<Manifest, String> {
        let path = dir.join(MANIFEST_FILE);
        let file =
            File::open(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        let value: Value = serde_json::from_reader(BufReader::new(file))
            .map_err(|e| format!("`{}` is not valid JSON: {e}", path.display()))?;
        let manifest: Manifest = serde_json::from_value(value.clone())
            .map_err(|e| format!("`{}`: {e}", path.display()))?;
        // A run manifest with a bad key would otherwise fall silently into `extra`.
        if manifest.run.is_none() && value.get("jobs").is_some() {
            if let Err(e) = serde_json::from_value::<RunInfo>(value) {
                return Err(format!("`{}`: {e}", path.display()));
            }
        }
        Ok(manifest)
    }

    /// The manifest as written: pretty JSON with its keys in alphabetical order.
    pub fn to_json(&self) -> String {
        // Through a Value, whose maps are sorted: the documented key order, whatever the order
        // of the fields above.
        serde_json::to_value(self)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_default()
    }

    /// Write `dir/manifest.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), OutputError> {
        let path = dir.join(MANIFEST_FILE);
        super::write_atomic(&path, self.to_json().as_bytes()).map_err(|e| OutputError {
            path,
            what: "cannot write".into(),
            source: e,
        })
    }
}

/// Wall-clock seconds since the Unix epoch, for `written_at_unix_s`.
pub fn now_unix_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A reader that hashes and counts the bytes read through it.
pub struct Hashing<R> {
    inner: R,
    hash: Sha256,
    bytes: u64,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Hashing<R> {
        Hashing {
            inner,
            hash: Sha256::new(),
            bytes: 0,
        }
    }

    /// Read what is left (so the hash covers the whole input), then the record for `rows`.
    pub fn finish(mut self, rows: u64) -> io::Result<FileRecord> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(FileRecord {
            rows,
            bytes: self.bytes,
            sha256: hex(&self.hash.finalize()),
        })
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The record of one data file: CSV records after the header, the rows of a Parquet file (from
/// its footer), or non-empty lines of a `.jsonl` file, as `merge` counts them when it reads the
/// file. The files dynosim writes end
/// every record with a newline and have no blank lines, so a CSV's records are its newlines
/// outside quoted cells, found in one pass with the hash (no CSV parsing: requests.csv can hold
/// gigabytes).
pub fn record_file(path: &Path) -> io::Result<FileRecord> {
    let mut file = File::open(path)?;
    let is_csv = path.extension().is_some_and(|e| e == "csv");
    let mut hash = Sha256::new();
    let (mut bytes, mut lines, mut blank_lines) = (0u64, 0u64, 0u64);
    let (mut in_quotes, mut line_empty) = (false, true);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        hash.update(chunk);
        bytes += n as u64;
        if is_csv && !in_quotes && !chunk.contains(&b'"') {
            // The common case: no quoted cell in this chunk.
            lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            continue;
        }
        for &b in chunk {
            match b {
                b'"' if is_csv => in_quotes = !in_quotes,
                b'\n' if !in_quotes => {
                    lines += 1;
                    blank_lines += u64::from(line_empty);
                    line_empty = true;
                }
                b if !b.is_ascii_whitespace() => line_empty = false,
                _ => {}
            }
        }
    }
    if bytes > 0 && buf_last_is_not_newline(path, bytes)? {
        lines += 1;
    }
    let rows = if is_csv {
        lines.saturating_sub(1)
    } else if path.extension().is_some_and(|e| e == "parquet") {
        super::parquet::row_count(path)?
    } else {
        lines - blank_lines
    };
    Ok(FileRecord {
        rows,
        bytes,
        sha256: hex(&hash.finalize()),
    })
}

/// Whether a file of `len` bytes does not end with a newline (its last line still counts).
fn buf_last_is_not_newline(path: &Path, len: u64) -> io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let mut last = [0u8; 1];
    File::open(path)?.read_exact_at(&mut last, len - 1)?;
    Ok(last[0] != b'\n')
}

/// The records of every data file present in `dir` ([`data_files`]).
pub fn record_files(dir: &Path) -> Result<BTreeMap<String, FileRecord>, OutputError> {
    let mut files = BTreeMap::new();
    for name in data_files() {
        let path = dir.join(name);
        if !path.exists() {
            continue;
        }
        let record = record_file(&path).map_err(|e| OutputError {
            path: path.clone(),
            what: "cannot read back".into(),
            source: e,
        })?;
        files.insert(name.to_string(), record);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_manifest() -> Manifest {
        Manifest {
            dynosim_version: "0.1.0".into(),
            scenario: "s".into(),
            file: "s.toml".into(),
            scenario_sha256: "ab".into(),
            seed: u64::MAX,
            run: Some(RunInfo {
                replications: 2,
                common_random_numbers: true,
                sweep_keys: vec!["k".into()],
                points: vec![PointInfo {
                    point: 0,
                    values: vec!["1".into()],
                }],
                jobs: vec![JobInfo {
                    job: 0,
                    point: 0,
                    replication: 0,
                    seed: 7,
                    events: 10,
                    requests_generated: 3,
                }],
                options: RunOptionsInfo {
                    requests: false,
                    threads: Some(2),
                },
                jobs_total: 2,
                shard: None,
                merged_from: None,
                plots: vec![],
                warnings: vec![],
                written_at_unix_s: 1,
            }),
            files: Some(BTreeMap::from([(
                "summary.csv".to_string(),
                FileRecord {
                    rows: 1,
                    bytes: 4,
                    sha256: "00".into(),
                },
            )])),
            extra: Map::new(),
        }
    }

    #[test]
    fn round_trips_with_sorted_keys_and_a_null_shard() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let m = run_manifest();
        m.write(tmp.path()).expect("write");
        let text = std::fs::read_to_string(tmp.path().join(MANIFEST_FILE)).expect("read");
        assert!(text.contains("\"shard\": null"), "{text}");
        assert!(!text.contains("merged_from"), "{text}");
        let keys: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("  \""))
            .map(|l| l.trim().split('"').nth(1).unwrap_or(""))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
        assert_eq!(Manifest::read(tmp.path()).expect("read"), m);
    }

    #[test]
    fn reads_a_real_run_manifest_with_its_extra_keys() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let text = r#"{"dynosim_version": "0.1.0", "scenario": "v", "file": "v.toml",
            "scenario_sha256": "cd", "seed": 4, "kind": "real", "machine": {"cpus": [0, 1]}}"#;
        std::fs::write(tmp.path().join(MANIFEST_FILE), text).expect("write");
        let m = Manifest::read(tmp.path()).expect("read");
        assert!(m.run.is_none());
        assert_eq!(m.extra["kind"], "real");
        assert_eq!(m.extra["machine"]["cpus"][1], 1);
        // A run manifest with a bad key is an error naming the key, not a real-run manifest.
        let bad = serde_json::to_string(&run_manifest())
            .expect("json")
            .replace("\"jobs_total\":2", "\"jobs_total\":\"two\"");
        std::fs::write(tmp.path().join(MANIFEST_FILE), bad).expect("write");
        let e = Manifest::read(tmp.path()).expect_err("bad jobs_total");
        assert!(e.contains("manifest.json"), "{e}");
    }

    #[test]
    fn records_rows_and_hashes_of_csv_and_jsonl() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let csv = tmp.path().join("t.csv");
        std::fs::write(&csv, "a,b\n1,\"x\ny\"\n2,z\n").expect("write");
        let r = record_file(&csv).expect("record");
        assert_eq!((r.rows, r.bytes), (2, 16));
        assert_eq!(r.sha256.len(), 64);
        std::fs::write(&csv, "a,b\n").expect("write");
        assert_eq!(record_file(&csv).expect("record").rows, 0);
        let jsonl = tmp.path().join("t.jsonl");
        std::fs::write(&jsonl, "{}\n{}\n").expect("write");
        assert_eq!(record_file(&jsonl).expect("record").rows, 2);
    }
}
