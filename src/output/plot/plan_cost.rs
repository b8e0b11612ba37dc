//! `plan_cost` (written by `dynosim plan`, not by `plot`): each SLO's metric against the
//! monthly cost of every simulated candidate, one panel per SLO: the estimate (mean of the
//! replications) with its interval, coloured by the candidate's verdict on that SLO, the SLO's
//! bound as a dashed line, and the recommendation ringed and named.
//!
//! Costs span two orders of magnitude (one standard-1x to thirty performance-l), so the cost
//! axis is logarithmic; so is the latency axis (a failing candidate's p99 can be seconds while
//! the bound is 300 ms). The error-rate axis is linear, in percent. Candidates without an
//! estimate (pruned, refused, or no completed request) are counted in the panel's title, not
//! drawn.

use super::axes::{Ticked, fmt_ms, fmt_usd, log_axis, log_range, nice_above};
use super::legend::{self, Entry, Swatch};
use super::render::{Figure, Rendered, draw_line, err, font, render};
use super::style::{ERROR_RED, SeriesStyle};
use plotters::coord::Shift;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const MEETS: RGBColor = RGBColor(44, 160, 44);
const UNDECIDED: RGBColor = RGBColor(255, 127, 14);

/// One candidate in one panel.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanPoint {
    pub cost_usd_month: f64,
    /// In the panel's unit (ms, or a fraction for errors); infinite when nothing was served.
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    /// `meets`, `fails` or `undecided` (this SLO's verdict).
    pub verdict: &'static str,
    /// `4 x standard-2x`.
    pub label: String,
    pub recommended: bool,
}

/// One SLO's panel.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanPanel {
    /// The SLO as written: `p95<=300ms`.
    pub slo: String,
    /// The bound, in the panel's unit.
    pub threshold: f64,
    /// Latency in ms (log axis) or a fraction (linear axis in percent).
    pub latency: bool,
    pub points: Vec<PlanPoint>,
    /// Candidates with no estimate to draw.
    pub not_drawn: usize,
}

/// The whole figure.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanFigure {
    pub title: String,
    pub panels: Vec<PlanPanel>,
}

/// Render the plan figure (PNG and SVG).
pub fn plan_figure(fig: &PlanFigure) -> Result<Rendered, String> {
    render(fig)
}

fn color(verdict: &str) -> RGBColor {
    match verdict {
        "meets" => MEETS,
        "fails" => ERROR_RED,
        _ => UNDECIDED,
    }
}

impl Figure for PlanFigure {
    fn size(&self) -> (u32, u32) {
        (1280, 120 + 420 * self.panels.len().max(1) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let body = root
            .margin(8, 0, 0, 0)
            .titled(&self.title, font(24))
            .map_err(err)?;
        let (w, _) = body.dim_in_pixel();
        let entries = vec![
            Entry::new("meets the SLO", Swatch::Dot(MEETS)),
            Entry::new("fails it", Swatch::Dot(ERROR_RED)),
            Entry::new("undecided", Swatch::Dot(UNDECIDED)),
            Entry::new(
                "interval (joint confidence)",
                Swatch::Line(SeriesStyle {
                    color: BLACK,
                    dashed: false,
                }),
            ),
            Entry::new(
                "the SLO's bound",
                Swatch::Line(SeriesStyle {
                    color: BLACK,
                    dashed: true,
                }),
            ),
            Entry::new("recommended", Swatch::Ring(BLACK)),
        ];
        let lay = legend::rows(&entries, 14, w - 120);
        let (top, rest) = body.split_vertically(lay.height + 4);
        legend::draw(&top, (90, 0), &entries, &lay)?;
        let panels = rest.split_evenly((self.panels.len().max(1), 1));
        let costs: Vec<f64> = self
            .panels
            .iter()
            .flat_map(|p| p.points.iter().map(|q| q.cost_usd_month))
            .collect();
        let (xlo, xhi) = log_range(costs.iter().copied(), 1.3, 1.3);
        for (panel, area) in self.panels.iter().zip(&panels) {
            let mut title = panel.slo.clone();
            if panel.not_drawn > 0 {
                title.push_str(&format!(
                    " ({} candidate(s) pruned, refused or without completed requests not drawn)",
                    panel.not_drawn
                ));
            }
            let area = area.titled(&title, font(18)).map_err(err)?;
            let finite = || {
                panel
                    .points
                    .iter()
                    .filter(|p| p.estimate.is_finite())
                    .flat_map(|p| [p.estimate, p.low, p.high])
                    .chain([panel.threshold])
                    .filter(|v| v.is_finite())
            };
            let x = log_axis(xlo, xhi);
            if panel.latency {
                let (lo, hi) = log_range(finite(), 1.3, 1.3);
                let chart = ChartBuilder::on(&area)
                    .margin(12)
                    .x_label_area_size(46)
                    .y_label_area_size(80)
                    .build_cartesian_2d(x, log_axis(lo, hi))
                    .map_err(err)?;
                draw_panel(chart, panel, (lo, hi), "latency (ms, log scale)", &|v| {
                    fmt_ms(*v)
                })?;
            } else {
                let hi = nice_above(finite().fold(0.0f64, f64::max).max(1e-4) * 1.3);
                let chart = ChartBuilder::on(&area)
                    .margin(12)
                    .x_label_area_size(46)
                    .y_label_area_size(80)
                    .build_cartesian_2d(
                        x,
                        Ticked {
                            lo: 0.0,
                            hi,
                            ticks: (0..=4).map(|k| hi * f64::from(k) / 4.0).collect(),
                        },
                    )
                    .map_err(err)?;
                draw_panel(chart, panel, (0.0, hi), "requests failed", &|v| {
                    format!("{:.2}%", v * 100.0)
                })?;
            }
        }
        Ok(())
    }
}

fn draw_panel<DB: DrawingBackend, X, Y>(
    mut chart: ChartContext<'_, DB, Cartesian2d<X, Y>>,
    panel: &PlanPanel,
    (lo, hi): (f64, f64),
    y_desc: &str,
    y_fmt: &dyn Fn(&f64) -> String,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64, FormatOption = plotters::coord::ranged1d::DefaultFormatting>,
    Y: Ranged<ValueType = f64, FormatOption = plotters::coord::ranged1d::DefaultFormatting>,
{
    chart
        .configure_mesh()
        .x_label_formatter(&|v| fmt_usd(*v))
        .y_label_formatter(y_fmt)
        .label_style(font(14))
        .x_desc("monthly cost of the planned process (log scale)")
        .y_desc(y_desc)
        .axis_desc_style(font(15))
        .light_line_style(WHITE)
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(err)?;
    let xr = chart.x_range();
    draw_line(
        &mut chart,
        vec![(xr.start, panel.threshold), (xr.end, panel.threshold)],
        SeriesStyle {
            color: BLACK,
            dashed: true,
        },
        2,
    )?;
    let clamp = |v: f64| v.clamp(lo, hi);
    for p in panel.points.iter().filter(|p| p.estimate.is_finite()) {
        let c = color(p.verdict);
        let x = p.cost_usd_month;
        chart
            .draw_series([PathElement::new(
                vec![(x, clamp(p.low)), (x, clamp(p.high))],
                c.stroke_width(2),
            )])
            .map_err(err)?;
        chart
            .draw_series([Circle::new((x, clamp(p.estimate)), 5, c.filled())])
            .map_err(err)?;
        if p.recommended {
            chart
                .draw_series([EmptyElement::at((x, clamp(p.estimate)))
                    + Circle::new((0, 0), 11, BLACK.stroke_width(2))
                    + Text::new(
                        format!("recommended: {}", p.label),
                        (14, -14),
                        font(14).pos(Pos::new(HPos::Left, VPos::Bottom)),
                    )])
                .map_err(err)?;
        }
    }
    Ok(())
}
