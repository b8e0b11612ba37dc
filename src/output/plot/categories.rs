//! Category x axes in groups (the formations of `latency_by_formation`, the sweep points of
//! `sweep_p99_cost`): where each category sits, and a label layout computed from the text's
//! measured size so that no two labels overlap, however many categories there are.
//!
//! Categories come in groups (those of [`super::groups`]) with a gap between groups; each
//! category gets a short tick label (`count=3`), each group a title (`arrivals.poisson=20.0 ·
//! size=standard-1x`) centred under its categories. Tick labels are upright when they fit
//! between their neighbours, else written downwards; when even that is too tight only every
//! k-th is written. Labels too long for their band are cut with `…`, group titles are wrapped
//! at ` · ` (then cut) to fit their group's width.

use super::axes::Ticked;
#[cfg(test)]
use super::legend::Rect;
use super::legend::{fit, text_width};
use super::render::{W, err, font};
use plotters::coord::Shift;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;
use plotters::style::FontTransform;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;

/// Axis units between two groups, beyond the one between neighbours.
const GROUP_GAP: f64 = 0.6;
/// Font sizes of tick labels and group titles (px).
pub(super) const TICK_FONT: u32 = 14;
const GROUP_FONT: u32 = 14;
/// The height a line of text takes (px), and the longest a downward label may be.
const LINE: u32 = 18;
const MAX_ROTATED: u32 = 240;

/// Categories in groups, as placed on an x axis.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Categories {
    /// Axis position of each category.
    pub(super) xs: Vec<f64>,
    /// Tick label of each category.
    pub(super) labels: Vec<String>,
    /// Each group's title and its categories (a range of indices).
    pub(super) groups: Vec<(String, Range<usize>)>,
}

impl Categories {
    /// From each group's title and its categories' labels, in order.
    pub(super) fn new(groups: Vec<(String, Vec<String>)>) -> Categories {
        let (mut xs, mut labels, mut spans) = (Vec::new(), Vec::new(), Vec::new());
        let mut x = 0.0;
        for (g, (title, members)) in groups.into_iter().enumerate() {
            if g > 0 {
                x += GROUP_GAP;
            }
            let start = labels.len();
            for l in members {
                xs.push(x);
                labels.push(l);
                x += 1.0;
            }
            spans.push((title, start..labels.len()));
        }
        Categories {
            xs,
            labels,
            groups: spans,
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.xs.len()
    }

    /// The axis: from half a category before the first to half after the last, a tick mark at
    /// each category (its label is written by [`draw_labels`]).
    pub(super) fn axis(&self) -> Ticked {
        let last = self.xs.last().copied().unwrap_or(0.0);
        Ticked {
            lo: -0.6,
            hi: last + 0.6,
            ticks: self.xs.clone(),
        }
    }

    /// Axis units the categories span.
    pub(super) fn units(&self) -> f64 {
        self.xs.last().copied().unwrap_or(0.0) + 1.2
    }

    /// Width of a figure for these categories: about 110 px a category, within [W, 3000].
    pub(super) fn figure_width(&self) -> u32 {
        ((self.units() * 110.0) as u32 + 200).clamp(W, 3000)
    }

    /// The midpoints between groups, where separators go.
    pub(super) fn separators(&self) -> Vec<f64> {
        self.groups
            .windows(2)
            .filter(|w| !w[0].1.is_empty() && !w[1].1.is_empty())
            .map(|w| (self.xs[w[0].1.end - 1] + self.xs[w[1].1.start]) / 2.0)
            .collect()
    }
}

/// How the labels are drawn at a given scale.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LabelLayout {
    /// Pixels per axis unit.
    pub(super) px_per_unit: f64,
    pub(super) rotate: bool,
    /// Every `step`-th tick label is written (1: all).
    pub(super) step: usize,
    /// Tick labels as written (cut to fit).
    pub(super) ticks: Vec<String>,
    /// Height of the tick label band (px).
    pub(super) tick_band: u32,
    /// Each group title's lines (empty for an untitled group).
    pub(super) titles: Vec<Vec<String>>,
    /// Height of the group title band (px).
    pub(super) title_band: u32,
}

/// `title` in lines no wider than `max_px`: its ` · ` parts, joined while they fit.
fn wrap(title: &str, size: u32, max_px: u32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for part in title.split(" · ").filter(|p| !p.is_empty()) {
        match lines.last_mut() {
            Some(l) if text_width(&format!("{l} · {part}"), size) <= max_px => {
                l.push_str(" · ");
                l.push_str(part);
            }
            _ => lines.push(part.to_string()),
        }
    }
    lines.into_iter().map(|l| fit(&l, size, max_px)).collect()
}

impl LabelLayout {
    /// The layout for `cats` drawn `plot_px` wide.
    pub(super) fn new(cats: &Categories, plot_px: u32) -> LabelLayout {
        let ppu = f64::from(plot_px) / cats.units().max(1e-9);
        let widest = cats
            .labels
            .iter()
            .map(|l| text_width(l, TICK_FONT))
            .max()
            .unwrap_or(0);
        // Upright when each label fits in its category with a little room on either side.
        let rotate = f64::from(widest) + 8.0 > ppu;
        let (step, ticks, tick_band) = if rotate {
            let step = ((f64::from(LINE) / ppu).ceil() as usize).max(1);
            let ticks: Vec<String> = cats
                .labels
                .iter()
                .map(|l| fit(l, TICK_FONT, MAX_ROTATED))
                .collect();
            let long = ticks
                .iter()
                .map(|l| text_width(l, TICK_FONT))
                .max()
                .unwrap_or(0);
            (step, ticks, long + 18)
        } else {
            (1, cats.labels.clone(), LINE + 10)
        };
        let titles: Vec<Vec<String>> = cats
            .groups
            .iter()
            .map(|(title, r)| {
                let span = (r.len() as f64 * ppu - 10.0).max(40.0) as u32;
                wrap(title, GROUP_FONT, span)
            })
            .collect();
        let lines = titles.iter().map(Vec::len).max().unwrap_or(0) as u32;
        LabelLayout {
            px_per_unit: ppu,
            rotate,
            step,
            ticks,
            tick_band,
            titles,
            title_band: if lines > 0 { lines * LINE + 8 } else { 0 },
        }
    }

    /// The label area a chart needs below its x axis for these labels and a description.
    pub(super) fn area(&self) -> u32 {
        self.tick_band + self.title_band + 34
    }

    #[cfg(test)]
    /// Every written label's box (left, top, right, bottom) in px, with x relative to the axis
    /// position 0 and y to the x axis line, tick labels first, then group title lines.
    pub(super) fn boxes(&self, cats: &Categories) -> Vec<Rect> {
        let mut out = Vec::new();
        let px = |x: f64| (x * self.px_per_unit).round() as i32;
        for (i, l) in self.ticks.iter().enumerate().step_by(self.step) {
            let x = px(cats.xs[i]);
            let w = text_width(l, TICK_FONT) as i32;
            let h = TICK_FONT as i32 + 2;
            out.push(if self.rotate {
                (x - h / 2, 10, x + h / 2 + 1, 10 + w)
            } else {
                (x - w / 2, 6, x + w / 2 + 1, 6 + h)
            });
        }
        for ((_, r), lines) in cats.groups.iter().zip(&self.titles) {
            if r.is_empty() {
                continue;
            }
            let mid = px((cats.xs[r.start] + cats.xs[r.end - 1]) / 2.0);
            for (k, line) in lines.iter().enumerate() {
                let w = text_width(line, GROUP_FONT) as i32;
                let top = (self.tick_band + 4 + k as u32 * LINE) as i32;
                out.push((
                    mid - w / 2,
                    top,
                    mid + w / 2 + 1,
                    top + GROUP_FONT as i32 + 2,
                ));
            }
        }
        out
    }
}

/// Write the tick labels and group titles of `cats` under `chart`'s x axis (at `y_axis`, the
/// value where the axis line is), and draw the group separators over the plot.
pub(super) fn draw_labels<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    root: &DrawingArea<DB, Shift>,
    chart: &mut ChartContext<'_, DB, Cartesian2d<Ticked, Y>>,
    cats: &Categories,
    layout: &LabelLayout,
    y_axis: f64,
) -> Result<(), String> {
    let (ox, oy) = root.get_base_pixel();
    let at = |chart: &ChartContext<'_, DB, Cartesian2d<Ticked, Y>>, x: f64| {
        let (px, py) = chart.backend_coord(&(x, y_axis));
        (px - ox, py - oy)
    };
    for (i, l) in layout.ticks.iter().enumerate().step_by(layout.step) {
        let (px, py) = at(chart, cats.xs[i]);
        let text = if layout.rotate {
            // Downwards from just below the axis, centred on the tick.
            Text::new(
                l.clone(),
                (px + TICK_FONT as i32 / 2, py + 10),
                font(TICK_FONT).transform(FontTransform::Rotate90),
            )
        } else {
            Text::new(
                l.clone(),
                (px, py + 6),
                font(TICK_FONT).pos(Pos::new(HPos::Center, VPos::Top)),
            )
        };
        root.draw(&text).map_err(err)?;
    }
    for ((_, r), lines) in cats.groups.iter().zip(&layout.titles) {
        if r.is_empty() {
            continue;
        }
        let (px, py) = at(chart, (cats.xs[r.start] + cats.xs[r.end - 1]) / 2.0);
        for (k, line) in lines.iter().enumerate() {
            let top = py + (layout.tick_band + 4 + k as u32 * LINE) as i32;
            root.draw(&Text::new(
                line.clone(),
                (px, top),
                font(GROUP_FONT)
                    .pos(Pos::new(HPos::Center, VPos::Top))
                    .color(&RGBColor(70, 70, 70)),
            ))
            .map_err(err)?;
        }
    }
    let (ylo, yhi) = {
        let r = chart.y_range();
        (r.start, r.end)
    };
    for x in cats.separators() {
        chart
            .draw_series([PathElement::new(
                vec![(x, ylo), (x, yhi)],
                BLACK.mix(0.25).stroke_width(1),
            )])
            .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::legend::overlapping;
    use super::*;
    use crate::output::plot::register_font;

    /// The 30 points of issue 22's sweep: 6 groups of 5 counts. At the width the figures use,
    /// no two labels (ticks and group titles) overlap, and every title is written in full.
    #[test]
    fn thirty_grouped_categories_have_no_overlapping_labels() {
        register_font().expect("font");
        let mut groups = Vec::new();
        for rate in ["20.0", "60.0", "120.0"] {
            for size in ["standard-1x", "performance-m"] {
                groups.push((
                    format!("arrivals.poisson={rate} · size={size}"),
                    ["1", "2", "3", "4", "6"]
                        .iter()
                        .map(|c| format!("count={c}"))
                        .collect(),
                ));
            }
        }
        let cats = Categories::new(groups);
        assert_eq!(cats.len(), 30);
        assert_eq!(cats.separators().len(), 5);
        let w = cats.figure_width();
        let l = LabelLayout::new(&cats, w - 200);
        assert_eq!(l.step, 1, "every label written");
        assert!(
            overlapping(&l.boxes(&cats)).is_none(),
            "{:?}",
            overlapping(&l.boxes(&cats))
        );
        for (lines, (title, _)) in l.titles.iter().zip(&cats.groups) {
            assert_eq!(lines.join(" · "), *title, "wrapped, not cut");
        }
    }

    /// 33 long formation labels without groups (33 processes): written downwards, cut to the
    /// band, and still never overlapping; 300 labels are thinned rather than overlapped.
    #[test]
    fn many_long_labels_are_rotated_cut_or_thinned_never_overlapped() {
        register_font().expect("font");
        for n in [33, 300] {
            let labels: Vec<String> = (0..n)
                .map(|i| {
                    format!(
                        "app{i:02}/web standard-1x ×{} (arrivals.poisson=120.0, a long note)",
                        i % 3
                    )
                })
                .collect();
            let cats = Categories::new(vec![(String::new(), labels)]);
            let l = LabelLayout::new(&cats, cats.figure_width() - 200);
            assert!(l.rotate, "{n}");
            assert!(l.tick_band <= MAX_ROTATED + 18);
            assert!(l.ticks.iter().any(|t| t.ends_with('…')), "{n}: cut");
            assert!(
                overlapping(&l.boxes(&cats)).is_none(),
                "{n}: {:?}",
                overlapping(&l.boxes(&cats))
            );
            if n == 300 {
                assert!(l.step > 1, "thinned");
            } else {
                assert_eq!(l.step, 1);
            }
            assert_eq!(l.title_band, 0, "no group titles");
        }
    }

    #[test]
    fn a_title_wider_than_its_group_is_wrapped_at_its_parts() {
        register_font().expect("font");
        let lines = wrap(
            "arrivals.poisson=120.0 · size=performance-m · network.latency=2ms",
            14,
            200,
        );
        assert!(lines.len() >= 2, "{lines:?}");
        assert!(lines.iter().all(|l| text_width(l, 14) <= 200), "{lines:?}");
        assert_eq!(
            fit("abcdefghijklmnopqrstuvwxyz", 14, 60).chars().last(),
            Some('…')
        );
    }
}
