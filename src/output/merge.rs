//! `dynosim merge`: combine the folders of a sharded run into the folder one run would write.
//!
//! A shard folder holds the rows of its own jobs in every per-job CSV, a manifest naming the shard
//! (`shard`, `jobs_total`, its `jobs`), and `shard-tiers.jsonl`: the latency histograms and window
//! quantiles tiers.csv pools. tiers.csv pools over replications, which may sit in different shards,
//! so it cannot be rebuilt from the shards' partial tiers.csv; the parts file carries what it needs,
//! bit for bit, and the merged tiers.csv is computed by the same code as a single run's.
//!
//! Per-job CSVs are merged by streaming: rows are copied in job order from whichever shard ran
//! each job, re-encoded by the same CSV writer that wrote them, so the bytes are those of a single
//! run and memory does not grow with the size of the files (requests.csv can be large).

use super::atomic::{OutputError, StagingDir};
use super::plot::{PlotReport, draw_all};
use super::tables::{TierPart, write_atomic, write_tier_parts};
use crate::model::Tier;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The file in a shard folder that carries tiers.csv's inputs.
pub const TIER_PARTS_FILE: &str = "shard-tiers.jsonl";

/// One [`TierPart`] as a line of `shard-tiers.jsonl`. Floats travel as their IEEE-754 bits and
/// histograms as (bucket value, count) pairs, so nothing is rounded on the way.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartLine {
    job: usize,
    point: usize,
    replication: u32,
    tier: Tier,
    size: String,
    requests: u64,
    completed: u64,
    errors: u64,
    sigfig: u8,
    hist: Vec<(u64, u64)>,
    window_p50_bits: Vec<u64>,
    window_p99_bits: Vec<u64>,
}

/// Write the tier parts of a shard's jobs (job order) to `dir/shard-tiers.jsonl`.
pub fn write_tier_parts_file(dir: &Path, parts: &[TierPart]) -> Result<(), OutputError> {
    let mut text = String::new();
    for p in parts {
        let line = PartLine {
            job: p.job,
            point: p.point,
            replication: p.replication,
            tier: p.tier,
            size: p.size.clone(),
            requests: p.requests,
            completed: p.completed,
            errors: p.errors,
            sigfig: p.histogram.sigfig(),
            hist: p
                .histogram
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
            window_p50_bits: p.window_p50_ms.iter().map(|x| x.to_bits()).collect(),
            window_p99_bits: p.window_p99_ms.iter().map(|x| x.to_bits()).collect(),
        };
        text.push_str(&serde_json::to_string(&line).unwrap_or_default());
        text.push('\n');
    }
    let path = dir.join(TIER_PARTS_FILE);
    write_atomic(&path, text.as_bytes()).map_err(|e| OutputError {
        path,
        what: "cannot write".into(),
        source: e,
    })
}

fn read_tier_parts(dir: &Path) -> Result<Vec<TierPart>, String> {
    let path = dir.join(TIER_PARTS_FILE);
    let f = File::open(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let mut parts = Vec::new();
    for (n, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let p: PartLine = serde_json::from_str(&line)
            .map_err(|e| format!("`{}` line {}: {e}", path.display(), n + 1))?;
        let mut h = hdrhistogram::Histogram::<u64>::new(p.sigfig)
            .map_err(|e| format!("`{}` line {}: {e}", path.display(), n + 1))?;
        for (v, c) in p.hist {
            h.record_n(v, c)
                .map_err(|e| format!("`{}` line {}: {e}", path.display(), n + 1))?;
        }
        parts.push(TierPart {
            job: p.job,
            point: p.point,
            replication: p.replication,
            tier: p.tier,
            size: p.size,
            requests: p.requests,
            completed: p.completed,
            errors: p.errors,
            histogram: h,
            window_p50_ms: p.window_p50_bits.into_iter().map(f64::from_bits).collect(),
            window_p99_ms: p.window_p99_bits.into_iter().map(f64::from_bits).collect(),
        });
    }
    Ok(parts)
}

/// Why a merge failed.
#[derive(Debug)]
pub enum MergeError {
    /// The shard folders do not fit together (exit code 2): different scenarios, missing or
    /// repeated jobs, files that do not match.
    Input(String),
    /// Writing the merged folder failed (exit code 1).
    Output(OutputError),
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::Input(m) => f.write_str(m),
            MergeError::Output(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MergeError {}

impl From<OutputError> for MergeError {
    fn from(e: OutputError) -> Self {
        MergeError::Output(e)
    }
}

/// What a merge wrote.
#[derive(Debug)]
pub struct MergeReport {
    /// The merged folder, now in place.
    pub folder: PathBuf,
    /// Shard folders read.
    pub shards: usize,
    /// Jobs in the merged run.
    pub jobs: usize,
    /// Plot files written, and figures that failed (the CSVs are written regardless).
    pub plots: PlotReport,
    /// Wall time spent drawing the plots.
    pub plot_seconds: f64,
}

/// A shard folder as read from its manifest.
struct ShardDir {
    dir: PathBuf,
    manifest: Value,
    index: u64,
    count: u64,
    /// (job, point, replication), in the manifest's order.
    jobs: Vec<(usize, usize, u64)>,
}

fn input(m: impl Into<String>) -> MergeError {
    MergeError::Input(m.into())
}

impl ShardDir {
    fn read(dir: &Path) -> Result<ShardDir, MergeError> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            input(format!(
                "`{}` is not a dynosim output folder: cannot read its manifest.json ({e})",
                dir.display()
            ))
        })?;
        let manifest: Value = serde_json::from_str(&text)
            .map_err(|e| input(format!("`{}`: not valid JSON: {e}", path.display())))?;
        let shard = manifest.get("shard").filter(|s| !s.is_null()).ok_or_else(|| {
            input(format!(
                "`{}` is not a shard folder (its manifest names no shard); merge takes the folders \
                 written by `dynosim run --shard K/N`",
                dir.display()
            ))
        })?;
        let field = |v: &Value, k: &str| {
            v.get(k).and_then(Value::as_u64).ok_or_else(|| {
                input(format!(
                    "`{}`: `{k}` is missing or not a number",
                    path.display()
                ))
            })
        };
        let (index, count) = (field(shard, "index")?, field(shard, "count")?);
        let jobs = manifest
            .get("jobs")
            .and_then(Value::as_array)
            .ok_or_else(|| input(format!("`{}`: `jobs` is missing", path.display())))?
            .iter()
            .map(|j| {
                Ok((
                    field(j, "job")? as usize,
                    field(j, "point")? as usize,
                    field(j, "replication")?,
                ))
            })
            .collect::<Result<Vec<_>, MergeError>>()?;
        Ok(ShardDir {
            dir: dir.to_path_buf(),
            manifest,
            index,
            count,
            jobs,
        })
    }

    fn name(&self) -> String {
        format!(
            "`{}` (shard {}/{})",
            self.dir.display(),
            self.index,
            self.count
        )
    }
}

/// Manifest fields that must agree for shards to belong to one run.
const SAME: [&str; 9] = [
    "scenario",
    "scenario_sha256",
    "seed",
    "replications",
    "common_random_numbers",
    "sweep_keys",
    "points",
    "jobs_total",
    "dynosim_version",
];

/// Merge the shard folders `dirs` into `out` (written atomically, plots included).
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<MergeReport, MergeError> {
    if dirs.is_empty() {
        return Err(input("give at least one shard folder"));
    }
    let shards = dirs
        .iter()
        .map(|d| ShardDir::read(d))
        .collect::<Result<Vec<_>, _>>()?;
    if let Ok(out_c) = out.canonicalize() {
        for s in &shards {
            if s.dir.canonicalize().is_ok_and(|d| d == out_c) {
                return Err(input(format!(
                    "--out `{}` is one of the shard folders; merge into a new folder",
                    out.display()
                )));
            }
        }
    }
    let first = &shards[0];
    for s in &shards[1..] {
        for key in SAME {
            if s.manifest.get(key) != first.manifest.get(key) {
                return Err(input(format!(
                    "{} and {} are not shards of the same run: their `{key}` differs ({} vs {})",
                    first.name(),
                    s.name(),
                    first.manifest.get(key).unwrap_or(&Value::Null),
                    s.manifest.get(key).unwrap_or(&Value::Null),
                )));
            }
        }
        let req = |m: &Value| m.pointer("/options/requests").cloned();
        if req(&s.manifest) != req(&first.manifest) {
            return Err(input(format!(
                "{} and {} differ in --requests; run every shard with the same options",
                first.name(),
                s.name()
            )));
        }
        if s.count != first.count {
            return Err(input(format!(
                "{} and {} were split into different numbers of shards",
                first.name(),
                s.name()
            )));
        }
    }
    // Each shard once, each job exactly once.
    let mut seen_shards: BTreeMap<u64, &ShardDir> = BTreeMap::new();
    for s in &shards {
        if let Some(other) = seen_shards.insert(s.index, s) {
            return Err(input(format!(
                "shard {}/{} is given twice: {} and {}",
                s.index,
                s.count,
                other.dir.display(),
                s.dir.display()
            )));
        }
    }
    let total = first
        .manifest
        .get("jobs_total")
        .and_then(Value::as_u64)
        .ok_or_else(|| input(format!("{}: `jobs_total` is missing", first.name())))?
        as usize;
    let mut owner: Vec<Option<usize>> = vec![None; total];
    let mut key_to_job: HashMap<(usize, u64), usize> = HashMap::new();
    for (si, s) in shards.iter().enumerate() {
        for &(job, point, rep) in &s.jobs {
            if job >= total {
                return Err(input(format!(
                    "{} lists job {job}, but the run has only {total} jobs",
                    s.name()
                )));
            }
            if let Some(o) = owner[job] {
                return Err(input(format!(
                    "job {job} (point {point}, replication {rep}) is in both {} and {}: the shards \
                     overlap",
                    shards[o].name(),
                    s.name()
                )));
            }
            owner[job] = Some(si);
            key_to_job.insert((point, rep), job);
        }
    }
    let missing: Vec<usize> = (0..total).filter(|&j| owner[j].is_none()).collect();
    if !missing.is_empty() {
        let absent: BTreeSet<u64> = (0..first.count)
            .filter(|k| !seen_shards.contains_key(k))
            .collect();
        let shown: Vec<String> = missing.iter().take(10).map(|j| j.to_string()).collect();
        return Err(input(format!(
            "the shards do not cover the run: {} of {total} jobs are missing (jobs {}{}){}",
            missing.len(),
            shown.join(", "),
            if missing.len() > 10 { ", ..." } else { "" },
            if absent.is_empty() {
                String::new()
            } else {
                format!(
                    "; shard(s) {} of {} not given",
                    absent
                        .iter()
                        .map(|k| k.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    first.count
                )
            }
        )));
    }
    let owner: Vec<usize> = owner.into_iter().map(|o| o.unwrap_or(0)).collect();

    // Same set of per-job CSV files everywhere.
    let csvs = |s: &ShardDir| -> Result<BTreeSet<String>, MergeError> {
        let rd = std::fs::read_dir(&s.dir)
            .map_err(|e| input(format!("cannot list `{}`: {e}", s.dir.display())))?;
        Ok(rd
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| n.ends_with(".csv") && n != "tiers.csv" && !n.starts_with('.'))
            .collect())
    };
    let files = csvs(first)?;
    for s in &shards[1..] {
        let other = csvs(s)?;
        if other != files {
            let diff: Vec<&String> = files.symmetric_difference(&other).collect();
            return Err(input(format!(
                "{} and {} hold different CSV files ({}); were they written by the same command?",
                first.name(),
                s.name(),
                diff.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }

    let stage = StagingDir::create(out)?;
    for file in &files {
        merge_csv(&shards, file, &owner, &key_to_job, stage.path())?;
    }
    let mut parts = Vec::new();
    for (si, s) in shards.iter().enumerate() {
        let p = read_tier_parts(&s.dir).map_err(MergeError::Input)?;
        if let Some(bad) = p.iter().find(|p| p.job >= total || owner[p.job] != si) {
            return Err(input(format!(
                "{}: {TIER_PARTS_FILE} has job {}, which its manifest does not list",
                s.name(),
                bad.job
            )));
        }
        parts.extend(p);
    }
    // Job order; within a job, the order the shard wrote (process order).
    parts.sort_by_key(|p| p.job);
    let name = first
        .manifest
        .get("scenario")
        .and_then(Value::as_str)
        .unwrap_or("");
    write_tier_parts(stage.path(), name, &parts)?;

    let started = Instant::now();
    let plots = match draw_all(stage.path()) {
        Ok(r) => r,
        Err(e) => PlotReport {
            files: Vec::new(),
            warnings: vec![format!("no plots drawn: {e}")],
        },
    };
    let plot_seconds = started.elapsed().as_secs_f64();

    let mut manifest = first.manifest.clone();
    let mut jobs: Vec<(usize, Value)> = Vec::new();
    for s in &shards {
        if let Some(list) = s.manifest.get("jobs").and_then(Value::as_array) {
            for j in list {
                let idx = j.get("job").and_then(Value::as_u64).unwrap_or(0) as usize;
                jobs.push((idx, j.clone()));
            }
        }
    }
    jobs.sort_by_key(|j| j.0);
    if let Some(m) = manifest.as_object_mut() {
        m.insert(
            "jobs".into(),
            Value::Array(jobs.into_iter().map(|j| j.1).collect()),
        );
        m.insert("shard".into(), Value::Null);
        m.insert(
            "merged_from".into(),
            Value::Array(
                shards
                    .iter()
                    .map(|s| {
                        json!({
                            "folder": s.dir.display().to_string(),
                            "shard": {"index": s.index, "count": s.count},
                            "threads": s.manifest.pointer("/options/threads").cloned().unwrap_or(Value::Null),
                            "written_at_unix_s": s.manifest.get("written_at_unix_s").cloned().unwrap_or(Value::Null),
                        })
                    })
                    .collect(),
            ),
        );
        if let Some(o) = m.get_mut("options").and_then(Value::as_object_mut) {
            o.insert("threads".into(), Value::Null);
        }
        m.insert("plots".into(), json!(plots.files));
        m.insert(
            "written_at_unix_s".into(),
            json!(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            ),
        );
    }
    let path = stage.path().join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    write_atomic(&path, text.as_bytes()).map_err(|e| OutputError {
        path,
        what: "cannot write".into(),
        source: e,
    })?;
    let folder = stage.commit()?;
    Ok(MergeReport {
        folder,
        shards: shards.len(),
        jobs: total,
        plots,
        plot_seconds,
    })
}

/// One shard's rows of a CSV file, read one at a time.
struct RowStream {
    reader: csv::Reader<BufReader<File>>,
    next: Option<(usize, csv::ByteRecord)>,
    path: PathBuf,
    point_col: usize,
    rep_col: usize,
}

impl RowStream {
    fn advance(&mut self, key_to_job: &HashMap<(usize, u64), usize>) -> Result<(), MergeError> {
        let mut rec = csv::ByteRecord::new();
        let more = self
            .reader
            .read_byte_record(&mut rec)
            .map_err(|e| input(format!("`{}`: {e}", self.path.display())))?;
        if !more {
            self.next = None;
            return Ok(());
        }
        let cell = |i: usize| {
            rec.get(i)
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(|s| s.parse::<u64>().ok())
        };
        let (Some(point), Some(rep)) = (cell(self.point_col), cell(self.rep_col)) else {
            return Err(input(format!(
                "`{}` line {}: no valid point/replication",
                self.path.display(),
                rec.position().map_or(0, |p| p.line())
            )));
        };
        let job = *key_to_job.get(&(point as usize, rep)).ok_or_else(|| {
            input(format!(
                "`{}` has rows for point {point}, replication {rep}, which no shard's manifest lists",
                self.path.display()
            ))
        })?;
        self.next = Some((job, rec));
        Ok(())
    }
}

fn merge_csv(
    shards: &[ShardDir],
    file: &str,
    owner: &[usize],
    key_to_job: &HashMap<(usize, u64), usize>,
    out_dir: &Path,
) -> Result<(), MergeError> {
    let mut streams = Vec::new();
    let mut header: Option<csv::ByteRecord> = None;
    for s in shards {
        let path = s.dir.join(file);
        let f = File::open(&path)
            .map_err(|e| input(format!("cannot read `{}`: {e}", path.display())))?;
        let mut reader = csv::Reader::from_reader(BufReader::new(f));
        let h = reader
            .byte_headers()
            .map_err(|e| input(format!("`{}`: {e}", path.display())))?
            .clone();
        match &header {
            Some(first) if *first != h => {
                return Err(input(format!(
                    "`{}` has other columns than `{}`",
                    path.display(),
                    shards[0].dir.join(file).display()
                )));
            }
            Some(_) => {}
            None => header = Some(h.clone()),
        }
        let col = |name: &str| {
            h.iter().position(|c| c == name.as_bytes()).ok_or_else(|| {
                input(format!(
                    "`{}` has no `{name}` column, so its rows cannot be matched to jobs",
                    path.display()
                ))
            })
        };
        let (point_col, rep_col) = (col("point")?, col("replication")?);
        let mut rs = RowStream {
            reader,
            next: None,
            path,
            point_col,
            rep_col,
        };
        rs.advance(key_to_job)?;
        streams.push(rs);
    }
    let out_path = out_dir.join(file);
    let io = |e: std::io::Error| OutputError {
        path: out_path.clone(),
        what: "cannot write".into(),
        source: e,
    };
    let f = File::create(&out_path).map_err(io)?;
    let mut w = csv::Writer::from_writer(BufWriter::new(f));
    let werr = |e: csv::Error| OutputError {
        path: out_path.clone(),
        what: "cannot write".into(),
        source: std::io::Error::other(e),
    };
    if let Some(h) = &header {
        w.write_byte_record(h).map_err(werr)?;
    }
    for (job, &si) in owner.iter().enumerate() {
        let s = &mut streams[si];
        while s.next.as_ref().is_some_and(|(j, _)| *j == job) {
            if let Some((_, rec)) = s.next.take() {
                w.write_byte_record(&rec).map_err(werr)?;
            }
            s.advance(key_to_job)?;
        }
    }
    for (s, shard) in streams.iter().zip(shards) {
        if let Some((job, _)) = &s.next {
            return Err(input(format!(
                "`{}` has rows of job {job} out of job order or from another shard than {}",
                s.path.display(),
                shard.name()
            )));
        }
    }
    let mut inner = w
        .into_inner()
        .map_err(|e| io(std::io::Error::other(e.to_string())))?;
    inner.flush().map_err(io)?;
    Ok(())
}
