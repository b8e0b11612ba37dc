//! What the figures read: summary.csv grouped into formations, and the p99 timeline of
//! windows.csv and events.csv, all through the typed reader of [`crate::output::rows`].

use super::groups::SweepLayout;
use super::style::MARKED_EVENTS;
use crate::output::rows::{EventRow, ReadError, Reader, SummaryRow, WindowRow};
use std::collections::BTreeMap;
use std::path::Path;

/// One row of summary.csv: one process type in one job.
pub(super) struct Row {
    pub(super) requests: f64,
    pub(super) completed: f64,
    pub(super) errors: f64,
    /// p50, p90, p95, p99, p99.9, max (ms; NaN without completed requests).
    pub(super) q: [f64; 6],
}

pub(super) const QUANTILES: [f64; 5] = [0.5, 0.9, 0.95, 0.99, 0.999];

/// A formation: one process type of one app at one sweep point, over its replications.
pub(super) struct Cat {
    pub(super) point: usize,
    pub(super) app: String,
    pub(super) process: String,
    pub(super) size: String,
    pub(super) tier: String,
    pub(super) dynos: String,
    pub(super) label: String,
    pub(super) rows: Vec<Row>,
}

impl Cat {
    pub(super) fn requests(&self) -> f64 {
        self.rows.iter().map(|r| r.requests).sum()
    }
    pub(super) fn completed(&self) -> f64 {
        self.rows.iter().map(|r| r.completed).sum()
    }
    pub(super) fn error_rate(&self) -> f64 {
        let n = self.requests();
        if n > 0.0 {
            self.rows.iter().map(|r| r.errors).sum::<f64>() / n
        } else {
            0.0
        }
    }
    /// Rows with completed requests.
    pub(super) fn done(&self) -> impl Iterator<Item = &Row> {
        self.rows
            .iter()
            .filter(|r| r.completed > 0.0 && r.q[0].is_finite())
    }
    /// Quantile `k` (index into `Row::q`) of the formation: the mean over its replications of
    /// each replication's quantile, with its 95 % t interval (`stats::Interval`, the definition
    /// tiers.csv and `dynosim plan` use too).
    pub(super) fn estimate_q(&self, k: usize) -> crate::stats::Interval {
        let v: Vec<f64> = self
            .done()
            .map(|r| r.q[k])
            .filter(|v| v.is_finite())
            .collect();
        crate::stats::Interval::of(&v, 0.95)
    }
    /// The formation's quantile `k`: [`Self::estimate_q`]'s mean.
    pub(super) fn mean_q(&self, k: usize) -> f64 {
        self.estimate_q(k).mean
    }
    pub(super) fn tier_size(&self) -> String {
        format!("{} · {}", self.tier, self.size)
    }
}

pub(super) use crate::stats::median;

/// Everything the figures read.
pub(super) struct Data {
    pub(super) scenario: String,
    pub(super) sweep_keys: Vec<String>,
    /// Sweep values per point, in point order.
    pub(super) points: Vec<Vec<String>>,
    pub(super) replications: usize,
    /// Formations with traffic (requests > 0), in point then file order.
    pub(super) cats: Vec<Cat>,
    /// Monthly cost of each point's whole formation (every process, replication 0).
    pub(super) point_cost: Vec<f64>,
    /// p99 over time and the marked lifecycle events, from windows.csv and events.csv.
    pub(super) timeline: Result<Timeline, String>,
    /// The sweep points in groups that vary one key (`None` without a sweep).
    pub(super) layout: Option<SweepLayout>,
}

impl Data {
    pub(super) fn load(dir: &Path) -> Result<Data, String> {
        let text = |e: ReadError| e.to_string();
        let mut r = Reader::open::<SummaryRow>(dir)
            .map_err(text)?
            .ok_or_else(|| format!("{} has no summary.csv", dir.display()))?;
        let sweep_keys = r.sweep_keys();
        let mut scenario = String::new();
        let mut points: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut reps = std::collections::BTreeSet::new();
        let mut cats: Vec<Cat> = Vec::new();
        let mut index: BTreeMap<(usize, String, String), usize> = BTreeMap::new();
        let mut point_cost: BTreeMap<usize, (u32, f64)> = BTreeMap::new();
        while let Some(row) = r.next::<SummaryRow>().map_err(text)? {
            let (point, replication) = (row.point, row.replication);
            points.entry(point).or_insert_with(|| r.sweep_values());
            reps.insert(replication);
            let cost = row.cost_usd_month;
            let pc = point_cost.entry(point).or_insert((replication, 0.0));
            if pc.0 == replication && cost.is_finite() {
                pc.1 += cost;
            }
            let stat = Row {
                requests: row.requests as f64,
                completed: row.completed as f64,
                errors: row.errors as f64,
                q: row.quantiles(),
            };
            let key = (point, row.app.clone(), row.process.clone());
            let i = *index.entry(key).or_insert_with(|| {
                cats.push(Cat {
                    point,
                    app: row.app.clone(),
                    process: row.process.clone(),
                    size: row.size.clone(),
                    tier: row.tier.clone(),
                    dynos: row.dynos.to_string(),
                    label: String::new(),
                    rows: Vec::new(),
                });
                cats.len() - 1
            });
            cats[i].rows.push(stat);
            scenario = row.scenario;
        }
        cats.retain(|c| c.requests() > 0.0);
        let npoints = points.keys().next_back().map_or(0, |p| p + 1);
        let points: Vec<Vec<String>> = (0..npoints)
            .map(|p| points.get(&p).cloned().unwrap_or_default())
            .collect();
        let point_cost = (0..npoints)
            .map(|p| point_cost.get(&p).map_or(f64::NAN, |c| c.1))
            .collect();
        let mut data = Data {
            scenario,
            sweep_keys,
            points,
            replications: reps.len(),
            cats,
            point_cost,
            timeline: Timeline::read(dir),
            layout: None,
        };
        data.label_cats();
        data.layout = SweepLayout::of(&data.key_names(), &data.points);
        Ok(data)
    }

    /// Short, unique formation labels: `standard-1x ×4`, prefixed with `app/process` when several
    /// process types get traffic, suffixed with other sweep values when those alone differ.
    pub(super) fn label_cats(&mut self) {
        let procs: std::collections::BTreeSet<(String, String)> = self
            .cats
            .iter()
            .map(|c| (c.app.clone(), c.process.clone()))
            .collect();
        for c in &mut self.cats {
            c.label = if procs.len() > 1 {
                format!("{}/{} {} ×{}", c.app, c.process, c.size, c.dynos)
            } else {
                format!("{} ×{}", c.size, c.dynos)
            };
        }
        let dup = |cats: &[Cat]| {
            let mut seen = std::collections::HashMap::new();
            for c in cats {
                *seen.entry(c.label.clone()).or_insert(0) += 1;
            }
            seen
        };
        let counts = dup(&self.cats);
        let names = self.key_names();
        for c in &mut self.cats {
            if counts[&c.label] > 1 {
                let extra: Vec<String> = self
                    .sweep_keys
                    .iter()
                    .zip(&names)
                    .zip(&self.points[c.point])
                    .filter(|((k, _), _)| !k.ends_with(".size") && !k.ends_with(".count"))
                    .map(|((_, name), v)| format!("{name}={v}"))
                    .collect();
                if !extra.is_empty() {
                    c.label = format!("{} ({})", c.label, extra.join(", "));
                }
            }
        }
        let counts = dup(&self.cats);
        for c in &mut self.cats {
            if counts[&c.label] > 1 {
                c.label = format!("{} #{}", c.label, c.point);
            }
        }
    }

    /// The sweep keys as labels name them: shortened (`count`, `arrivals.poisson`) unless two
    /// would read the same, then in full.
    /// With several apps, a key of one app is prefixed with its name (`shop.arrivals.poisson`),
    /// so a label never credits one app's key to another.
    pub(super) fn key_names(&self) -> Vec<String> {
        let apps: std::collections::BTreeSet<&str> =
            self.cats.iter().map(|c| c.app.as_str()).collect();
        let name = |k: &String| {
            let app = k.strip_prefix("app.").and_then(|r| r.split('.').next());
            match app {
                Some(app) if apps.len() > 1 => format!("{app}.{}", short_key(k)),
                _ => short_key(k),
            }
        };
        let short: Vec<String> = self.sweep_keys.iter().map(name).collect();
        let unique: std::collections::BTreeSet<&String> = short.iter().collect();
        if unique.len() == short.len() {
            short
        } else {
            self.sweep_keys.clone()
        }
    }
}

/// `app.shop.process.web.count` -> `count`; `...arrivals.poisson` -> `arrivals.poisson`.
pub(super) fn short_key(k: &str) -> String {
    let parts: Vec<&str> = k.split('.').collect();
    match parts.as_slice() {
        [.., "process", _, last] => (*last).to_string(),
        [.., a, b] if parts.len() > 3 => format!("{a}.{b}"),
        _ => k.to_string(),
    }
}

/// A series key: (point, app, process), replication 0.
pub(super) type SeriesKey = (usize, String, String);

/// What the time figure needs of windows.csv and events.csv, read in one streaming pass each
/// and thinned to at most [`TIME_BUCKETS`] points per series, so that drawing a long run costs
/// no more memory than drawing a short one.
pub(super) struct Timeline {
    /// Start of the last window, s.
    pub(super) t_end: f64,
    /// Per series, (window start s, p99 ms): the highest p99 of each time bucket, at the start
    /// of the bucket's first window (the highest, so that a thinned line keeps its spikes).
    pub(super) series: BTreeMap<SeriesKey, Vec<(f64, f64)>>,
    /// Per series, marked events (time s, kind), at most one per kind and bucket.
    pub(super) events: BTreeMap<SeriesKey, Vec<(f64, &'static str)>>,
    /// Per series, (window start s, offered arrivals per s): windows.csv's `arrival_rate_rps`,
    /// averaged over each time bucket; only series with some offered load.
    pub(super) offered: BTreeMap<SeriesKey, Vec<(f64, f64)>>,
    /// Windows per bucket when thinned (> 1), else 1.
    pub(super) windows_per_point: usize,
}

/// A series' points so far, and the sum and count of the rates in its last bucket.
type Bucketed = (Vec<(f64, f64)>, f64, f64);

/// Points per series at most: about one per pixel column of the figure.
pub(super) const TIME_BUCKETS: f64 = 1200.0;

impl Timeline {
    pub(super) fn read(dir: &Path) -> Result<Timeline, String> {
        let text = |e: ReadError| e.to_string();
        let open = || -> Result<Reader, String> {
            Reader::open::<WindowRow>(dir)
                .map_err(text)?
                .ok_or_else(|| "windows.csv is missing".to_string())
        };
        // Pass 1: the time span and the window length, to size the buckets.
        let (mut t_end, mut step) = (0.0f64, f64::INFINITY);
        let mut last: Option<f64> = None;
        let mut windows = open()?;
        while let Some(w) = windows.next::<WindowRow>().map_err(text)? {
            let t = w.window_start_s;
            if t.is_finite() {
                t_end = t_end.max(t);
                if let Some(l) = last.filter(|l| t > *l) {
                    step = step.min(t - l);
                }
                last = Some(t);
            }
        }
        let bucket = (t_end / TIME_BUCKETS).max(if step.is_finite() { step } else { 0.0 });
        let bucket_of = |t: f64| {
            if bucket > 0.0 {
                (t / bucket).floor() as i64
            } else {
                0
            }
        };
        // Pass 2: per series, the highest p99 per bucket. A series' rows are in time order, but
        // a job's processes interleave (time, then process), so each series keeps its own last
        // point and how many windows went into it.
        let mut series: BTreeMap<SeriesKey, (Vec<(f64, f64)>, usize)> = BTreeMap::new();
        let mut per_point = 1usize;
        let mut offered: BTreeMap<SeriesKey, Bucketed> = BTreeMap::new();
        let mut windows = open()?;
        while let Some(w) = windows.next::<WindowRow>().map_err(text)? {
            if w.replication != 0 {
                continue;
            }
            let rate = w.arrival_rate_rps;
            if rate.is_finite() && rate >= 0.0 {
                let t = w.window_start_s;
                let (points, sum, n) = offered
                    .entry((w.point, w.app.clone(), w.process.clone()))
                    .or_default();
                match points.last_mut() {
                    Some(last) if bucket_of(last.0) == bucket_of(t) => {
                        *sum += rate;
                        *n += 1.0;
                        last.1 = *sum / *n;
                    }
                    _ => {
                        points.push((t, rate));
                        (*sum, *n) = (rate, 1.0);
                    }
                }
            }
            if w.completed == 0 {
                continue;
            }
            let (t, y) = (w.window_start_s, w.p99_ms);
            if !(y.is_finite() && y > 0.0) {
                continue;
            }
            let (points, merged) = series.entry((w.point, w.app, w.process)).or_default();
            match points.last_mut() {
                Some(last) if bucket_of(last.0) == bucket_of(t) => {
                    last.1 = last.1.max(y);
                    *merged += 1;
                    per_point = per_point.max(*merged);
                }
                _ => {
                    points.push((t, y));
                    *merged = 1;
                }
            }
        }
        let series = series.into_iter().map(|(k, (v, _))| (k, v)).collect();
        let offered = offered
            .into_iter()
            .filter(|(_, (v, _, _))| v.iter().any(|p| p.1 > 0.0))
            .map(|(k, (v, _, _))| (k, v))
            .collect();
        let mut events: BTreeMap<SeriesKey, Vec<(f64, &'static str)>> = BTreeMap::new();
        if let Some(mut r) = Reader::open::<EventRow>(dir).map_err(text)? {
            while let Some(e) = r.next::<EventRow>().map_err(text)? {
                if e.replication != 0 {
                    continue;
                }
                if let Some((k, _)) = MARKED_EVENTS.iter().find(|(k, _)| *k == e.event) {
                    let t = e.time_s;
                    let marks = events.entry((e.point, e.app, e.process)).or_default();
                    // One mark per kind and bucket: more would draw over each other anyway.
                    if !marks
                        .iter()
                        .rev()
                        .take(8)
                        .any(|(u, kk)| kk == k && bucket_of(*u) == bucket_of(t))
                    {
                        marks.push((t, k));
                    }
                }
            }
        }
        Ok(Timeline {
            t_end,
            series,
            events,
            offered,
            windows_per_point: per_point,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A long job with two processes: windows.csv interleaves their rows (time, then process),
    /// and each series must still be thinned to about `TIME_BUCKETS` points.
    #[test]
    fn a_long_two_process_timeline_is_thinned_per_series() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut csv = String::from(
            "scenario,point,replication,app,process,size,tier,window_start_s,requests,\
             completed,errors,in_flight,mean_ms,p50_ms,p90_ms,p99_ms\n",
        );
        let windows = 3 * TIME_BUCKETS as usize;
        for w in 0..windows {
            for (process, p99) in [("web", 100 + w % 7), ("worker", 500 + w % 5)] {
                csv += &format!(
                    "s,0,0,shop,{process},basic,basic,{}.0,10,10,0,0,1,1,1,{p99}\n",
                    w * 60
                );
            }
        }
        std::fs::write(dir.path().join("windows.csv"), csv).expect("write");
        let tl = Timeline::read(dir.path()).expect("reads");
        assert_eq!(tl.series.len(), 2);
        for (key, points) in &tl.series {
            assert!(
                points.len() <= TIME_BUCKETS as usize + 1 && points.len() >= windows / 4,
                "{key:?}: {} points from {windows} windows",
                points.len()
            );
            // Each point is the highest p99 of the windows in its bucket (t_end / TIME_BUCKETS).
            let width = ((windows - 1) * 60) as f64 / TIME_BUCKETS;
            let p99 = |w: usize| if key.2 == "web" { 100 + w % 7 } else { 500 + w % 5 } as f64;
            for &(t, y) in points {
                let b = (t / width).floor();
                let want = (0..windows)
                    .filter(|w| ((w * 60) as f64 / width).floor() == b)
                    .map(p99)
                    .fold(0.0, f64::max);
                assert_eq!(y, want, "{key:?} at {t} s");
            }
        }
        assert!(tl.windows_per_point >= 3, "{}", tl.windows_per_point);
    }

    #[test]
    fn sweep_keys_are_shortened_for_labels() {
        assert_eq!(short_key("app.shop.process.web.count"), "count");
        assert_eq!(
            short_key("app.api.workload.arrivals.poisson"),
            "arrivals.poisson"
        );
    }
}
