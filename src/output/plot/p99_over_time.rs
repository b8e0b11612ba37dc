//! `p99_over_time`: per-window p99 of replication 0, one panel per formation group (those of
//! [`Data::formation_groups`]: in a sweep, formations that differ in one key; otherwise one
//! tier and size), at most [`MAX_LINES`] lines a panel, with restarts and deploys from
//! events.csv as dashed vertical lines (windows.csv, events.csv), and the offered arrival rate
//! (windows.csv `arrival_rate_rps`) as a grey line on a second axis at the right, so the load
//! shows against the latency.
//!
//! Each panel's legend is a column beside its chart, never over it: with 33 process types
//! (issue 22) the lines are spread over panels of at most [`MAX_LINES`] and no legend covers a
//! line.

use super::Spec;
use super::axes::{fmt_ms, linear_max, log_axis, log_range};
use super::data::{Data, SeriesKey};
use super::legend::{self, Entry, Layout, Swatch};
use super::render::{Figure, W, draw_line, empty, err, font, render};
use super::style::{SeriesStyle, event_color, series_styles};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

/// Registered in `figures!`.
pub(super) const FIGURE: Spec = Spec {
    applies: |_| true,
    draw: |data, _| render(&TimeFigure(data)),
};

pub(super) struct TimeFigure<'a>(pub(super) &'a Data);

/// Lines a panel at most, and panels at most (the title says when some are left out).
pub(super) const MAX_LINES: usize = 8;
const MAX_PANELS: usize = 8;
/// A panel's height (px) and the legend's font size.
const PANEL_H: u32 = 290;
const LEGEND_FONT: u32 = 13;

pub(super) struct Series {
    pub(super) label: String,
    pub(super) tier: String,
    pub(super) points: Vec<(f64, f64)>,
}

pub(super) struct Panel {
    pub(super) title: String,
    pub(super) series: Vec<Series>,
    /// (time, event kind) of marked lifecycle events.
    pub(super) events: Vec<(f64, &'static str)>,
    /// The offered rate over time (time, req/s), each distinct curve of the panel's series once.
    pub(super) offered: Vec<Vec<(f64, f64)>>,
}

/// The offered rate's line and legend swatch.
const OFFERED: SeriesStyle = SeriesStyle {
    color: RGBColor(110, 110, 110),
    dashed: false,
};

impl Panel {
    fn legend(&self) -> Vec<Entry> {
        let tiers: Vec<&str> = self.series.iter().map(|s| s.tier.as_str()).collect();
        let styles: Vec<SeriesStyle> = series_styles(&tiers);
        let mut entries: Vec<Entry> = self
            .series
            .iter()
            .zip(styles)
            .map(|(s, st)| Entry::new(s.label.clone(), Swatch::Line(st)))
            .collect();
        let mut kinds: Vec<&str> = Vec::new();
        for (_, k) in &self.events {
            if !kinds.contains(k) {
                kinds.push(k);
            }
        }
        for k in kinds {
            entries.push(Entry::new(format!("{k} (event)"), Swatch::Event(event_color(k))));
        }
        if !self.offered.is_empty() {
            entries.push(Entry::new(
                "offered rate (right axis)".to_string(),
                Swatch::Line(OFFERED),
            ));
        }
        entries
    }
}

impl TimeFigure<'_> {
    pub(super) fn panels(&self) -> Result<(Vec<Panel>, f64, &'static str), String> {
        panels(self.0)
    }

    /// Each shown panel's legend and its layout, and the width the widest takes.
    fn legends(&self, panels: &[Panel]) -> (Vec<(Vec<Entry>, Layout)>, u32) {
        let legends: Vec<(Vec<Entry>, Layout)> = panels
            .iter()
            .take(MAX_PANELS)
            .map(|p| {
                let e = p.legend();
                let l = legend::column(&e, LEGEND_FONT, PANEL_H - 30);
                (e, l)
            })
            .collect();
        let width = legends.iter().map(|(_, l)| l.width).max().unwrap_or(0);
        (legends, width)
    }
}

/// The panels of the time figure, the end of time in the returned unit, and the unit.
pub(super) fn panels(d: &Data) -> Result<(Vec<Panel>, f64, &'static str), String> {
    let tl = d.timeline.as_ref().map_err(|e| e.clone())?;
    let t_end = tl.t_end;
    let (scale, unit) = if t_end > 3.0 * 3600.0 {
        (3600.0, "h")
    } else {
        (60.0, "min")
    };
    let with_series: Vec<usize> = (0..d.cats.len())
        .filter(|&i| tl.series.contains_key(&key(d, i)))
        .collect();
    let mut panels = Vec::new();
    for g in d.formation_groups(usize::MAX) {
        // Only formations with a line, then split: a panel of empty names would be misleading.
        let kept: Vec<(usize, String)> = g
            .members
            .iter()
            .zip(&g.names)
            .filter(|(i, _)| with_series.contains(i))
            .map(|(&i, n)| (i, n.clone()))
            .collect();
        let parts = kept.len().div_ceil(MAX_LINES).max(1);
        let size = kept.len().div_ceil(parts).max(1);
        for (pi, chunk) in kept.chunks(size).enumerate() {
            let title = if parts > 1 {
                format!("{} ({}/{parts})", g.title, pi + 1)
            } else {
                g.title.clone()
            };
            let mut panel = Panel {
                title,
                series: Vec::new(),
                events: Vec::new(),
                offered: Vec::new(),
            };
            for (i, name) in chunk {
                let k = key(d, *i);
                let points = tl.series.get(&k).map(|v| v.iter().map(|&(t, y)| (t / scale, y)).collect());
                panel.series.push(Series {
                    label: name.clone(),
                    tier: d.cats[*i].tier.clone(),
                    points: points.unwrap_or_default(),
                });
                if let Some(ev) = tl.events.get(&k) {
                    panel.events.extend(ev.iter().map(|&(t, e)| (t / scale, e)));
                }
                if let Some(o) = tl.offered.get(&k) {
                    let curve: Vec<(f64, f64)> = o.iter().map(|&(t, r)| (t / scale, r)).collect();
                    if !panel.offered.contains(&curve) {
                        panel.offered.push(curve);
                    }
                }
            }
            panels.push(panel);
        }
    }
    Ok((panels, t_end / scale, unit))
}

fn key(d: &Data, i: usize) -> SeriesKey {
    let c = &d.cats[i];
    (c.point, c.app.clone(), c.process.clone())
}

impl Figure for TimeFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let (n, legend) = match self.panels() {
            Ok((p, _, _)) => (p.len(), self.legends(&p).1),
            Err(_) => (1, 0),
        };
        (W + legend, 120 + PANEL_H * n.clamp(1, MAX_PANELS) as u32)
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
        let (legends, legend_w) = self.legends(&panels);
        let areas = body.split_evenly((shown, 1));
        // One latency axis for all panels, so they compare at a glance.
        let (lo, hi) = log_range(
            panels
                .iter()
                .flat_map(|p| p.series.iter().flat_map(|s| s.points.iter().map(|q| q.1))),
            1.4,
            1.6,
        );
        for (pi, ((panel, area), (entries, layout))) in
            panels.iter().zip(&areas).zip(&legends).enumerate()
        {
            let mut caption = panel.title.clone();
            if pi == shown - 1 && panels.len() > shown {
                caption.push_str(&format!(
                    " ({} more panel(s) not shown)",
                    panels.len() - shown
                ));
            }
            let (w, _) = area.dim_in_pixel();
            let (plot, side) = area.split_horizontally(w.saturating_sub(legend_w + 8));
            let x_range = 0.0..linear_max(t_end) * 1.02;
            let offered_max = panel
                .offered
                .iter()
                .flatten()
                .map(|p| p.1)
                .fold(0.0, f64::max);
            let mut chart = ChartBuilder::on(&plot)
                .caption(&caption, font(17))
                .margin(10)
                .x_label_area_size(46)
                .y_label_area_size(80)
                .right_y_label_area_size(if offered_max > 0.0 { 70 } else { 0 })
                .build_cartesian_2d(x_range.clone(), log_axis(lo, hi))
                .map_err(err)?
                .set_secondary_coord(x_range, 0.0..linear_max(offered_max.max(1e-9)) * 1.05);
            chart
                .configure_mesh()
                .y_label_formatter(&|v| fmt_ms(*v))
                .x_label_formatter(&|v| format!("{}", (v * 1e6).round() / 1e6))
                .label_style(font(14))
                .x_desc(format!("simulated time ({unit}), window start"))
                .y_desc("p99 (ms, log)")
                .axis_desc_style(font(15))
                .light_line_style(WHITE)
                .bold_line_style(BLACK.mix(0.12))
                .draw()
                .map_err(err)?;
            if offered_max > 0.0 {
                chart
                    .configure_secondary_axes()
                    .y_desc("offered (req/s)")
                    .y_label_formatter(&|v| {
                        if offered_max >= 10.0 {
                            format!("{v:.0}")
                        } else {
                            format!("{v:.2}")
                        }
                    })
                    .label_style(font(14))
                    .axis_desc_style(font(15))
                    .draw()
                    .map_err(err)?;
                for curve in &panel.offered {
                    chart
                        .draw_secondary_series(LineSeries::new(
                            curve.clone(),
                            OFFERED.color.mix(0.8).stroke_width(1),
                        ))
                        .map_err(err)?;
                }
            }
            for (t, kind) in &panel.events {
                chart
                    .draw_series([DashedPathElement::new(
                        vec![(*t, lo), (*t, hi)],
                        6,
                        4,
                        event_color(kind).mix(0.7).stroke_width(2),
                    )])
                    .map_err(err)?;
            }
            for (s, e) in panel.series.iter().zip(entries) {
                if let Swatch::Line(style) = e.swatch {
                    draw_line(&mut chart, s.points.clone(), style, 2)?;
                }
            }
            legend::draw(&side, (0, 30), entries, layout)?;
        }
        Ok(())
    }
}
