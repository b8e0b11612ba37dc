//! `latency_cdf`: each formation's latency distribution, on a "nines" axis that spreads out the
//! tail, from requests.csv when present, otherwise through summary.csv's quantiles.
//!
//! Every curve is one formation's own distribution: from requests.csv, all of its `ok`
//! requests over its replications; from summary.csv, its own p50 … max, each the mean over its
//! replications (the figures `latency_by_formation` shows). Nothing is pooled or averaged
//! across formations: issue 22 found that averaging quantiles over unrelated sweep points drew a
//! p50 of 1.8 s where the median formation's p50 was 75 ms. Up to [`MAX_CURVES`] formations
//! share one chart; more are drawn as small multiples, one panel per group of
//! [`Data::formation_groups`] (formations that differ in one sweep key), on shared axes.

use super::Spec;
use super::axes::{Ticked, fmt_ms, fmt_nines, log_axis_fit, log_range, nines};
use super::data::{Cat, Data, QUANTILES};
use super::legend::{self, Entry, Swatch};
use super::render::{Figure, H, W, draw_line, empty, err, font, render};
use super::style::{ERROR_RED, series_styles};
use crate::output::rows::{Reader, RequestRow};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Registered in `figures!`.
pub(super) const FIGURE: Spec = Spec {
    applies: |_| true,
    draw: |data, dir| render(&CdfFigure::new(data, dir)?),
};

/// Formations drawn in one chart at most; more are split into panels.
pub(super) const MAX_CURVES: usize = 8;
/// Panels drawn at most (a 5 x 6 grid); the title says when there were more.
const MAX_PANELS: usize = 30;
/// Columns of the panel grid at most, and a panel's size (px).
const MAX_COLUMNS: usize = 5;
const PANEL: (u32, u32) = (590, 380);

/// A CDF: (latency ms, quantile) points in increasing order.
pub(super) type Curve = Vec<(f64, f64)>;

/// One panel: formations (indices into `Data::cats`), named in its legend.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Panel {
    pub(super) title: String,
    pub(super) members: Vec<usize>,
    pub(super) names: Vec<String>,
}

pub(super) struct CdfFigure<'a> {
    data: &'a Data,
    /// Per formation (index into `Data::cats`): (latency ms, quantile) in increasing order;
    /// empty without completed requests.
    pub(super) curves: Vec<Curve>,
    pub(super) panels: Vec<Panel>,
    /// Whether the curves are empirical (requests.csv) or quantile anchors (summary.csv).
    exact: bool,
    source: String,
}

impl<'a> CdfFigure<'a> {
    pub(super) fn new(data: &'a Data, dir: &Path) -> Result<CdfFigure<'a>, String> {
        let panels = panels(data);
        let requests = Reader::open::<RequestRow<'_>>(dir).map_err(|e| e.to_string())?;
        let (curves, exact, source) = match requests {
            Some(r) => {
                let (curves, n) = exact_curves(data, r)?;
                let src = format!(
                    "from requests.csv: every completed request of each formation, over its replications ({n} in all)"
                );
                (curves, true, src)
            }
            None => {
                let curves = data.cats.iter().map(summary_curve).collect();
                let src = format!(
                    "from summary.csv: each formation's p50 … max, mean of {} replication(s)",
                    data.replications
                );
                (curves, false, src)
            }
        };
        Ok(CdfFigure {
            data,
            curves,
            panels,
            exact,
            source,
        })
    }

    fn shown(&self) -> usize {
        self.panels.len().min(MAX_PANELS)
    }

    /// Columns and rows of the panel grid.
    fn grid(&self) -> (usize, usize) {
        let n = self.shown().max(1);
        let cols = (n as f64).sqrt().ceil() as usize;
        let cols = cols.clamp(1, MAX_COLUMNS);
        (cols, n.div_ceil(cols))
    }
}

/// The panels: one for all formations when there are at most [`MAX_CURVES`], else one per
/// formation group of at most [`MAX_CURVES`].
pub(super) fn panels(data: &Data) -> Vec<Panel> {
    if data.cats.len() <= MAX_CURVES {
        return vec![Panel {
            title: String::new(),
            members: (0..data.cats.len()).collect(),
            names: data.cats.iter().map(|c| c.label.clone()).collect(),
        }];
    }
    data.formation_groups(MAX_CURVES)
        .into_iter()
        .map(|g| Panel {
            title: g.title,
            members: g.members,
            names: g.names,
        })
        .collect()
}

/// A formation's CDF through its summary.csv quantiles: p50, p90, p95, p99, p99.9 (from 1000
/// requests; below, p99.9 is the maximum) and the maximum at the n/(n+1) quantile, each the
/// mean over the formation's replications.
pub(super) fn summary_curve(c: &Cat) -> Curve {
    let n = super::data::median(c.done().map(|r| r.completed));
    if !n.is_finite() {
        return Vec::new();
    }
    let mut points: Vec<(f64, f64)> = Vec::new();
    for (k, q) in QUANTILES.iter().enumerate() {
        if *q == 0.999 && n < 1000.0 {
            continue;
        }
        points.push((c.mean_q(k), *q));
    }
    // The maximum of n requests sits at about the n/(n+1) quantile.
    points.push((c.mean_q(5), n / (n + 1.0)));
    points.retain(|p| p.0.is_finite() && p.0 > 0.0);
    points
}

/// Empirical CDFs from requests.csv (only `ok` rows), one per formation over its replications,
/// through a histogram each so memory stays bounded whatever the file's size. Returns the curves
/// (indexed like `Data::cats`) and the number of requests read into them.
pub(super) fn exact_curves(
    data: &Data,
    mut requests: Reader,
) -> Result<(Vec<Curve>, u64), String> {
    let owner: BTreeMap<(usize, &str, &str), usize> = data
        .cats
        .iter()
        .enumerate()
        .map(|(i, c)| ((c.point, c.app.as_str(), c.process.as_str()), i))
        .collect();
    let mut hists: Vec<hdrhistogram::Histogram<u64>> = data
        .cats
        .iter()
        .map(|_| hdrhistogram::Histogram::new(3).map_err(err))
        .collect::<Result<_, _>>()?;
    let mut total = 0u64;
    while let Some(r) = requests
        .next::<RequestRow<'_>>()
        .map_err(|e| e.to_string())?
    {
        if r.status != "ok" {
            continue;
        }
        let Some(&i) = owner.get(&(r.point, r.app, r.process)) else {
            continue;
        };
        // Microseconds: 3 significant digits are plenty for a plot.
        let us = (r.latency_ms * 1000.0).max(1.0) as u64;
        // `record` grows the auto-resizing histogram; saturating would clamp to its start size.
        if hists[i].record(us).is_err() {
            hists[i].saturating_record(us);
        }
        total += 1;
    }
    let curves = hists
        .into_iter()
        .map(|h| {
            let n = h.len() as f64;
            let mut cum = 0u64;
            h.iter_recorded()
                .map(|v| {
                    cum += v.count_at_value();
                    (
                        v.value_iterated_to() as f64 / 1000.0,
                        cum as f64 / (n + 1.0),
                    )
                })
                .collect()
        })
        .collect();
    Ok((curves, total))
}

impl Figure for CdfFigure<'_> {
    fn size(&self) -> (u32, u32) {
        if self.panels.len() <= 1 {
            return (W, H);
        }
        let (cols, rows) = self.grid();
        let w = (PANEL.0 * cols as u32).max(W);
        (w, 90 + PANEL.1 * rows as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let title = format!("Latency distribution — {}", self.data.scenario);
        if self.curves.iter().all(|c| c.is_empty()) {
            return empty(root, &title, "no completed requests");
        }
        let body = root
            .margin(8, 0, 0, 0)
            .titled(&title, font(26))
            .map_err(err)?;
        let mut source = self.source.clone();
        if self.panels.len() > self.shown() {
            source.push_str(&format!(
                " — first {} of {} panels shown",
                self.shown(),
                self.panels.len()
            ));
        }
        let body = body.titled(&source, font(15)).map_err(err)?;
        // Shared axes, so panels compare at a glance. The latency axis starts at the 1st
        // percentile: below it an empirical CDF only adds decades that squash the rest.
        let (lo, hi) = log_range(
            self.curves
                .iter()
                .flat_map(|c| c.iter().filter(|p| p.1 >= 0.01).map(|p| p.0)),
            1.3,
            1.5,
        );
        let ymax = self
            .curves
            .iter()
            .flat_map(|c| c.iter().map(|p| nines(p.1)))
            .fold(2.0f64, f64::max)
            .ceil()
            .min(7.0);
        let axes = Axes { lo, hi, ymax };
        let (cols, rows) = self.grid();
        let areas = body.split_evenly((rows, cols));
        for (panel, area) in self.panels.iter().zip(&areas) {
            self.draw_panel(area, panel, &axes)?;
        }
        Ok(())
    }
}

/// The axes every panel shares.
struct Axes {
    lo: f64,
    hi: f64,
    ymax: f64,
}

impl CdfFigure<'_> {
    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &Panel,
        axes: &Axes,
    ) -> Result<(), String> {
        let single = self.panels.len() == 1;
        let area = if panel.title.is_empty() {
            area.clone()
        } else {
            area.margin(6, 0, 0, 0)
                .titled(&panel.title, font(16))
                .map_err(err)?
        };
        let tiers: Vec<&str> = panel
            .members
            .iter()
            .map(|&i| self.data.cats[i].tier.as_str())
            .collect();
        let styles = series_styles(&tiers);
        let entries: Vec<Entry> = panel
            .members
            .iter()
            .zip(&panel.names)
            .zip(&styles)
            .map(|((&i, name), &s)| {
                if self.curves[i].is_empty() {
                    Entry::new(format!("no completed request: {name}"), Swatch::Cross(ERROR_RED))
                } else {
                    Entry::new(name.clone(), Swatch::Line(s))
                }
            })
            .collect();
        let (w, h) = area.dim_in_pixel();
        let size = if single { 14 } else { 13 };
        let layout = legend::column(&entries, size, h.saturating_sub(20));
        // Beside the chart, unless that would take more than a third of it: then above.
        let (plot, side, plot_w, layout, at) = if layout.width <= w / 3 {
            let plot_w = w.saturating_sub(layout.width + 8);
            let (plot, side) = area.split_horizontally(plot_w);
            (plot, side, plot_w, layout, (0, 10))
        } else {
            let layout = legend::rows(&entries, size, w.saturating_sub(40));
            let (side, plot) = area.split_vertically(layout.height);
            (plot, side, w, layout, (30, 0))
        };
        let (a, b) = (axes.lo, axes.hi);
        let mut yticks = vec![0.0, nines(0.5)];
        yticks.extend((1..=axes.ymax as i32).map(f64::from));
        let mut chart = ChartBuilder::on(&plot)
            .margin(if single { 16 } else { 8 })
            .x_label_area_size(if single { 60 } else { 40 })
            .y_label_area_size(if single { 90 } else { 70 })
            .build_cartesian_2d(
                log_axis_fit(a, b, plot_w.saturating_sub(100)),
                Ticked {
                    lo: 0.0,
                    hi: axes.ymax + 0.15,
                    ticks: yticks,
                },
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|v| fmt_ms(*v))
            .y_label_formatter(&|y| fmt_nines(*y))
            .label_style(font(if single { 15 } else { 12 }))
            .x_desc("latency (ms, log scale)")
            .y_desc(if single {
                "fraction of requests at or below (nines scale)"
            } else {
                "at or below (nines)"
            })
            .axis_desc_style(font(if single { 17 } else { 13 }))
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(err)?;
        for (&i, &s) in panel.members.iter().zip(&styles) {
            let pts: Vec<(f64, f64)> = self.curves[i]
                .iter()
                .filter(|p| p.0 >= a)
                .map(|p| (p.0, nines(p.1)))
                .collect();
            if pts.is_empty() {
                continue;
            }
            draw_line(&mut chart, pts.clone(), s, if single { 3 } else { 2 })?;
            if !self.exact {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, s.color.filled())))
                    .map_err(err)?;
            }
        }
        legend::draw(&side, at, &entries, &layout)
    }
}
