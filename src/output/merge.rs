//! `dynosim merge`: combine the folders of a sharded run into the folder one run would write.
//!
//! A shard folder holds the rows of its own jobs in every per-job CSV, a manifest naming the shard
//! (`shard`, `jobs_total`, its `jobs`) and recording each file's rows and hash, and
//! `shard-tiers.jsonl`: the latency histograms and window quantiles tiers.csv pools. tiers.csv
//! pools over replications, which may sit in different shards, so it cannot be rebuilt from the
//! shards' partial tiers.csv; the parts file carries what it needs, bit for bit, and the merged
//! tiers.csv is computed by the same code as a single run's.
//!
//! Per-job CSVs are merged by streaming: rows are copied in job order from whichever shard ran
//! each job, re-encoded by the same CSV writer that wrote them, so the bytes are those of a single
//! run and memory does not grow with the size of the files (requests.csv can be large). Every
//! byte read is hashed on the way, and each file must match its manifest's record (rows and
//! SHA-256) before the merged folder is committed: a shard damaged after its run is refused, with
//! the shard and the file named, and nothing is written.
//!
//! Shards written with `--format parquet` hold `<table>.parquet` instead: each is checked whole
//! against its manifest record, then read back as the CSV text it was made from
//! ([`super::parquet::CsvFromParquet`]) and merged the same way. The merged folder is written in
//! the shards' format(s) unless `--format` is given ([`super::format::export`]), so its bytes
//! are those of a single run in that format.

use super::atomic::{OutputError, StagingDir};
use super::folder::{self, TIER_PARTS_FILE, Table};
use super::format::{Format, export, kind_in};
use super::manifest::{
    FileRecord, Hashing, Manifest, MergedFrom, RunInfo, ShardInfo, now_unix_s, record_file,
    record_files,
};
use super::parquet::CsvFromParquet;
use super::plot::{PlotReport, draw_all};
use super::tables::{TierPart, write_atomic, write_tier_parts};
use crate::interrupt;
use crate::model::Tier;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

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
    cost_bits: u64,
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
            cost_bits: p.cost_usd_month.to_bits(),
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

/// The tier parts of a shard, and the record of the file as read.
fn read_tier_parts(dir: &Path) -> Result<(Vec<TierPart>, FileRecord), String> {
    let path = dir.join(TIER_PARTS_FILE);
    let f = File::open(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let mut reader = BufReader::new(Hashing::new(f));
    let mut parts = Vec::new();
    let mut line = String::new();
    let mut n = 0;
    loop {
        line.clear();
        n += 1;
        let read = reader
            .read_line(&mut line)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        if read == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let at = |e: &dyn fmt::Display| format!("`{}` line {n}: {e}", path.display());
        let p: PartLine = serde_json::from_str(&line).map_err(|e| at(&e))?;
        let mut h = hdrhistogram::Histogram::<u64>::new(p.sigfig).map_err(|e| at(&e))?;
        for (v, c) in p.hist {
            h.record_n(v, c).map_err(|e| at(&e))?;
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
            cost_usd_month: f64::from_bits(p.cost_bits),
            histogram: h,
            window_p50_ms: p.window_p50_bits.into_iter().map(f64::from_bits).collect(),
            window_p99_ms: p.window_p99_bits.into_iter().map(f64::from_bits).collect(),
        });
    }
    let record = reader
        .into_inner()
        .finish(parts.len() as u64)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    Ok((parts, record))
}

/// Why a merge failed.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The shard folders do not fit together, or do not match their manifests, or `--out` is
    /// refused (exit code 2): different scenarios, missing or repeated jobs, damaged files.
    #[error("{0}")]
    Input(String),
    /// Writing the merged folder failed (exit code 1).
    #[error(transparent)]
    Output(OutputError),
    /// A stop was requested before the commit (exit code 130); nothing was written.
    #[error(
        "interrupted by {}; nothing was written and the previous results were left as they were",
        interrupt::cause()
    )]
    Interrupted,
}

impl MergeError {
    /// Bad input or usage (exit code 2), as opposed to a failure while writing.
    pub fn is_bad_input(&self) -> bool {
        match self {
            MergeError::Input(_) => true,
            MergeError::Output(e) => e.is_refusal(),
            MergeError::Interrupted => false,
        }
    }
}

impl From<OutputError> for MergeError {
    fn from(e: OutputError) -> Self {
        if e.is_interrupted() {
            MergeError::Interrupted
        } else {
            MergeError::Output(e)
        }
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
    /// `dir` resolved (absolute, symlinks followed), to compare with `--out`.
    resolved: PathBuf,
    manifest: Manifest,
    run: RunInfo,
    shard: ShardInfo,
    /// The manifest's record of each data file.
    files: BTreeMap<String, FileRecord>,
}

fn input(m: impl Into<String>) -> MergeError {
    MergeError::Input(m.into())
}

impl ShardDir {
    fn read(dir: &Path) -> Result<ShardDir, MergeError> {
        let manifest = Manifest::read(dir).map_err(|e| {
            input(format!(
                "`{}` is not a dynosim output folder: {e}",
                dir.display()
            ))
        })?;
        let not_shard = || {
            input(format!(
                "`{}` is not a shard folder (its manifest names no shard); merge takes the folders \
                 written by `dynosim run --shard K/N`",
                dir.display()
            ))
        };
        let run = manifest.run.clone().ok_or_else(not_shard)?;
        let shard = run.shard.ok_or_else(not_shard)?;
        let files = manifest.files.clone().ok_or_else(|| {
            input(format!(
                "`{}`: its manifest records no row counts and hashes of its files (written by an \
                 older dynosim?), so it cannot be checked; run the shard again",
                dir.display()
            ))
        })?;
        let resolved = folder::resolve(dir)
            .map_err(|e| input(format!("cannot resolve `{}`: {e}", dir.display())))?;
        Ok(ShardDir {
            dir: dir.to_path_buf(),
            resolved,
            manifest,
            run,
            shard,
            files,
        })
    }

    fn name(&self) -> String {
        format!(
            "`{}` (shard {}/{})",
            self.dir.display(),
            self.shard.index,
            self.shard.count
        )
    }

    /// The manifest fields that must agree for shards to belong to one run.
    fn identity(&self) -> [(&'static str, Value); 10] {
        let (m, r) = (&self.manifest, &self.run);
        fn v<T: Serialize>(x: &T) -> Value {
            serde_json::to_value(x).unwrap_or(Value::Null)
        }
        [
            ("scenario", v(&m.scenario)),
            ("scenario_sha256", v(&m.scenario_sha256)),
            ("seed", v(&m.seed)),
            ("replications", v(&r.replications)),
            ("common_random_numbers", v(&r.common_random_numbers)),
            ("sweep_keys", v(&r.sweep_keys)),
            ("points", v(&r.points)),
            ("jobs_total", v(&r.jobs_total)),
            ("dynosim_version", v(&m.dynosim_version)),
            ("options.requests", v(&r.options.requests)),
        ]
    }

    /// Check a file as read against the manifest's record of it.
    fn verify(&self, file: &str, read: &FileRecord) -> Result<(), MergeError> {
        let Some(want) = self.files.get(file) else {
            return Err(input(format!(
                "{}: `{file}` is not in its manifest's file records",
                self.name()
            )));
        };
        if want.rows != read.rows {
            return Err(input(format!(
                "{}: `{file}` has {} data row(s) but its manifest records {}: the file was \
                 changed or cut short after the run; run the shard again",
                self.name(),
                read.rows,
                want.rows
            )));
        }
        if want.bytes != read.bytes || want.sha256 != read.sha256 {
            return Err(input(format!(
                "{}: `{file}` does not match its manifest ({} bytes with SHA-256 {}, recorded {} \
                 bytes with {}): the file was changed after the run; run the shard again",
                self.name(),
                read.bytes,
                &read.sha256[..12.min(read.sha256.len())],
                want.bytes,
                &want.sha256[..12.min(want.sha256.len())]
            )));
        }
        Ok(())
    }
}

fn stop_if_requested() -> Result<(), MergeError> {
    if interrupt::requested() {
        Err(MergeError::Interrupted)
    } else {
        Ok(())
    }
}

/// Merge the shard folders `dirs` into `out` (written atomically, plots included), its tables
/// in `format` (default: the shards' own).
pub fn merge(
    dirs: &[PathBuf],
    out: &Path,
    format: Option<Format>,
) -> Result<MergeReport, MergeError> {
    if dirs.is_empty() {
        return Err(input("give at least one shard folder"));
    }
    let shards = dirs
        .iter()
        .map(|d| ShardDir::read(d))
        .collect::<Result<Vec<_>, _>>()?;
    // Replacing --out deletes what is there: it must not be, hold, or sit inside a shard.
    let out_resolved = folder::resolve(out)
        .map_err(|e| input(format!("cannot resolve --out `{}`: {e}", out.display())))?;
    for s in &shards {
        if folder::overlaps(&out_resolved, &s.resolved) {
            let how = if out_resolved == s.resolved {
                "is one of the shard folders"
            } else if s.resolved.starts_with(&out_resolved) {
                "contains the shard folder"
            } else {
                "is inside the shard folder"
            };
            return Err(input(format!(
                "--out `{}` {how} {}; merge into a new folder",
                out.display(),
                s.name()
            )));
        }
    }
    let first = &shards[0];
    let first_id = first.identity();
    for s in &shards[1..] {
        for ((key, a), (_, b)) in first_id.iter().zip(s.identity()) {
            if *a != b {
                return Err(input(format!(
                    "{} and {} are not shards of the same run: their `{key}` differs ({a} vs {b})",
                    first.name(),
                    s.name(),
                )));
            }
        }
        if s.shard.count != first.shard.count {
            return Err(input(format!(
                "{} and {} were split into different numbers of shards",
                first.name(),
                s.name()
            )));
        }
    }
    // Each shard once, each job exactly once.
    let mut seen_shards: BTreeMap<u32, &ShardDir> = BTreeMap::new();
    for s in &shards {
        if let Some(other) = seen_shards.insert(s.shard.index, s) {
            return Err(input(format!(
                "shard {}/{} is given twice: {} and {}",
                s.shard.index,
                s.shard.count,
                other.dir.display(),
                s.dir.display()
            )));
        }
    }
    let total = first.run.jobs_total;
    let mut owner: Vec<Option<usize>> = vec![None; total];
    let mut key_to_job: HashMap<(usize, u64), usize> = HashMap::new();
    for (si, s) in shards.iter().enumerate() {
        for j in &s.run.jobs {
            let (job, point, rep) = (j.job, j.point, j.replication);
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
            key_to_job.insert((point, u64::from(rep)), job);
        }
    }
    let missing: Vec<usize> = (0..total).filter(|&j| owner[j].is_none()).collect();
    if !missing.is_empty() {
        let absent: BTreeSet<u32> = (0..first.shard.count)
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
                    first.shard.count
                )
            }
        )));
    }
    let owner: Vec<usize> = owner.into_iter().map(|o| o.unwrap_or(0)).collect();

    // Same set of per-job table files everywhere, and the set each manifest records.
    let files = per_job_files(first)?;
    for s in &shards {
        let other = per_job_files(s)?;
        if other != files {
            let diff: Vec<&str> = files
                .symmetric_difference(&other)
                .map(String::as_str)
                .collect();
            return Err(input(format!(
                "{} and {} hold different table files ({}); were they written by the same command \
                 (and --format)?",
                first.name(),
                s.name(),
                diff.join(", ")
            )));
        }
        let recorded: BTreeSet<String> = s
            .files
            .keys()
            .filter(|f| is_per_job_table(f))
            .cloned()
            .collect();
        if recorded != other {
            let diff: Vec<&str> = recorded
                .symmetric_difference(&other)
                .map(String::as_str)
                .collect();
            return Err(input(format!(
                "{}: its table files do not match its manifest's records ({} present in only one); \
                 run the shard again",
                s.name(),
                diff.join(", ")
            )));
        }
    }

    let stage = StagingDir::create(out)?;
    for table in Table::ALL {
        // Each table from its CSV when the shards have it, else from its Parquet copy.
        let Some(file) = [table.file(), table.parquet_file()]
            .into_iter()
            .find(|f| files.contains(*f))
        else {
            continue;
        };
        stop_if_requested()?;
        merge_csv(&shards, table, file, &owner, &key_to_job, stage.path())?;
    }
    let mut parts = Vec::new();
    for (si, s) in shards.iter().enumerate() {
        let (p, read) = read_tier_parts(&s.dir).map_err(MergeError::Input)?;
        s.verify(TIER_PARTS_FILE, &read)?;
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
    write_tier_parts(stage.path(), &first.manifest.scenario, &parts)?;

    stop_if_requested()?;
    let started = Instant::now();
    let plots = match draw_all(stage.path()) {
        Ok(r) => r,
        Err(e) => PlotReport {
            files: Vec::new(),
            warnings: vec![format!("no plots drawn: {e}")],
        },
    };
    let plot_seconds = started.elapsed().as_secs_f64();
    // The merged folder in the shards' format(s) unless --format says otherwise.
    let format = format.unwrap_or_else(|| {
        Format::of_files(
            files.iter().any(|f| f.ends_with(".csv")),
            files.iter().any(|f| f.ends_with(".parquet")),
        )
    });
    stop_if_requested()?;
    export(stage.path(), format)?;

    let mut jobs: Vec<_> = shards.iter().flat_map(|s| s.run.jobs.clone()).collect();
    jobs.sort_by_key(|j| j.job);
    let mut run = first.run.clone();
    run.jobs = jobs;
    run.shard = None;
    run.merged_from = Some(
        shards
            .iter()
            .map(|s| MergedFrom {
                folder: s.dir.display().to_string(),
                shard: s.shard,
                threads: s.run.options.threads,
                written_at_unix_s: Some(s.run.written_at_unix_s),
            })
            .collect(),
    );
    run.options.threads = None;
    run.plots = plots.files.clone();
    run.written_at_unix_s = now_unix_s();
    let manifest = Manifest {
        run: Some(run),
        files: Some(record_files(stage.path())?),
        ..first.manifest.clone()
    };
    manifest.write(stage.path())?;
    let folder = stage.commit_unless_interrupted()?;
    Ok(MergeReport {
        folder,
        shards: shards.len(),
        jobs: total,
        plots,
        plot_seconds,
    })
}

/// Whether `name` is (or poses as) a per-job table's file: any visible CSV or Parquet file but
/// tiers', which the merge recomputes from the tier parts. A file no manifest records is then
/// refused, never skipped.
fn is_per_job_table(name: &str) -> bool {
    (name.ends_with(".csv") || name.ends_with(".parquet"))
        && name != Table::Tiers.file()
        && name != Table::Tiers.parquet_file()
        && !name.starts_with('.')
}

/// The per-job table files of a shard folder (see [`is_per_job_table`]).
fn per_job_files(s: &ShardDir) -> Result<BTreeSet<String>, MergeError> {
    let rd = std::fs::read_dir(&s.dir)
        .map_err(|e| input(format!("cannot list `{}`: {e}", s.dir.display())))?;
    Ok(rd
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| is_per_job_table(n))
        .collect())
}

/// The key columns of any per-job CSV row: which job it belongs to.
#[derive(Deserialize)]
struct JobKey {
    point: usize,
    replication: u64,
}

/// One shard's rows of a CSV file, read one at a time, hashed as they are read.
struct RowStream {
    reader: csv::Reader<Hashing<Box<dyn Read>>>,
    header: csv::ByteRecord,
    next: Option<(usize, csv::ByteRecord)>,
    rows: u64,
    path: PathBuf,
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
        self.rows += 1;
        let key: JobKey = rec.deserialize(Some(&self.header)).map_err(|e| {
            input(format!(
                "`{}` line {}: no valid point/replication ({e})",
                self.path.display(),
                rec.position().map_or(0, |p| p.line())
            ))
        })?;
        let job = *key_to_job
            .get(&(key.point, key.replication))
            .ok_or_else(|| {
                input(format!(
                    "`{}` has rows for point {}, replication {}, which no shard's manifest lists",
                    self.path.display(),
                    key.point,
                    key.replication
                ))
            })?;
        self.next = Some((job, rec));
        Ok(())
    }
}

fn merge_csv(
    shards: &[ShardDir],
    table: Table,
    file: &str,
    owner: &[usize],
    key_to_job: &HashMap<(usize, u64), usize>,
    out_dir: &Path,
) -> Result<(), MergeError> {
    let parquet = file == table.parquet_file();
    let mut streams = Vec::new();
    let mut header: Option<csv::ByteRecord> = None;
    for s in shards {
        let path = s.dir.join(file);
        let cannot = |e: &dyn fmt::Display| input(format!("cannot read `{}`: {e}", path.display()));
        let rows: Box<dyn Read> = if parquet {
            // Checked whole against the manifest first, then read back as its CSV text.
            s.verify(file, &record_file(&path).map_err(|e| cannot(&e))?)?;
            let kind_of = |c: &str| kind_in(table, c);
            Box::new(CsvFromParquet::open(&path, kind_of).map_err(|e| cannot(&e))?)
        } else {
            Box::new(BufReader::new(File::open(&path).map_err(|e| cannot(&e))?))
        };
        let mut reader = csv::Reader::from_reader(Hashing::new(rows));
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
        for name in ["point", "replication"] {
            if !h.iter().any(|c| c == name.as_bytes()) {
                return Err(input(format!(
                    "`{}` has no `{name}` column, so its rows cannot be matched to jobs",
                    path.display()
                )));
            }
        }
        let mut rs = RowStream {
            reader,
            header: h,
            next: None,
            rows: 0,
            path,
        };
        rs.advance(key_to_job)?;
        streams.push(rs);
    }
    let out_path = out_dir.join(table.file());
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
    for (s, shard) in streams.into_iter().zip(shards) {
        if let Some((job, _)) = &s.next {
            return Err(input(format!(
                "`{}` has rows of job {job} out of job order or from another shard than {}",
                s.path.display(),
                shard.name()
            )));
        }
        let read = s
            .reader
            .into_inner()
            .finish(s.rows)
            .map_err(|e| input(format!("cannot read `{}`: {e}", s.path.display())))?;
        if parquet {
            // The file itself was verified; its rows must all have been read.
            let want = shard.files.get(file).map_or(0, |r| r.rows);
            if read.rows != want {
                return Err(input(format!(
                    "{}: `{file}` gave {} row(s) but its manifest records {want}",
                    shard.name(),
                    read.rows
                )));
            }
        } else {
            shard.verify(file, &read)?;
        }
    }
    let mut inner = w
        .into_inner()
        .map_err(|e| io(std::io::Error::other(e.to_string())))?;
    inner.flush().map_err(io)?;
    Ok(())
}
