//! Plots of an output folder, drawn from its CSVs alone (PNG and SVG).
//!
//! Reading the CSVs rather than in-memory results means `dynosim plot DIR` redraws exactly what a
//! run drew, a merged folder gets the same plots as a single run, and the plots can never show
//! something the CSVs do not. Figures:
//!
//! - `latency_by_formation`: per formation (sweep point x process type with traffic), a box from
//!   p50 to p95, a marker at p99, a whisker to p99.9 and the maximum, the p99 of every
//!   replication, coloured by tier, on a log axis (summary.csv).
//! - `latency_cdf`: the latency distribution per formation (or per tier and size when there are
//!   many), on a "nines" axis that spreads out the tail: from requests.csv when present, otherwise
//!   through summary.csv's quantiles, averaged over replications.
//! - `p99_over_time`: per-window p99 of replication 0, one panel per tier and size, with restarts
//!   and deploys from events.csv as vertical lines (windows.csv, events.csv).
//! - `sweep_p99_cost` (sweeps only): p99 and monthly cost per sweep point, in two panels.
//!
//! Text is rendered with DejaVu Sans, embedded from `assets/`, so plotting needs no system fonts.

use super::write_atomic;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;
use plotters::style::FontTransform;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::Path;

/// DejaVu Sans (Bitstream Vera licence, see assets/README.md).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
pub(crate) const SANS: &str = "sans-serif";

/// The font is registered once per process; plotters' ab_glyph backend looks fonts up by name.
pub(crate) fn register_font() -> Result<(), String> {
    static ONCE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        plotters::style::register_font(SANS, FontStyle::Normal, FONT)
            .map_err(|_| "the embedded font cannot be read".to_string())
    })
    .clone()
}

/// What `draw_all` produced.
#[derive(Debug, Default, Clone)]
pub struct PlotReport {
    /// Files written, e.g. `latency_cdf.png`.
    pub files: Vec<String>,
    /// Figures that could not be drawn, with the reason; the other figures are still written.
    pub warnings: Vec<String>,
}

/// Why no plot could be drawn at all: the folder's CSVs are missing or unreadable.
#[derive(Debug, Clone)]
pub struct PlotError(pub String);

impl Display for PlotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlotError {}

/// Draw every figure of the output folder `dir` into `dir` (each file written atomically).
///
/// Returns an error only if summary.csv (which every figure needs) cannot be read; a figure that
/// fails on its own is reported in [`PlotReport::warnings`] and the others are still drawn.
pub fn draw_all(dir: &Path) -> Result<PlotReport, PlotError> {
    register_font().map_err(PlotError)?;
    let data = Data::load(dir).map_err(PlotError)?;
    let mut report = PlotReport::default();
    type Draw<'a> = Box<dyn Fn() -> Result<Rendered, String> + 'a>;
    let mut figures: Vec<(&str, Draw<'_>)> = vec![
        (
            "latency_by_formation",
            Box::new(|| render(&BoxFigure(&data))),
        ),
        (
            "latency_cdf",
            Box::new(|| {
                let fig = CdfFigure::new(&data, dir)?;
                render(&fig)
            }),
        ),
        ("p99_over_time", Box::new(|| render(&TimeFigure(&data)))),
    ];
    if data.points.len() > 1 {
        figures.push(("sweep_p99_cost", Box::new(|| render(&SweepFigure(&data)))));
    }
    for (name, draw) in figures {
        // plotters can panic on degenerate input; a bad figure must not cost the CSVs.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(draw))
            .unwrap_or_else(|_| Err("the plotting library panicked".to_string()))
            .and_then(|r| r.write(dir, name));
        match result {
            Ok(files) => report.files.extend(files),
            Err(e) => report.warnings.push(format!("plot {name} not drawn: {e}")),
        }
    }
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// Reading the CSVs.

/// A CSV file with its header, columns looked up by name (so added columns never break plots).
struct Table {
    name: String,
    header: Vec<String>,
    rows: Vec<csv::StringRecord>,
}

impl Table {
    /// Read `name` in `dir`; `Ok(None)` if the file does not exist.
    fn read(dir: &Path, name: &str) -> Result<Option<Table>, String> {
        let path = dir.join(name);
        if !path.exists() {
            return Ok(None);
        }
        let mut r =
            csv::Reader::from_path(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let header = r
            .headers()
            .map_err(|e| format!("{}: {e}", path.display()))?
            .iter()
            .map(str::to_string)
            .collect();
        let rows = r
            .records()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Some(Table {
            name: name.to_string(),
            header,
            rows,
        }))
    }

    fn col(&self, c: &str) -> Result<usize, String> {
        self.header
            .iter()
            .position(|h| h == c)
            .ok_or_else(|| format!("{} has no `{c}` column", self.name))
    }
}

fn num(r: &csv::StringRecord, i: usize) -> f64 {
    r.get(i)
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

fn text(r: &csv::StringRecord, i: usize) -> String {
    r.get(i).unwrap_or("").to_string()
}

/// One row of summary.csv: one process type in one job.
struct Row {
    requests: f64,
    completed: f64,
    errors: f64,
    /// p50, p90, p95, p99, p99.9, max (ms; NaN without completed requests).
    q: [f64; 6],
}

const QUANTILES: [f64; 5] = [0.5, 0.9, 0.95, 0.99, 0.999];

/// A formation: one process type of one app at one sweep point, over its replications.
struct Cat {
    point: usize,
    app: String,
    process: String,
    size: String,
    tier: String,
    dynos: String,
    label: String,
    rows: Vec<Row>,
}

impl Cat {
    fn requests(&self) -> f64 {
        self.rows.iter().map(|r| r.requests).sum()
    }
    fn completed(&self) -> f64 {
        self.rows.iter().map(|r| r.completed).sum()
    }
    fn error_rate(&self) -> f64 {
        let n = self.requests();
        if n > 0.0 {
            self.rows.iter().map(|r| r.errors).sum::<f64>() / n
        } else {
            0.0
        }
    }
    /// Rows with completed requests.
    fn done(&self) -> impl Iterator<Item = &Row> {
        self.rows
            .iter()
            .filter(|r| r.completed > 0.0 && r.q[0].is_finite())
    }
    /// Median over replications of quantile `k` (index into `Row::q`).
    fn median_q(&self, k: usize) -> f64 {
        median(
            self.done()
                .map(|r| r.q[k])
                .filter(|v| v.is_finite())
                .collect(),
        )
    }
    /// Mean over replications of quantile `k`.
    fn mean_q(&self, k: usize) -> f64 {
        mean(self.done().map(|r| r.q[k]).filter(|v| v.is_finite()))
    }
    fn tier_size(&self) -> String {
        format!("{} · {}", self.tier, self.size)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

/// Everything the figures read.
struct Data {
    scenario: String,
    sweep_keys: Vec<String>,
    /// Sweep values per point, in point order.
    points: Vec<Vec<String>>,
    replications: usize,
    /// Formations with traffic (requests > 0), in point then file order.
    cats: Vec<Cat>,
    /// Monthly cost of each point's whole formation (every process, replication 0).
    point_cost: Vec<f64>,
    /// p99 over time and the marked lifecycle events, from windows.csv and events.csv.
    timeline: Result<Timeline, String>,
}

impl Data {
    fn load(dir: &Path) -> Result<Data, String> {
        let s = Table::read(dir, "summary.csv")?
            .ok_or_else(|| format!("{} has no summary.csv", dir.display()))?;
        let c_point = s.col("point")?;
        let c_rep = s.col("replication")?;
        let sweep_keys: Vec<String> = s.header[c_point + 1..c_rep.max(c_point + 1)].to_vec();
        let [
            c_scn,
            c_app,
            c_proc,
            c_size,
            c_tier,
            c_dynos,
            c_req,
            c_done,
            c_err,
            c_cost,
        ] = [
            "scenario",
            "app",
            "process",
            "size",
            "tier",
            "dynos",
            "requests",
            "completed",
            "errors",
            "cost_usd_month",
        ]
        .map(|c| s.col(c));
        let (c_scn, c_app, c_proc, c_size, c_tier) = (c_scn?, c_app?, c_proc?, c_size?, c_tier?);
        let (c_dynos, c_req, c_done, c_err, c_cost) = (c_dynos?, c_req?, c_done?, c_err?, c_cost?);
        let c_q = ["p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms"].map(|c| s.col(c));
        let c_q = {
            let mut out = [0; 6];
            for (o, c) in out.iter_mut().zip(c_q) {
                *o = c?;
            }
            out
        };
        let mut scenario = String::new();
        let mut points: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut reps = std::collections::BTreeSet::new();
        let mut cats: Vec<Cat> = Vec::new();
        let mut index: BTreeMap<(usize, String, String), usize> = BTreeMap::new();
        let mut point_cost: BTreeMap<usize, (u32, f64)> = BTreeMap::new();
        for r in &s.rows {
            scenario = text(r, c_scn);
            let point: usize = r
                .get(c_point)
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("summary.csv: bad point `{}`", text(r, c_point)))?;
            let replication: u32 = r
                .get(c_rep)
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("summary.csv: bad replication `{}`", text(r, c_rep)))?;
            points
                .entry(point)
                .or_insert_with(|| (c_point + 1..c_rep).map(|i| text(r, i)).collect());
            reps.insert(replication);
            let cost = num(r, c_cost);
            let pc = point_cost.entry(point).or_insert((replication, 0.0));
            if pc.0 == replication && cost.is_finite() {
                pc.1 += cost;
            }
            let row = Row {
                requests: num(r, c_req),
                completed: num(r, c_done),
                errors: num(r, c_err),
                q: c_q.map(|i| num(r, i)),
            };
            let key = (point, text(r, c_app), text(r, c_proc));
            let i = *index.entry(key.clone()).or_insert_with(|| {
                cats.push(Cat {
                    point,
                    app: key.1.clone(),
                    process: key.2.clone(),
                    size: text(r, c_size),
                    tier: text(r, c_tier),
                    dynos: text(r, c_dynos),
                    label: String::new(),
                    rows: Vec::new(),
                });
                cats.len() - 1
            });
            cats[i].rows.push(row);
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
        };
        data.label_cats();
        Ok(data)
    }

    /// Short, unique formation labels: `standard-1x ×4`, prefixed with `app/process` when several
    /// process types get traffic, suffixed with other sweep values when those alone differ.
    fn label_cats(&mut self) {
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
        for c in &mut self.cats {
            if counts[&c.label] > 1 {
                let extra: Vec<String> = self
                    .sweep_keys
                    .iter()
                    .zip(&self.points[c.point])
                    .filter(|(k, _)| !k.ends_with(".size") && !k.ends_with(".count"))
                    .map(|(k, v)| format!("{}={v}", short_key(k)))
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

    /// Label of a sweep point for the sweep figure's x axis.
    fn point_label(&self, p: usize) -> String {
        self.points[p].join(" · ")
    }

    fn sweep_desc(&self) -> String {
        let short: Vec<String> = self.sweep_keys.iter().map(|k| short_key(k)).collect();
        let unique: std::collections::BTreeSet<&String> = short.iter().collect();
        if unique.len() == short.len() {
            short.join(" · ")
        } else {
            self.sweep_keys.join(" · ")
        }
    }
}

/// `app.shop.process.web.count` -> `count`; `...arrivals.poisson` -> `arrivals.poisson`.
fn short_key(k: &str) -> String {
    let parts: Vec<&str> = k.split('.').collect();
    match parts.as_slice() {
        [.., "process", _, last] => (*last).to_string(),
        [.., a, b] if parts.len() > 3 => format!("{a}.{b}"),
        _ => k.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering.

const W: u32 = 1280;
const H: u32 = 760;

/// Width of a figure with `n` categories on its x axis: wider rather than crowded.
fn cat_width(n: usize) -> u32 {
    (n as u32 * 140).clamp(W, 3000)
}

/// A figure that can be drawn on any plotters backend (on a white background that
/// [`render`] paints first).
pub(crate) trait Figure {
    fn size(&self) -> (u32, u32) {
        (W, H)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// A figure rendered in memory, as PNG and SVG bytes.
pub(crate) struct Rendered {
    png: Vec<u8>,
    svg: String,
}

impl Rendered {
    /// Write `<dir>/<name>.png` and `.svg` atomically; returns the file names.
    pub(crate) fn write(self, dir: &Path, name: &str) -> Result<Vec<String>, String> {
        let mut files = Vec::new();
        for (ext, bytes) in [("png", self.png.as_slice()), ("svg", self.svg.as_bytes())] {
            let file = format!("{name}.{ext}");
            write_atomic(&dir.join(&file), bytes)
                .map_err(|e| format!("cannot write {file}: {e}"))?;
            files.push(file);
        }
        Ok(files)
    }
}

fn err(e: impl Display) -> String {
    e.to_string()
}

/// Draw `fig` twice, to a bitmap (encoded as PNG) and to SVG.
pub(crate) fn render(fig: &impl Figure) -> Result<Rendered, String> {
    let (w, h) = fig.size();
    let mut buf = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        fig.draw(&root)?;
        root.present().map_err(err)?;
    }
    let mut png = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().map_err(err)?;
        wr.write_image_data(&buf).map_err(err)?;
        wr.finish().map_err(err)?;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        fig.draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(Rendered { png, svg })
}

fn tier_color(tier: &str) -> RGBColor {
    match tier {
        "eco" => RGBColor(127, 127, 127),
        "basic" => RGBColor(23, 190, 207),
        "standard" => RGBColor(31, 119, 180),
        "performance" => RGBColor(255, 127, 14),
        "private" => RGBColor(44, 160, 44),
        "shield" => RGBColor(148, 103, 189),
        "fir" => RGBColor(140, 86, 75),
        _ => RGBColor(60, 60, 60),
    }
}

const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

const ERROR_RED: RGBColor = RGBColor(200, 30, 30);

/// Lifecycle events drawn on the time series, with their colours.
const MARKED_EVENTS: [(&str, RGBColor); 6] = [
    ("cycle", RGBColor(31, 119, 180)),
    ("deploy", RGBColor(44, 160, 44)),
    ("crash", RGBColor(214, 39, 40)),
    ("r10", RGBColor(227, 119, 194)),
    ("r15", RGBColor(148, 103, 189)),
    ("sleep", RGBColor(127, 127, 127)),
];

fn font(size: u32) -> TextStyle<'static> {
    (SANS, size).into_font().into()
}

/// Tick positions 1-2-5 per decade within `[lo, hi]`, or whole decades if that is too many.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let (d0, d1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let steps: &[f64] = if d1 - d0 > 4 {
        &[1.0]
    } else {
        &[1.0, 2.0, 5.0]
    };
    for d in d0..=d1 {
        for m in steps {
            let v = m * 10f64.powi(d);
            if v >= lo * 0.999 && v <= hi * 1.001 {
                out.push(v);
            }
        }
    }
    out
}

/// A latency tick label in ms: `0.5`, `20`, `1,000`.
fn fmt_ms(v: f64) -> String {
    if v < 1.0 {
        let decimals = (-v.log10().floor()).max(1.0) as usize;
        format!("{v:.decimals$}")
    } else {
        let n = v.round() as u64;
        let s = n.to_string();
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        out
    }
}

/// A latency value for annotations: `412 ms`, `1.6 s`.
fn fmt_latency(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.0} s", ms / 1000.0)
    } else if ms >= 1000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// A log axis range covering `values` with some room.
fn log_range(values: impl Iterator<Item = f64>, pad_lo: f64, pad_hi: f64) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() || hi <= 0.0 {
        return (1.0, 1000.0);
    }
    let (lo, hi) = (lo / pad_lo, hi * pad_hi);
    let (lo, hi) = if hi / lo < 10.0 {
        let mid = (lo * hi).sqrt();
        (mid / 3.2, mid * 3.2)
    } else {
        (lo, hi)
    };
    // Out to the nearest 1-2-5 values, so both ends of the axis carry a tick.
    (nice_below(lo), nice_above(hi))
}

/// The largest 1, 2 or 5 x 10^k at or below `v` (> 0).
fn nice_below(v: f64) -> f64 {
    let d = 10f64.powf(v.log10().floor());
    [5.0, 2.0, 1.0]
        .iter()
        .map(|m| m * d)
        .find(|x| *x <= v * 1.000_001)
        .unwrap_or(d)
}

/// The smallest 1, 2 or 5 x 10^k at or above `v` (> 0).
fn nice_above(v: f64) -> f64 {
    let d = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * d)
        .find(|x| *x >= v / 1.000_001)
        .unwrap_or(10.0 * d)
}

/// A message in the middle of an empty figure.
fn empty<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    msg: &str,
) -> Result<(), String> {
    let area = root.titled(title, font(26)).map_err(err)?;
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        msg.to_string(),
        (w as i32 / 2 - 200, h as i32 / 2),
        font(20),
    ))
    .map_err(err)
}

/// A linear f64 axis with ticks exactly where we want them (plotters' own key-point wrapper
/// around f64 ranges has no default label formatting, so `configure_mesh` rejects it).
#[derive(Clone)]
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let f = (v - self.lo) / (self.hi - self.lo);
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// x axis of categories 0..n, with a label at each integer.
fn cat_axis(n: usize) -> Ticked {
    Ticked {
        lo: -0.6,
        hi: n as f64 - 0.4,
        ticks: (0..n).map(|i| i as f64).collect(),
    }
}

/// A log latency axis with 1-2-5 ticks.
fn log_axis(
    lo: f64,
    hi: f64,
) -> plotters::coord::combinators::WithKeyPoints<plotters::coord::combinators::LogCoord<f64>> {
    use plotters::coord::combinators::{BindKeyPoints, IntoLogRange};
    (lo..hi).log_scale().with_key_points(log_ticks(lo, hi))
}

/// How to label `labels` in `width_px`: upright when they fit, else rotated (drawn by
/// [`draw_rotated_labels`], since plotters centres rotated axis labels on the axis line). Returns
/// whether to rotate and the height of the label area.
fn cat_label_style(labels: &[String], width_px: u32) -> (bool, u32) {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32;
    let per_cat = width_px / (labels.len().max(1) as u32);
    if longest * 9 > per_cat {
        (true, (longest * 8 + 50).clamp(60, 300))
    } else {
        (false, 50)
    }
}

/// Category labels written downwards from each tick, below the chart's x axis.
fn draw_rotated_labels<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    root: &DrawingArea<DB, Shift>,
    chart: &ChartContext<'_, DB, Cartesian2d<Ticked, Y>>,
    labels: &[String],
    y_axis: f64,
) -> Result<(), String> {
    let (ox, oy) = root.get_base_pixel();
    for (i, l) in labels.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(i as f64, y_axis));
        root.draw(&Text::new(
            l.clone(),
            (px - ox + 8, py - oy + 10),
            font(14).transform(FontTransform::Rotate90),
        ))
        .map_err(err)?;
    }
    Ok(())
}

fn index_label(labels: &[String]) -> impl Fn(&f64) -> String + '_ {
    move |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            labels.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    }
}

/// The legend every figure draws: series labels in a translucent box.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    font_size: u32,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font(font(font_size))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(err)
}

fn legend_box(color: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.mix(0.45).filled())
}

fn legend_line(color: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
}

// ---------------------------------------------------------------------------------------------
// (a) Latency by formation.

struct BoxFigure<'a>(&'a Data);

impl Figure for BoxFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (cat_width(self.0.cats.len()), H)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let d = self.0;
        let title = format!("Latency by formation — {}", d.scenario);
        if d.cats.is_empty() {
            return empty(root, &title, "no requests in this output");
        }
        let labels: Vec<String> = d.cats.iter().map(|c| c.label.clone()).collect();
        let (rotate, label_area) = cat_label_style(&labels, self.size().0 - 120);
        let (lo, hi) = log_range(
            d.cats
                .iter()
                .flat_map(|c| c.done().flat_map(|r| [r.q[0], r.q[5]])),
            2.5,
            1.0,
        );
        // Room above the data for the legend and the error notes.
        let hi = hi * (hi / lo).powf(0.3);
        let mut chart = ChartBuilder::on(root)
            .caption(&title, font(26))
            .margin(16)
            .margin_right(60)
            .x_label_area_size(label_area)
            .y_label_area_size(80)
            .build_cartesian_2d(cat_axis(d.cats.len()), log_axis(lo, hi))
            .map_err(err)?;
        let fmt_x = index_label(&labels);
        let blank = |_: &f64| String::new();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(if rotate { &blank } else { &fmt_x })
            .x_label_style(font(15))
            .y_label_formatter(&|v| fmt_ms(*v))
            .y_label_style(font(15))
            .x_desc(format!(
                "formation (size ×dynos); median over {} replication(s)",
                d.replications
            ))
            .y_desc("latency (ms, log scale)")
            .axis_desc_style(font(17))
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(err)?;

        // Boxes at most ~120 px wide, however few the formations.
        let units_per_px = (d.cats.len() as f64 + 0.2) / f64::from(self.size().0 - 200);
        let half = 0.28f64.min(60.0 * units_per_px);
        for (i, c) in d.cats.iter().enumerate() {
            let x = i as f64;
            let color = tier_color(&c.tier);
            if c.completed() == 0.0 {
                chart
                    .draw_series([Cross::new((x, lo * 1.5), 9, ERROR_RED.stroke_width(3))])
                    .map_err(err)?;
                chart
                    .draw_series([Text::new(
                        "no responses".to_string(),
                        (x - 0.3, lo * 2.4),
                        font(13).color(&ERROR_RED),
                    )])
                    .map_err(err)?;
                continue;
            }
            let [p50, _p90, p95, p99, p999, max] = [0, 1, 2, 3, 4, 5].map(|k| c.median_q(k));
            // Whisker p95 -> p99.9, box p50 -> p95, p99 marker, max cross.
            chart
                .draw_series([PathElement::new(
                    vec![(x, p95), (x, p999)],
                    color.stroke_width(2),
                )])
                .map_err(err)?;
            chart
                .draw_series([PathElement::new(
                    vec![(x - half / 2.0, p999), (x + half / 2.0, p999)],
                    color.stroke_width(2),
                )])
                .map_err(err)?;
            chart
                .draw_series([
                    Rectangle::new([(x - half, p50), (x + half, p95)], color.mix(0.35).filled()),
                    Rectangle::new([(x - half, p50), (x + half, p95)], color.stroke_width(2)),
                ])
                .map_err(err)?;
            chart
                .draw_series([PathElement::new(
                    vec![(x - half, p50), (x + half, p50)],
                    BLACK.stroke_width(3),
                )])
                .map_err(err)?;
            chart
                .draw_series([TriangleMarker::new((x, p99), 8, BLACK.filled())])
                .map_err(err)?;
            chart
                .draw_series([Cross::new((x, max), 5, BLACK.stroke_width(2))])
                .map_err(err)?;
            // Every replication's p99, beside the box.
            chart
                .draw_series(c.done().map(|r| {
                    Circle::new(
                        (x + half + 12.0 * units_per_px, r.q[3]),
                        4,
                        BLACK.mix(0.7).stroke_width(1),
                    )
                }))
                .map_err(err)?;
            chart
                .draw_series([Text::new(
                    fmt_latency(p99),
                    (x + half + 22.0 * units_per_px, p99),
                    font(13),
                )])
                .map_err(err)?;
            let er = c.error_rate();
            if er >= 0.001 {
                chart
                    .draw_series([Text::new(
                        format!("{:.1}% errors", er * 100.0),
                        (x - half, max * 1.9),
                        font(13).color(&ERROR_RED),
                    )])
                    .map_err(err)?;
            }
        }
        if rotate {
            draw_rotated_labels(root, &chart, &labels, lo)?;
        }
        // Legend: tiers, then what the marks mean.
        let mut tiers: Vec<&str> = d.cats.iter().map(|c| c.tier.as_str()).collect();
        tiers.dedup();
        let mut seen = std::collections::BTreeSet::new();
        for t in tiers {
            if !seen.insert(t) {
                continue;
            }
            let color = tier_color(t);
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(err)?
                .label(format!("{t} tier: box p50 to p95"))
                .legend(legend_box(color));
        }
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(err)?
            .label("p99 (value shown)")
            .legend(|(x, y)| TriangleMarker::new((x + 7, y), 7, BLACK.filled()));
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(err)?
            .label("p99 of each replication")
            .legend(|(x, y)| Circle::new((x + 7, y), 4, BLACK.stroke_width(1)));
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(err)?
            .label("whisker to p99.9, × max")
            .legend(|(x, y)| Cross::new((x + 7, y), 5, BLACK.stroke_width(2)));
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 14)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// (b) Latency CDF.

/// One CDF curve: (latency ms, quantile) points in increasing order.
struct Curve {
    label: String,
    tier: String,
    points: Vec<(f64, f64)>,
    /// Whether the points are exact (requests.csv) or quantile anchors (summary.csv).
    exact: bool,
}

struct CdfFigure<'a> {
    data: &'a Data,
    curves: Vec<Curve>,
    source: String,
}

/// Curves per formation when there are few, per tier and size otherwise.
const MAX_CURVES: usize = 8;

impl<'a> CdfFigure<'a> {
    fn new(data: &'a Data, dir: &Path) -> Result<CdfFigure<'a>, String> {
        let per_cat = data.cats.iter().filter(|c| c.completed() > 0.0).count() <= MAX_CURVES;
        // Group formations into curves.
        let mut groups: Vec<(String, String, Vec<usize>)> = Vec::new();
        for (i, c) in data.cats.iter().enumerate() {
            if c.completed() == 0.0 {
                continue;
            }
            let key = if per_cat {
                c.label.clone()
            } else {
                c.tier_size()
            };
            match groups.iter_mut().find(|g| g.0 == key) {
                Some(g) => g.2.push(i),
                None => groups.push((key, c.tier.clone(), vec![i])),
            }
        }
        let requests = dir.join("requests.csv");
        if requests.exists() {
            let curves = exact_curves(data, &requests, &groups)?;
            let n: u64 = curves.1;
            return Ok(CdfFigure {
                data,
                curves: curves.0,
                source: format!("from requests.csv ({n} completed requests)"),
            });
        }
        let curves = groups
            .into_iter()
            .map(|(label, tier, idx)| {
                // Vincentized: each quantile averaged over the group's jobs.
                let rows: Vec<&Row> = idx.iter().flat_map(|&i| data.cats[i].done()).collect();
                let avg = |k: usize| mean(rows.iter().map(|r| r.q[k]).filter(|v| v.is_finite()));
                let n = mean(rows.iter().map(|r| r.completed));
                let mut points: Vec<(f64, f64)> = Vec::new();
                for (k, q) in QUANTILES.iter().enumerate() {
                    if *q == 0.999 && n < 1000.0 {
                        continue; // p99.9 is the maximum below 1000 requests
                    }
                    points.push((avg(k), *q));
                }
                // The maximum of n requests sits at about the n/(n+1) quantile.
                points.push((avg(5), n / (n + 1.0)));
                points.retain(|p| p.0.is_finite() && p.0 > 0.0);
                Curve {
                    label,
                    tier,
                    points,
                    exact: false,
                }
            })
            .collect();
        Ok(CdfFigure {
            data,
            curves,
            source: "from summary.csv quantiles (p50 … max), averaged over replications".into(),
        })
    }
}

/// Empirical CDFs from requests.csv (only `ok` rows), through a histogram per curve so memory
/// stays bounded whatever the file's size.
fn exact_curves(
    data: &Data,
    path: &Path,
    groups: &[(String, String, Vec<usize>)],
) -> Result<(Vec<Curve>, u64), String> {
    let mut r = csv::Reader::from_path(path).map_err(|e| format!("requests.csv: {e}"))?;
    let h = r
        .headers()
        .map_err(|e| format!("requests.csv: {e}"))?
        .clone();
    let col = |c: &str| {
        h.iter()
            .position(|x| x == c)
            .ok_or_else(|| format!("requests.csv has no `{c}` column"))
    };
    let (cp, ca, cpr, cl, cs) = (
        col("point")?,
        col("app")?,
        col("process")?,
        col("latency_ms")?,
        col("status")?,
    );
    let mut owner: BTreeMap<(usize, String, String), usize> = BTreeMap::new();
    for (g, (_, _, idx)) in groups.iter().enumerate() {
        for &i in idx {
            let c = &data.cats[i];
            owner.insert((c.point, c.app.clone(), c.process.clone()), g);
        }
    }
    let mut hists: Vec<hdrhistogram::Histogram<u64>> = groups
        .iter()
        .map(|_| hdrhistogram::Histogram::new(3).map_err(err))
        .collect::<Result<_, _>>()?;
    let mut rec = csv::StringRecord::new();
    let mut total = 0u64;
    while r
        .read_record(&mut rec)
        .map_err(|e| format!("requests.csv: {e}"))?
    {
        if rec.get(cs) != Some("ok") {
            continue;
        }
        let Some(point) = rec.get(cp).and_then(|p| p.parse::<usize>().ok()) else {
            continue;
        };
        let key = (point, text(&rec, ca), text(&rec, cpr));
        let (Some(&g), Some(ms)) = (
            owner.get(&key),
            rec.get(cl).and_then(|v| v.parse::<f64>().ok()),
        ) else {
            continue;
        };
        // Microseconds: 3 significant digits are plenty for a plot.
        let us = (ms * 1000.0).max(1.0) as u64;
        // `record` grows the auto-resizing histogram; saturating would clamp to its start size.
        if hists[g].record(us).is_err() {
            hists[g].saturating_record(us);
        }
        total += 1;
    }
    let curves = groups
        .iter()
        .zip(hists)
        .map(|((label, tier, _), h)| {
            let n = h.len() as f64;
            let mut cum = 0u64;
            let points = h
                .iter_recorded()
                .map(|v| {
                    cum += v.count_at_value();
                    (
                        v.value_iterated_to() as f64 / 1000.0,
                        cum as f64 / (n + 1.0),
                    )
                })
                .collect();
            Curve {
                label: label.clone(),
                tier: tier.clone(),
                points,
                exact: true,
            }
        })
        .collect();
    Ok((curves, total))
}

/// Quantile q on the "nines" scale: 0.9 -> 1, 0.99 -> 2, 0.999 -> 3.
fn nines(q: f64) -> f64 {
    -(1.0 - q).max(1e-9).log10()
}

fn fmt_nines(y: f64) -> String {
    let q = 1.0 - 10f64.powf(-y);
    let pct = q * 100.0;
    if y < 0.05 {
        "0%".into()
    } else if (pct - pct.round()).abs() < 1e-6 {
        format!("{pct:.0}%")
    } else {
        let digits = (y.round() as usize).saturating_sub(2).min(6);
        format!("{pct:.digits$}%")
    }
}

impl Figure for CdfFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let title = format!("Latency distribution — {}", self.data.scenario);
        if self.curves.iter().all(|c| c.points.is_empty()) {
            return empty(root, &title, "no completed requests");
        }
        // The axis starts at the 1st percentile: below it an empirical CDF only adds decades of
        // near-zero values that squash the part that matters.
        let (lo, hi) = log_range(
            self.curves
                .iter()
                .flat_map(|c| c.points.iter().filter(|p| p.1 >= 0.01).map(|p| p.0)),
            1.3,
            1.5,
        );
        let ymax = self
            .curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| nines(p.1)))
            .fold(2.0f64, f64::max)
            .ceil()
            .min(7.0);
        let mut yticks = vec![0.0, nines(0.5)];
        yticks.extend((1..=ymax as i32).map(f64::from));
        let mut chart = ChartBuilder::on(root)
            .caption(&title, font(26))
            .margin(16)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(
                log_axis(lo, hi),
                Ticked {
                    lo: 0.0,
                    hi: ymax + 0.15,
                    ticks: yticks,
                },
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|v| fmt_ms(*v))
            .y_label_formatter(&|y| fmt_nines(*y))
            .label_style(font(15))
            .x_desc(format!("latency (ms, log scale) — {}", self.source))
            .y_desc("fraction of requests at or below (nines scale)")
            .axis_desc_style(font(17))
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(err)?;
        for (i, c) in self.curves.iter().enumerate() {
            let color = if self.curves.len() <= PALETTE.len() {
                PALETTE[i % PALETTE.len()]
            } else {
                tier_color(&c.tier)
            };
            let pts: Vec<(f64, f64)> = c
                .points
                .iter()
                .filter(|p| p.0 >= lo)
                .map(|p| (p.0, nines(p.1)))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(3)))
                .map_err(err)?
                .label(format!("{} ({})", c.label, c.tier))
                .legend(legend_line(color));
            if !c.exact {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                    .map_err(err)?;
            }
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 14)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// (c) p99 over time.

struct TimeFigure<'a>(&'a Data);

/// Panels at most (one per tier and size).
const MAX_PANELS: usize = 6;

struct Series {
    label: String,
    points: Vec<(f64, f64)>,
}

struct Panel {
    title: String,
    tier: String,
    series: Vec<Series>,
    /// (time, event kind) of marked lifecycle events.
    events: Vec<(f64, &'static str)>,
}

/// A series key: (point, app, process), replication 0.
type SeriesKey = (usize, String, String);

/// What the time figure needs of windows.csv and events.csv, read in one streaming pass each
/// and thinned to at most [`TIME_BUCKETS`] points per series, so that drawing a long run costs
/// no more memory than drawing a short one.
struct Timeline {
    /// Start of the last window, s.
    t_end: f64,
    /// Per series, (window start s, p99 ms): the highest p99 of each time bucket, at the start
    /// of the bucket's first window (the highest, so that a thinned line keeps its spikes).
    series: BTreeMap<SeriesKey, Vec<(f64, f64)>>,
    /// Per series, marked events (time s, kind), at most one per kind and bucket.
    events: BTreeMap<SeriesKey, Vec<(f64, &'static str)>>,
    /// Windows per bucket when thinned (> 1), else 1.
    windows_per_point: usize,
}

/// Points per series at most: about one per pixel column of the figure.
const TIME_BUCKETS: f64 = 1200.0;

/// Stream the rows of `dir/name` to `each`, with the header for column lookups.
fn scan_csv(
    dir: &Path,
    name: &str,
    mut each: impl FnMut(&csv::StringRecord) -> Result<(), String>,
) -> Result<Option<Vec<String>>, String> {
    let path = dir.join(name);
    if !path.exists() {
        return Ok(None);
    }
    let e = |e: csv::Error| format!("{}: {e}", path.display());
    let mut r = csv::Reader::from_path(&path).map_err(e)?;
    let header: Vec<String> = r.headers().map_err(e)?.iter().map(str::to_string).collect();
    let mut rec = csv::StringRecord::new();
    while r.read_record(&mut rec).map_err(e)? {
        each(&rec)?;
    }
    Ok(Some(header))
}

fn header_cols<const N: usize>(
    file: &str,
    header: &[String],
    names: [&str; N],
) -> Result<[usize; N], String> {
    let mut out = [0; N];
    for (o, n) in out.iter_mut().zip(names) {
        *o = header
            .iter()
            .position(|h| h == n)
            .ok_or_else(|| format!("{file} has no `{n}` column"))?;
    }
    Ok(out)
}

/// The header of a CSV file (first line), for column positions before streaming.
fn read_header(dir: &Path, name: &str) -> Result<Option<Vec<String>>, String> {
    let path = dir.join(name);
    if !path.exists() {
        return Ok(None);
    }
    let e = |e: csv::Error| format!("{}: {e}", path.display());
    let mut r = csv::Reader::from_path(&path).map_err(e)?;
    Ok(Some(
        r.headers().map_err(e)?.iter().map(str::to_string).collect(),
    ))
}

impl Timeline {
    fn read(dir: &Path) -> Result<Timeline, String> {
        let header = read_header(dir, "windows.csv")?.ok_or("windows.csv is missing")?;
        let [cp, cr, ca, cpr, ct, c99, cdone] = header_cols(
            "windows.csv",
            &header,
            [
                "point",
                "replication",
                "app",
                "process",
                "window_start_s",
                "p99_ms",
                "completed",
            ],
        )?;
        // Pass 1: the time span and the window length, to size the buckets.
        let (mut t_end, mut step) = (0.0f64, f64::INFINITY);
        let mut last: Option<f64> = None;
        scan_csv(dir, "windows.csv", |r| {
            let t = num(r, ct);
            if t.is_finite() {
                t_end = t_end.max(t);
                if let Some(l) = last.filter(|l| t > *l) {
                    step = step.min(t - l);
                }
                last = Some(t);
            }
            Ok(())
        })?;
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
        scan_csv(dir, "windows.csv", |r| {
            if r.get(cr) != Some("0") || num(r, cdone) <= 0.0 {
                return Ok(());
            }
            let Some(point) = r.get(cp).and_then(|p| p.parse::<usize>().ok()) else {
                return Ok(());
            };
            let (t, y) = (num(r, ct), num(r, c99));
            if !(y.is_finite() && y > 0.0) {
                return Ok(());
            }
            let (points, merged) = series
                .entry((point, text(r, ca), text(r, cpr)))
                .or_default();
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
            Ok(())
        })?;
        let series = series.into_iter().map(|(k, (v, _))| (k, v)).collect();
        let mut events: BTreeMap<SeriesKey, Vec<(f64, &'static str)>> = BTreeMap::new();
        if let Some(header) = read_header(dir, "events.csv")? {
            let [ep, er, ea, epr, et, ek] = header_cols(
                "events.csv",
                &header,
                ["point", "replication", "app", "process", "time_s", "event"],
            )?;
            scan_csv(dir, "events.csv", |r| {
                if r.get(er) != Some("0") {
                    return Ok(());
                }
                let Some(point) = r.get(ep).and_then(|p| p.parse::<usize>().ok()) else {
                    return Ok(());
                };
                let kind = r.get(ek).unwrap_or("");
                if let Some((k, _)) = MARKED_EVENTS.iter().find(|(k, _)| *k == kind) {
                    let t = num(r, et);
                    let marks = events
                        .entry((point, text(r, ea), text(r, epr)))
                        .or_default();
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
                Ok(())
            })?;
        }
        Ok(Timeline {
            t_end,
            series,
            events,
            windows_per_point: per_point,
        })
    }
}

impl TimeFigure<'_> {
    fn panels(&self) -> Result<(Vec<Panel>, f64, &'static str), String> {
        let tl = self.0.timeline.as_ref().map_err(|e| e.clone())?;
        let d = self.0;
        let t_end = tl.t_end;
        let (scale, unit) = if t_end > 3.0 * 3600.0 {
            (3600.0, "h")
        } else {
            (60.0, "min")
        };
        let scaled = |v: &Vec<(f64, f64)>| -> Vec<(f64, f64)> {
            v.iter().map(|&(t, y)| (t / scale, y)).collect()
        };
        let series: BTreeMap<&SeriesKey, Vec<(f64, f64)>> =
            tl.series.iter().map(|(k, v)| (k, scaled(v))).collect();
        let events: BTreeMap<&SeriesKey, Vec<(f64, &'static str)>> = tl
            .events
            .iter()
            .map(|(k, v)| (k, v.iter().map(|&(t, e)| (t / scale, e)).collect()))
            .collect();
        let mut panels: Vec<Panel> = Vec::new();
        for c in &d.cats {
            let key = (c.point, c.app.clone(), c.process.clone());
            let Some(points) = series.get(&key) else {
                continue;
            };
            let title = c.tier_size();
            let idx = match panels.iter().position(|p| p.title == title) {
                Some(i) => i,
                None => {
                    panels.push(Panel {
                        title,
                        tier: c.tier.clone(),
                        series: Vec::new(),
                        events: Vec::new(),
                    });
                    panels.len() - 1
                }
            };
            panels[idx].series.push(Series {
                label: c.label.clone(),
                points: points.clone(),
            });
            if let Some(ev) = events.get(&key) {
                panels[idx].events.extend(ev.iter().copied());
            }
        }
        Ok((panels, t_end / scale, unit))
    }
}

impl Figure for TimeFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let n = self
            .panels()
            .map(|p| p.0.len())
            .unwrap_or(1)
            .clamp(1, MAX_PANELS);
        (W, 120 + 330 * n as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let d = self.0;
        let thinned = match &d.timeline {
            Ok(t) if t.windows_per_point > 1 => {
                format!(
                    ", highest of up to {} windows per point",
                    t.windows_per_point
                )
            }
            _ => String::new(),
        };
        let title = format!(
            "p99 latency per window over time — {} (replication 0{thinned})",
            d.scenario
        );
        let (panels, t_end, unit) = self.panels()?;
        if panels.is_empty() {
            return empty(root, &title, "no window completed a request");
        }
        let shown = panels.len().min(MAX_PANELS);
        let body = root
            .margin(8, 0, 0, 0)
            .titled(&title, font(26))
            .map_err(err)?;
        let areas = body.split_evenly((shown, 1));
        let (lo, hi) = log_range(
            panels
                .iter()
                .flat_map(|p| p.series.iter().flat_map(|s| s.points.iter().map(|q| q.1))),
            1.4,
            1.6,
        );
        for (pi, (panel, area)) in panels.iter().zip(&areas).enumerate() {
            let mut caption = panel.title.clone();
            if pi == shown - 1 && panels.len() > shown {
                caption.push_str(&format!(
                    " ({} more tier/size panel(s) not shown)",
                    panels.len() - shown
                ));
            }
            let mut chart = ChartBuilder::on(area)
                .caption(&caption, font(18))
                .margin(10)
                .x_label_area_size(50)
                .y_label_area_size(80)
                .build_cartesian_2d(0.0..t_end.max(1e-9) * 1.02, log_axis(lo, hi))
                .map_err(err)?;
            chart
                .configure_mesh()
                .y_label_formatter(&|v| fmt_ms(*v))
                .x_label_formatter(&|v| format!("{v}"))
                .label_style(font(14))
                .x_desc(format!("simulated time ({unit}), window start"))
                .y_desc("p99 (ms, log)")
                .axis_desc_style(font(15))
                .light_line_style(WHITE)
                .bold_line_style(BLACK.mix(0.12))
                .draw()
                .map_err(err)?;
            let mut kinds: Vec<&str> = Vec::new();
            for (t, kind) in &panel.events {
                let color = MARKED_EVENTS
                    .iter()
                    .find(|(k, _)| k == kind)
                    .map_or(BLACK, |(_, c)| *c);
                chart
                    .draw_series([PathElement::new(
                        vec![(*t, lo), (*t, hi)],
                        color.mix(0.55).stroke_width(2),
                    )])
                    .map_err(err)?;
                if !kinds.contains(kind) {
                    kinds.push(kind);
                }
            }
            for (i, s) in panel.series.iter().enumerate() {
                // One line per panel takes its tier's colour, as in the other figures.
                let color = if panel.series.len() == 1 {
                    tier_color(&panel.tier)
                } else {
                    PALETTE[i % PALETTE.len()]
                };
                chart
                    .draw_series(LineSeries::new(s.points.clone(), color.stroke_width(2)))
                    .map_err(err)?
                    .label(s.label.clone())
                    .legend(legend_line(color));
            }
            for kind in kinds {
                let color = MARKED_EVENTS
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map_or(BLACK, |(_, c)| *c);
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                    .map_err(err)?
                    .label(format!("{kind} (event)"))
                    .legend(move |(x, y)| {
                        PathElement::new(
                            vec![(x + 8, y - 7), (x + 8, y + 7)],
                            color.stroke_width(2),
                        )
                    });
            }
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 13)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// (d) Sweeps: p99 and monthly cost per point.

struct SweepFigure<'a>(&'a Data);

impl Figure for SweepFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (cat_width(self.0.points.len()), 900)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let d = self.0;
        let n = d.points.len();
        let labels: Vec<String> = (0..n).map(|p| d.point_label(p)).collect();
        let title = format!(
            "p99 latency and monthly cost per sweep point — {}",
            d.scenario
        );
        let body = root
            .margin(8, 0, 0, 0)
            .titled(&title, font(26))
            .map_err(err)?;
        let (rotate, label_area) = cat_label_style(&labels, self.size().0 - 120);
        let (top, bottom) = body.split_vertically(((900 - 40 - label_area) as f64 * 0.62) as u32);
        // Series: one per process type with traffic.
        let mut procs: Vec<(String, String)> = Vec::new();
        for c in &d.cats {
            let k = (c.app.clone(), c.process.clone());
            if !procs.contains(&k) {
                procs.push(k);
            }
        }
        let (lo, hi) = log_range(
            d.cats.iter().flat_map(|c| c.done().map(|r| r.q[3])),
            1.6,
            1.8,
        );
        let mut chart = ChartBuilder::on(&top)
            .margin(12)
            .x_label_area_size(10)
            .y_label_area_size(80)
            .build_cartesian_2d(cat_axis(n), log_axis(lo, hi))
            .map_err(err)?;
        let none = |_: &f64| String::new();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&none)
            .y_label_formatter(&|v| fmt_ms(*v))
            .label_style(font(14))
            .y_desc("p99 latency (ms, log scale)")
            .axis_desc_style(font(16))
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(err)?;
        let offset = |i: usize| {
            if procs.len() > 1 {
                (i as f64 - (procs.len() - 1) as f64 / 2.0) * 0.12
            } else {
                0.0
            }
        };
        for (i, (app, process)) in procs.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let cats: Vec<&Cat> = d
                .cats
                .iter()
                .filter(|c| &c.app == app && &c.process == process)
                .collect();
            let means: Vec<(f64, f64)> = cats
                .iter()
                .filter(|c| c.completed() > 0.0)
                .map(|c| (c.point as f64 + offset(i), c.mean_q(3)))
                .collect();
            let name = if procs.len() > 1 {
                format!("{app}/{process} ")
            } else {
                String::new()
            };
            chart
                .draw_series(LineSeries::new(means.clone(), color.stroke_width(2)))
                .map_err(err)?
                .label(format!("{name}p99, mean of replications"))
                .legend(legend_line(color));
            chart
                .draw_series(means.iter().map(|&p| Circle::new(p, 6, color.filled())))
                .map_err(err)?;
            chart
                .draw_series(cats.iter().flat_map(|c| {
                    c.done().map(move |r| {
                        Circle::new(
                            (c.point as f64 + offset(i) + 0.05, r.q[3]),
                            3,
                            color.mix(0.8).stroke_width(1),
                        )
                    })
                }))
                .map_err(err)?
                .label(format!("{name}p99 of each replication"))
                .legend(move |(x, y)| Circle::new((x + 8, y), 3, color.stroke_width(1)));
            for c in &cats {
                let x = c.point as f64 + offset(i);
                if c.completed() == 0.0 {
                    chart
                        .draw_series([Cross::new((x, hi / 2.0), 9, ERROR_RED.stroke_width(3))])
                        .map_err(err)?;
                }
                let er = c.error_rate();
                if er >= 0.001 {
                    chart
                        .draw_series([Text::new(
                            format!("{:.0}% err", er * 100.0),
                            (x - 0.25, hi / 1.25),
                            font(13).color(&ERROR_RED),
                        )])
                        .map_err(err)?;
                }
            }
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerLeft, 14)?;

        let cmax = d
            .point_cost
            .iter()
            .copied()
            .filter(|c| c.is_finite())
            .fold(0.0f64, f64::max)
            .max(1.0);
        let mut chart = ChartBuilder::on(&bottom)
            .margin(12)
            .x_label_area_size(label_area)
            .y_label_area_size(80)
            .build_cartesian_2d(cat_axis(n), 0.0..cmax * 1.25)
            .map_err(err)?;
        let fmt_x = index_label(&labels);
        let blank = |_: &f64| String::new();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(if rotate { &blank } else { &fmt_x })
            .x_label_style(font(15))
            .y_label_formatter(&|v| format!("${v:.0}"))
            .y_label_style(font(14))
            .x_desc(format!("sweep point ({})", d.sweep_desc()))
            .y_desc("cost (USD per month)")
            .axis_desc_style(font(16))
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(err)?;
        for (p, cost) in d.point_cost.iter().enumerate() {
            if !cost.is_finite() {
                continue;
            }
            let x = p as f64;
            chart
                .draw_series([Rectangle::new(
                    [(x - 0.3, 0.0), (x + 0.3, *cost)],
                    RGBColor(90, 90, 90).mix(0.45).filled(),
                )])
                .map_err(err)?;
            chart
                .draw_series([Text::new(
                    format!("${cost:.0}"),
                    (x - 0.2, cost + cmax * 0.1),
                    font(13),
                )])
                .map_err(err)?;
        }
        if rotate {
            draw_rotated_labels(&bottom, &chart, &labels, 0.0)?;
        }
        Ok(())
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
        let mut csv =
            String::from("point,replication,app,process,window_start_s,p99_ms,completed\n");
        let windows = 3 * TIME_BUCKETS as usize;
        for w in 0..windows {
            for (process, p99) in [("web", 100 + w % 7), ("worker", 500 + w % 5)] {
                csv += &format!("0,0,shop,{process},{}.0,{p99},10\n", w * 60);
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
    fn ticks_and_labels() {
        assert_eq!(log_ticks(15.0, 900.0), [20.0, 50.0, 100.0, 200.0, 500.0]);
        assert_eq!(log_ticks(1.0, 1e6), [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6]);
        assert_eq!(fmt_ms(12345.0), "12,345");
        assert_eq!(
            log_range([29.0, 145.0].into_iter(), 1.4, 1.6),
            (20.0, 500.0)
        );
        assert_eq!(nice_below(0.07), 0.05);
        assert_eq!(nice_above(2100.0), 5000.0);
        assert_eq!(fmt_ms(0.5), "0.5");
        assert_eq!(fmt_ms(0.001_000_000_000_000_2), "0.001");
        assert_eq!(fmt_ms(0.05), "0.05");
        assert_eq!(fmt_nines(2.0), "99%");
        assert_eq!(fmt_nines(3.0), "99.9%");
        assert_eq!(fmt_nines(nines(0.5)), "50%");
        assert_eq!(short_key("app.shop.process.web.count"), "count");
        assert_eq!(
            short_key("app.api.workload.arrivals.poisson"),
            "arrivals.poisson"
        );
    }
}
