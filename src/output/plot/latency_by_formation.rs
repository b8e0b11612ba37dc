//! `latency_by_formation`: per formation (sweep point x process type with traffic), a box from
//! p50 to p95, a marker at p99, a whisker to p99.9 and the maximum, the p99 of every replication,
//! coloured by tier, on a log axis (summary.csv).
//!
//! In a sweep the boxes come in the groups of [`super::groups`] (one key varies, the others are
//! fixed, named once under the group), so each box's own label is short (`count=3`). Labels and
//! notes are placed from their measured size: a p99 value is written beside its box when there
//! is room, else above the box, and no label overlaps another at any number of formations.

use super::Spec;
use super::axes::{fmt_latency, fmt_ms, fmt_percent, log_axis, log_range};
use super::categories::{Categories, LabelLayout, draw_labels};
use super::data::Data;
use super::legend::{self, Entry, Swatch, fit_note, text_width};
use super::render::{Figure, H, empty, err, font, render};
use super::style::{ERROR_RED, tier_color};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Registered in `figures!`.
pub(super) const FIGURE: Spec = Spec {
    applies: |_| true,
    draw: |data, _| render(&BoxFigure::new(data)),
};

/// Left and right margins and the y label area (px): the plot is the width less these.
const Y_AREA: u32 = 80;
const MARGIN: u32 = 16;
const MARGIN_RIGHT: u32 = 40;
/// Font size of the notes written at each box.
const NOTE: u32 = 13;

pub(super) struct BoxFigure<'a> {
    data: &'a Data,
    /// Formations (indices into `Data::cats`) in drawing order.
    pub(super) order: Vec<usize>,
    pub(super) cats: Categories,
}

impl<'a> BoxFigure<'a> {
    pub(super) fn new(data: &'a Data) -> BoxFigure<'a> {
        let (order, groups) = if data.layout.is_some() {
            let groups = data.formation_groups(usize::MAX);
            let order = groups.iter().flat_map(|g| g.members.clone()).collect();
            let groups = groups.into_iter().map(|g| (g.title, g.names)).collect();
            (order, groups)
        } else {
            let labels = data.cats.iter().map(|c| c.label.clone()).collect();
            ((0..data.cats.len()).collect(), vec![(String::new(), labels)])
        };
        BoxFigure {
            data,
            order,
            cats: Categories::new(groups),
        }
    }

    fn width(&self) -> u32 {
        self.cats.figure_width()
    }

    pub(super) fn labels(&self) -> LabelLayout {
        LabelLayout::new(&self.cats, self.width() - Y_AREA - MARGIN - MARGIN_RIGHT)
    }
}

/// Where a box's p99 value goes: beside the box (room permitting) or above its maximum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct BoxGeometry {
    /// Half the box's width, px.
    pub(super) half_px: f64,
    pub(super) p99_beside: bool,
}

/// The box size and note placement for categories `ppu` px apart whose widest p99 note is
/// `note_px` wide: a box at most 120 px wide; the note beside it only if it ends before the
/// next box begins.
pub(super) fn geometry(ppu: f64, note_px: u32) -> BoxGeometry {
    let half_px = (0.28 * ppu).min(60.0);
    // Box, the replication circles (10 px out), the note (18 px out), and 6 px to spare.
    let p99_beside = half_px + 18.0 + f64::from(note_px) + 6.0 <= ppu - half_px;
    BoxGeometry {
        half_px,
        p99_beside,
    }
}

impl Figure for BoxFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (self.width(), H.max(600 + self.labels().area()))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let d = self.data;
        let title = format!("Latency by formation — {}", d.scenario);
        if d.cats.is_empty() {
            return empty(root, &title, "no requests in this output");
        }
        let body = root
            .margin(8, 0, 0, 0)
            .titled(&title, font(26))
            .map_err(err)?;
        // The legend: above the chart, never over the boxes.
        let mut entries: Vec<Entry> = Vec::new();
        let mut tiers: Vec<&str> = Vec::new();
        for &i in &self.order {
            let t = d.cats[i].tier.as_str();
            if !tiers.contains(&t) {
                tiers.push(t);
                entries.push(Entry::new(format!("{t} tier: box p50 to p95"), Swatch::Box(tier_color(t))));
            }
        }
        entries.push(Entry::new("p99 (value written beside or above)", Swatch::Triangle(BLACK)));
        entries.push(Entry::new("p99 of each replication", Swatch::Ring(BLACK)));
        entries.push(Entry::new("whisker to p99.9, × max", Swatch::Cross(BLACK)));
        if d.cats.iter().any(|c| c.completed() == 0.0) {
            entries.push(Entry::new("no completed request", Swatch::Cross(ERROR_RED)));
        }
        if d.cats.iter().any(|c| c.error_rate() > 0.0) {
            entries.push(Entry::new("red %: share of requests that failed", Swatch::Box(ERROR_RED)));
        }
        let (w, _) = body.dim_in_pixel();
        let lay = legend::rows(&entries, 14, w - 120);
        let (top, main) = body.split_vertically(lay.height + 4);
        legend::draw(&top, (90, 0), &entries, &lay)?;

        let labels = self.labels();
        let (lo, hi) = log_range(
            d.cats
                .iter()
                .flat_map(|c| c.done().flat_map(|r| [r.q[0], r.q[5]])),
            2.5,
            1.0,
        );
        // Room above the data for the notes.
        let hi = hi * (hi / lo).powf(0.2);
        let mut chart = ChartBuilder::on(&main)
            .margin(MARGIN)
            .margin_right(MARGIN_RIGHT)
            .x_label_area_size(labels.area())
            .y_label_area_size(Y_AREA)
            .build_cartesian_2d(self.cats.axis(), log_axis(lo, hi))
            .map_err(err)?;
        let blank = |_: &f64| String::new();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&blank)
            .y_label_formatter(&|v| fmt_ms(*v))
            .y_label_style(font(15))
            .x_desc(if d.layout.is_some() {
                format!(
                    "formation, in groups that vary one sweep key; mean of {} replication(s)",
                    d.replications
                )
            } else {
                format!(
                    "formation (size ×dynos); mean of {} replication(s)",
                    d.replications
                )
            })
            .y_desc("latency (ms, log scale)")
            .axis_desc_style(font(17))
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(err)?;

        let ppu = labels.px_per_unit;
        let widest = self
            .order
            .iter()
            .map(|&i| text_width(&fmt_latency(d.cats[i].mean_q(3)), NOTE))
            .max()
            .unwrap_or(0);
        let geo = geometry(ppu, widest);
        let units = |px: f64| px / ppu;
        let half = units(geo.half_px);
        let above = |c: (f64, f64), dy: i32, text: String, color: &'static RGBColor| {
            EmptyElement::at(c)
                + Text::new(
                    text,
                    (0, dy),
                    font(NOTE).color(color).pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
        };
        for (&i, &x) in self.order.iter().zip(&self.cats.xs) {
            let c = &d.cats[i];
            let color = tier_color(&c.tier);
            if c.completed() == 0.0 {
                chart
                    .draw_series([Cross::new((x, lo * 1.5), 9, ERROR_RED.stroke_width(3))])
                    .map_err(err)?;
                if text_width("no responses", NOTE) as f64 + 6.0 < ppu {
                    chart
                        .draw_series([above((x, lo * 1.5), -12, "no responses".into(), &ERROR_RED)])
                        .map_err(err)?;
                }
                continue;
            }
            let [p50, _p90, p95, p99, p999, max] = [0, 1, 2, 3, 4, 5].map(|k| c.mean_q(k));
            // Whisker p95 -> p99.9, box p50 -> p95, p99 marker, max cross.
            chart
                .draw_series([
                    PathElement::new(vec![(x, p95), (x, p999)], color.stroke_width(2)),
                    PathElement::new(
                        vec![(x - half / 2.0, p999), (x + half / 2.0, p999)],
                        color.stroke_width(2),
                    ),
                ])
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
                    Circle::new((x + half + units(10.0), r.q[3]), 4, BLACK.mix(0.7).stroke_width(1))
                }))
                .map_err(err)?;
            let top = max.max(p999);
            let mut dy = -10;
            if geo.p99_beside {
                chart
                    .draw_series([EmptyElement::at((x + half + units(18.0), p99))
                        + Text::new(
                            fmt_latency(p99),
                            (0, 0),
                            font(NOTE).pos(Pos::new(HPos::Left, VPos::Center)),
                        )])
                    .map_err(err)?;
            } else {
                // Above the maximum, it says which figure it is when there is room.
                let note = fit_note(
                    vec![format!("p99 {}", fmt_latency(p99)), fmt_latency(p99)],
                    NOTE,
                    ppu - 6.0,
                );
                chart
                    .draw_series([above((x, top), dy, note, &BLACK)])
                    .map_err(err)?;
                dy -= 16;
            }
            let er = c.error_rate();
            if er > 0.0 {
                let note = fit_note(
                    vec![format!("{} errors", fmt_percent(er)), fmt_percent(er)],
                    NOTE,
                    ppu - 6.0,
                );
                chart
                    .draw_series([above((x, top), dy, note, &ERROR_RED)])
                    .map_err(err)?;
            }
        }
        draw_labels(&main, &mut chart, &self.cats, &labels, lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_p99_note_goes_beside_its_box_only_when_it_ends_before_the_next_box() {
        // 4 formations on a wide figure: room to spare.
        assert!(geometry(280.0, 45).p99_beside);
        // 30 formations (about 80 px apart): above.
        let g = geometry(80.0, 45);
        assert!(!g.p99_beside);
        assert!(g.half_px * 2.0 < 80.0);
        for ppu in [20.0, 50.0, 80.0, 120.0, 200.0, 400.0] {
            for note in [20, 45, 70] {
                let g = geometry(ppu, note);
                if g.p99_beside {
                    // The note's right end stays left of the next box's left edge.
                    assert!(g.half_px + 18.0 + f64::from(note) < ppu - g.half_px);
                }
                assert!(g.half_px <= 60.0 && g.half_px < ppu / 2.0);
            }
        }
    }
}
