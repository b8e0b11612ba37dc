//! `sweep_p99_cost` (sweeps only): p99 and monthly cost per sweep point, in two panels.
//!
//! The points are laid out in the groups of [`super::groups`]: within a group one sweep key
//! varies and the others are fixed (named once under the group). A line joins the points of
//! one group and process type only, so every line varies exactly one key (issue 22: a line
//! across the whole sweep joined points of different arrival rates). A point without completed
//! requests breaks its line and is marked with a red cross; a point with errors gets its error
//! rate with enough digits to be read (`0.34%`, never `0%` for a non-zero rate).

use super::Spec;
use super::axes::{fmt_ms, fmt_percent, fmt_usd, log_axis, log_range};
use super::categories::{Categories, LabelLayout, draw_labels};
use super::data::Data;
use super::groups::value_label;
use super::legend::{self, Entry, Swatch, fit_note};
use super::render::{Figure, draw_line, err, font, render};
use super::style::{ERROR_RED, SeriesStyle, tier_color};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;

/// Registered in `figures!`: only for sweeps.
pub(super) const FIGURE: Spec = Spec {
    applies: |data| data.points.len() > 1 && data.layout.is_some(),
    draw: |data, _| render(&SweepFigure::new(data)),
};

const Y_AREA: u32 = 80;
const MARGIN: u32 = 12;
/// Font size of the notes at each point.
const NOTE: u32 = 12;
/// The colour of a line whose points are of several tiers (its markers keep their tier's).
const MIXED: RGBColor = RGBColor(90, 90, 90);

/// One line of the p99 panel: one process type along one point group.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Line {
    /// Index of the process type (in first-appearance order).
    pub(super) process: usize,
    /// Index of the point group.
    pub(super) group: usize,
    /// Runs of consecutive points with completed requests: (position in the layout order,
    /// mean p99 of the replications). A point without completed requests ends a run.
    pub(super) runs: Vec<Vec<(usize, f64)>>,
    /// Positions (in the layout order) of the points without completed requests.
    pub(super) no_responses: Vec<usize>,
    /// The tiers along the line.
    pub(super) tiers: Vec<String>,
}

pub(super) struct SweepFigure<'a> {
    data: &'a Data,
    /// Sweep points in layout order.
    pub(super) order: Vec<usize>,
    pub(super) cats: Categories,
    /// Process types with traffic, `(app, process)`.
    pub(super) procs: Vec<(String, String)>,
    pub(super) lines: Vec<Line>,
}

impl<'a> SweepFigure<'a> {
    pub(super) fn new(data: &'a Data) -> SweepFigure<'a> {
        let Some(layout) = data.layout.as_ref() else {
            return SweepFigure {
                data,
                order: Vec::new(),
                cats: Categories::new(Vec::new()),
                procs: Vec::new(),
                lines: Vec::new(),
            };
        };
        let key = &data.key_names()[layout.varying];
        let cats = Categories::new(
            layout
                .groups
                .iter()
                .map(|g| {
                    let labels = g
                        .points
                        .iter()
                        .map(|&p| value_label(key, &data.points[p][layout.varying]))
                        .collect();
                    (g.title(), labels)
                })
                .collect(),
        );
        let mut procs: Vec<(String, String)> = Vec::new();
        for c in &data.cats {
            let k = (c.app.clone(), c.process.clone());
            if !procs.contains(&k) {
                procs.push(k);
            }
        }
        let index: BTreeMap<(usize, &str, &str), usize> = data
            .cats
            .iter()
            .enumerate()
            .map(|(i, c)| ((c.point, c.app.as_str(), c.process.as_str()), i))
            .collect();
        let mut lines = Vec::new();
        let mut pos = 0;
        for (g, group) in layout.groups.iter().enumerate() {
            for (pi, (app, process)) in procs.iter().enumerate() {
                let mut line = Line {
                    process: pi,
                    group: g,
                    runs: vec![Vec::new()],
                    no_responses: Vec::new(),
                    tiers: Vec::new(),
                };
                for (k, &p) in group.points.iter().enumerate() {
                    let Some(&i) = index.get(&(p, app.as_str(), process.as_str())) else {
                        // No traffic to this process here: nothing to join across.
                        line.runs.push(Vec::new());
                        continue;
                    };
                    let c = &data.cats[i];
                    line.tiers.push(c.tier.clone());
                    let p99 = c.mean_q(3);
                    if c.completed() > 0.0 && p99.is_finite() {
                        if let Some(run) = line.runs.last_mut() {
                            run.push((pos + k, p99));
                        }
                    } else {
                        line.no_responses.push(pos + k);
                        line.runs.push(Vec::new());
                    }
                }
                line.runs.retain(|r| !r.is_empty());
                if !line.runs.is_empty() || !line.no_responses.is_empty() {
                    lines.push(line);
                }
            }
            pos += group.points.len();
        }
        SweepFigure {
            data,
            order: layout.order(),
            cats,
            procs,
            lines,
        }
    }

    fn width(&self) -> u32 {
        self.cats.figure_width()
    }

    pub(super) fn labels(&self) -> LabelLayout {
        LabelLayout::new(&self.cats, self.width() - Y_AREA - 2 * MARGIN)
    }

    /// Horizontal offset of process `i` at a point, so several do not draw over each other.
    fn offset(&self, i: usize) -> f64 {
        if self.procs.len() > 1 {
            (i as f64 - (self.procs.len() - 1) as f64 / 2.0) * 0.12
        } else {
            0.0
        }
    }

    fn style(&self, line: &Line) -> SeriesStyle {
        let one_tier = line.tiers.windows(2).all(|w| w[0] == w[1]);
        SeriesStyle {
            color: match line.tiers.first() {
                Some(t) if one_tier => tier_color(t),
                _ => MIXED,
            },
            dashed: line.process % 2 == 1,
        }
    }
}

impl Figure for SweepFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (self.width(), 760 + self.labels().area())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let d = self.data;
        let title = format!(
            "p99 latency and monthly cost per sweep point — {}",
            d.scenario
        );
        let body = root
            .margin(8, 0, 0, 0)
            .titled(&title, font(26))
            .map_err(err)?;
        let labels = self.labels();
        let (w, h) = body.dim_in_pixel();

        // The legend, above the panels.
        let mut entries: Vec<Entry> = Vec::new();
        let mut tiers: Vec<&str> = Vec::new();
        for &p in &self.order {
            for c in d.cats.iter().filter(|c| c.point == p) {
                if !tiers.contains(&c.tier.as_str()) {
                    tiers.push(c.tier.as_str());
                }
            }
        }
        for t in &tiers {
            entries.push(Entry::new(
                format!("{t} tier: p99, mean of replications"),
                Swatch::Dot(tier_color(t)),
            ));
        }
        entries.push(Entry::new("p99 of each replication", Swatch::Ring(BLACK)));
        if self.procs.len() > 1 {
            for (i, (app, process)) in self.procs.iter().enumerate() {
                entries.push(Entry::new(
                    format!("{app}/{process}"),
                    Swatch::Line(SeriesStyle {
                        color: MIXED,
                        dashed: i % 2 == 1,
                    }),
                ));
            }
        }
        if self.lines.iter().any(|l| !l.no_responses.is_empty()) {
            entries.push(Entry::new(
                "no completed request (line broken)",
                Swatch::Cross(ERROR_RED),
            ));
        }
        if d.cats.iter().any(|c| c.error_rate() > 0.0) {
            entries.push(Entry::new(
                "red %: share of requests that failed",
                Swatch::Box(ERROR_RED),
            ));
        }
        entries.push(Entry::new(
            "monthly cost of the point's whole formation (bar in its tier's colour)",
            Swatch::Box(MIXED),
        ));
        let lay = legend::rows(&entries, 14, w - 120);
        let (top, rest) = body.split_vertically(lay.height + 4);
        legend::draw(&top, (Y_AREA as i32, 0), &entries, &lay)?;
        let rest_h = h.saturating_sub(lay.height + 4);
        let (upper, lower) =
            rest.split_vertically(((rest_h.saturating_sub(labels.area())) as f64 * 0.62) as u32);

        let (lo, hi) = log_range(
            d.cats.iter().flat_map(|c| c.done().map(|r| r.q[3])),
            1.6,
            1.8,
        );
        // A band above the data for the notes (error rates, crosses), one row per process type.
        let hi = hi * (hi / lo).powf(0.18 * self.procs.len().max(1) as f64);
        let mut chart = ChartBuilder::on(&upper)
            .margin(MARGIN)
            .x_label_area_size(10)
            .y_label_area_size(Y_AREA)
            .build_cartesian_2d(self.cats.axis(), log_axis(lo, hi))
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
        for x in self.cats.separators() {
            chart
                .draw_series([PathElement::new(
                    vec![(x, lo), (x, hi)],
                    BLACK.mix(0.25).stroke_width(1),
                )])
                .map_err(err)?;
        }
        let x_of = |pos: usize, process: usize| self.cats.xs[pos] + self.offset(process);
        for line in &self.lines {
            let style = self.style(line);
            for run in &line.runs {
                let pts: Vec<(f64, f64)> = run.iter().map(|&(k, y)| (x_of(k, line.process), y)).collect();
                draw_line(&mut chart, pts, style, 2)?;
            }
        }
        let ppu = labels.px_per_unit;
        for (k, &p) in self.order.iter().enumerate() {
            for (pi, (app, process)) in self.procs.iter().enumerate() {
                let Some(c) = d
                    .cats
                    .iter()
                    .find(|c| c.point == p && &c.app == app && &c.process == process)
                else {
                    continue;
                };
                let x = x_of(k, pi);
                let color = tier_color(&c.tier);
                // The band above the data: error notes first, one row per process type, then
                // the crosses of points without completed requests.
                let row = 6 + 16 * pi as i32;
                let er = c.error_rate();
                if er > 0.0 {
                    // Which process type errs, when there are several and room to say it.
                    let rate = fmt_percent(er);
                    let mut candidates = Vec::new();
                    if self.procs.len() > 1 {
                        candidates.push(format!("{app}/{process} {rate} err"));
                    }
                    candidates.push(format!("{rate} err"));
                    candidates.push(rate);
                    let note = fit_note(candidates, NOTE, ppu - 4.0);
                    chart
                        .draw_series([EmptyElement::at((x, hi))
                            + Text::new(
                                note,
                                (0, row),
                                font(NOTE)
                                    .color(&ERROR_RED)
                                    .pos(Pos::new(HPos::Center, VPos::Top)),
                            )])
                        .map_err(err)?;
                }
                if c.completed() == 0.0 || !c.mean_q(3).is_finite() {
                    let below = 6 + 16 * self.procs.len() as i32 + 10 + 16 * pi as i32;
                    chart
                        .draw_series([EmptyElement::at((x, hi))
                            + Cross::new((0, below), 7, ERROR_RED.stroke_width(3))])
                        .map_err(err)?;
                    continue;
                }
                // The 95 % t interval of the mean p99 (two or more replications), clipped to
                // the log axis.
                let ci = c.estimate_q(3);
                if ci.n >= 2 && ci.low.is_finite() && ci.high.is_finite() {
                    let floor = ci.mean * 1e-3;
                    chart
                        .draw_series([PathElement::new(
                            vec![(x, ci.low.max(floor)), (x, ci.high)],
                            color.stroke_width(2),
                        )])
                        .map_err(err)?;
                }
                chart
                    .draw_series([Circle::new((x, c.mean_q(3)), 6, color.filled())])
                    .map_err(err)?;
                chart
                    .draw_series(c.done().map(|r| {
                        Circle::new((x + 0.05, r.q[3]), 3, color.mix(0.8).stroke_width(1))
                    }))
                    .map_err(err)?;
            }
        }

        let cmax = d
            .point_cost
            .iter()
            .copied()
            .filter(|c| c.is_finite())
            .fold(0.0f64, f64::max)
            .clamp(1.0, 1e15);
        let mut chart = ChartBuilder::on(&lower)
            .margin(MARGIN)
            .x_label_area_size(labels.area())
            .y_label_area_size(Y_AREA)
            .build_cartesian_2d(self.cats.axis(), 0.0..cmax * 1.25)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&none)
            .y_label_formatter(&|v| fmt_usd(*v))
            .y_label_style(font(14))
            .x_desc(format!(
                "sweep point: {} varies within a group, the group's other values are fixed",
                d.key_names()[d.layout.as_ref().map_or(0, |l| l.varying)]
            ))
            .y_desc("cost (USD per month)")
            .axis_desc_style(font(16))
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(err)?;
        for (k, &p) in self.order.iter().enumerate() {
            let cost = d.point_cost.get(p).copied().unwrap_or(f64::NAN);
            if !cost.is_finite() {
                continue;
            }
            let x = self.cats.xs[k];
            // A point of one tier has its tier's colour; several, grey.
            let ts: Vec<&str> = d.cats.iter().filter(|c| c.point == p).map(|c| c.tier.as_str()).collect();
            let color = match ts.first() {
                Some(t) if ts.iter().all(|u| u == t) => tier_color(t),
                _ => RGBColor(90, 90, 90),
            };
            chart
                .draw_series([Rectangle::new(
                    [(x - 0.3, 0.0), (x + 0.3, cost)],
                    color.mix(0.45).filled(),
                )])
                .map_err(err)?;
            chart
                .draw_series([EmptyElement::at((x, cost))
                    + Text::new(
                        fmt_usd(cost),
                        (0, -4),
                        font(NOTE).pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )])
                .map_err(err)?;
        }
        draw_labels(&lower, &mut chart, &self.cats, &labels, 0.0)
    }
}
