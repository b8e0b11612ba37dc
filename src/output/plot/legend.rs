//! Legends, drawn outside the plot area so that they never cover data: a column beside a
//! chart (a compact table that takes as many columns as its entries need) or rows above it.
//!
//! A figure computes the legend's layout first ([`column`], [`rows`]), gives the legend the
//! space it asks for, builds its chart on the rest, and then draws the legend there ([`draw`]).
//! Text is measured with the embedded font, so the layout is exact, not a guess per character.

use super::render::{err, font};
use super::style::SeriesStyle;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

/// A box in pixels: (left, top, right, bottom).
#[cfg(test)]
pub(super) type Rect = (i32, i32, i32, i32);

/// The first two of `boxes` that overlap, if any (touching edges do not).
#[cfg(test)]
pub(super) fn overlapping(boxes: &[Rect]) -> Option<(Rect, Rect)> {
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            if !(a.2 <= b.0 || b.2 <= a.0 || a.3 <= b.1 || b.3 <= a.1) {
                return Some((*a, *b));
            }
        }
    }
    None
}

/// What an entry's sample looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Swatch {
    /// A series line.
    Line(SeriesStyle),
    /// A filled box (a tier's box in `latency_by_formation`, a cost bar).
    Box(RGBColor),
    /// A filled triangle (a p99 marker).
    Triangle(RGBColor),
    /// A hollow circle (one replication's value).
    Ring(RGBColor),
    /// A filled circle (a mean of replications).
    Dot(RGBColor),
    /// A cross (a maximum; in red, no completed request).
    Cross(RGBColor),
    /// A dashed vertical line (a lifecycle event).
    Event(RGBColor),
}

/// One legend entry.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Entry {
    pub(super) label: String,
    pub(super) swatch: Swatch,
}

impl Entry {
    pub(super) fn new(label: impl Into<String>, swatch: Swatch) -> Entry {
        Entry {
            label: label.into(),
            swatch,
        }
    }
}

/// Width of the sample, the gap after it, a row's height and the padding around the legend (px).
const SWATCH: i32 = 26;
const GAP: i32 = 6;
const ROW: i32 = 20;
const PAD: i32 = 8;
/// Space between two columns or two entries of a row (px).
const SPACING: i32 = 18;
/// The widest an entry's text may be (px); longer labels are cut with `…`.
pub(super) const MAX_LABEL: u32 = 420;

/// The width of `text` in the figures' font at `size` px.
pub(super) fn text_width(text: &str, size: u32) -> u32 {
    font(size)
        .font
        .box_size(text)
        .map(|(w, _)| w)
        .unwrap_or(text.chars().count() as u32 * size * 6 / 10)
}

/// `text` cut with `…` to at most `max_px` wide.
pub(super) fn fit(text: &str, size: u32, max_px: u32) -> String {
    if text_width(text, size) <= max_px {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    for n in (1..chars.len()).rev() {
        let s: String = chars[..n].iter().collect::<String>() + "…";
        if text_width(&s, size) <= max_px {
            return s;
        }
    }
    "…".into()
}

/// The first of `candidates` (longest first) no wider than `max_px`, else the last.
pub(super) fn fit_note(candidates: Vec<String>, size: u32, max_px: f64) -> String {
    let n = candidates.len();
    candidates
        .into_iter()
        .enumerate()
        .find(|(i, c)| *i + 1 == n || f64::from(text_width(c, size)) <= max_px)
        .map(|(_, c)| c)
        .unwrap_or_default()
}

/// Where a legend's entries go, relative to the legend's top-left corner.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Layout {
    /// Top-left corner of each entry.
    pub(super) at: Vec<(i32, i32)>,
    /// Each entry's text as written.
    pub(super) labels: Vec<String>,
    /// Width of each entry (sample and text).
    pub(super) widths: Vec<u32>,
    /// The legend's size, padding included.
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) size: u32,
}

impl Layout {
    #[cfg(test)]
    /// Each entry's box (left, top, right, bottom), relative to the legend's corner.
    pub(super) fn boxes(&self) -> Vec<Rect> {
        self.at
            .iter()
            .zip(&self.widths)
            .map(|(&(x, y), &w)| (x, y, x + w as i32, y + ROW))
            .collect()
    }
}

/// The labels as written (cut to [`MAX_LABEL`]) and each entry's width.
fn measure(entries: &[Entry], size: u32) -> (Vec<String>, Vec<u32>) {
    let labels: Vec<String> = entries
        .iter()
        .map(|e| fit(&e.label, size, MAX_LABEL))
        .collect();
    let widths = labels
        .iter()
        .map(|l| (SWATCH + GAP) as u32 + text_width(l, size))
        .collect();
    (labels, widths)
}

/// A legend beside a chart: entries top to bottom in columns at most `max_height` px high (a
/// compact table when there are many).
pub(super) fn column(entries: &[Entry], size: u32, max_height: u32) -> Layout {
    let (labels, widths) = measure(entries, size);
    let per_col = ((max_height as i32 - 2 * PAD) / ROW).max(1) as usize;
    let cols = entries.len().div_ceil(per_col).max(1);
    let mut at = Vec::with_capacity(entries.len());
    let mut x = PAD;
    for c in 0..cols {
        let range = c * per_col..((c + 1) * per_col).min(entries.len());
        for (r, _) in range.clone().enumerate() {
            at.push((x, PAD + r as i32 * ROW));
        }
        x += range.map(|i| widths[i] as i32).max().unwrap_or(0) + SPACING;
    }
    let rows_used = entries.len().min(per_col) as i32;
    Layout {
        at,
        labels,
        widths,
        width: (x - SPACING + PAD).max(2 * PAD) as u32,
        height: (2 * PAD + rows_used * ROW) as u32,
        size,
    }
}

/// A legend above a chart: entries left to right, in as many rows as `max_width` px require.
pub(super) fn rows(entries: &[Entry], size: u32, max_width: u32) -> Layout {
    let (labels, widths) = measure(entries, size);
    let (mut x, mut y) = (PAD, PAD);
    let mut at = Vec::with_capacity(entries.len());
    let mut right = 0;
    for &w in &widths {
        if x > PAD && x + w as i32 + PAD > max_width as i32 {
            x = PAD;
            y += ROW;
        }
        at.push((x, y));
        right = right.max(x + w as i32);
        x += w as i32 + SPACING;
    }
    Layout {
        at,
        labels,
        widths,
        width: (right + PAD).max(2 * PAD) as u32,
        height: (y + ROW + PAD) as u32,
        size,
    }
}

/// Draw `entries` laid out by `layout` with its top-left corner at `origin` of `area`.
pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    origin: (i32, i32),
    entries: &[Entry],
    layout: &Layout,
) -> Result<(), String> {
    let (ox, oy) = origin;
    for ((e, label), &(x, y)) in entries.iter().zip(&layout.labels).zip(&layout.at) {
        let (x, y) = (ox + x, oy + y);
        let mid = y + ROW / 2;
        let cx = x + SWATCH / 2;
        match e.swatch {
            Swatch::Line(s) => {
                let pts = vec![(x + 1, mid), (x + SWATCH - 1, mid)];
                if s.dashed {
                    area.draw(&DashedPathElement::new(pts, 5, 3, s.color.stroke_width(3)))
                } else {
                    area.draw(&PathElement::new(pts, s.color.stroke_width(3)))
                }
            }
            Swatch::Box(c) => area.draw(&Rectangle::new(
                [(x + 4, mid - 6), (x + SWATCH - 4, mid + 6)],
                c.mix(0.45).filled(),
            )),
            Swatch::Triangle(c) => area.draw(&TriangleMarker::new((cx, mid), 7, c.filled())),
            Swatch::Ring(c) => area.draw(&Circle::new((cx, mid), 4, c.stroke_width(1))),
            Swatch::Dot(c) => area.draw(&Circle::new((cx, mid), 5, c.filled())),
            Swatch::Cross(c) => area.draw(&Cross::new((cx, mid), 5, c.stroke_width(2))),
            Swatch::Event(c) => area.draw(&DashedPathElement::new(
                vec![(cx, y + 2), (cx, y + ROW - 2)],
                4,
                2,
                c.stroke_width(2),
            )),
        }
        .map_err(err)?;
        area.draw(&Text::new(
            label.clone(),
            (x + SWATCH + GAP, mid),
            font(layout.size).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Center,
            )),
        ))
        .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::plot::register_font;

    fn entries(n: usize) -> Vec<Entry> {
        (0..n)
            .map(|i| {
                Entry::new(
                    format!("app{i:02}/web standard-1x ×{}", 1 + i % 3),
                    Swatch::Line(SeriesStyle {
                        color: BLACK,
                        dashed: i % 2 == 1,
                    }),
                )
            })
            .collect()
    }

    /// 33 series (issue 22's timeline): a column legend becomes a table of several columns
    /// within the height it is given, every entry inside the legend, no two overlapping.
    #[test]
    fn a_long_legend_is_a_table_within_its_box() {
        register_font().expect("font");
        let e = entries(33);
        let l = column(&e, 13, 300);
        assert!(l.height <= 300, "{}", l.height);
        assert!(l.at.len() == 33);
        let cols: std::collections::BTreeSet<i32> = l.at.iter().map(|p| p.0).collect();
        assert_eq!(cols.len(), 3, "13 rows a column in 300 px");
        let boxes = l.boxes();
        for a in &boxes {
            assert!(a.0 >= 0 && a.1 >= 0, "{a:?}");
            assert!(
                a.2 <= l.width as i32 && a.3 <= l.height as i32,
                "{a:?} in {l:?}"
            );
        }
        assert_eq!(overlapping(&boxes), None);
        // The text is measured: a longer label makes a wider legend.
        let mut longer = e.clone();
        longer[0].label.push_str(" (arrivals.poisson=120.0)");
        assert!(column(&longer, 13, 300).width > l.width);
    }

    #[test]
    fn a_label_too_long_is_cut() {
        register_font().expect("font");
        let mut e = entries(2);
        e[1].label = "standard-1x ×1 (workload.cpu={ lognormal = { median = \"20ms\", p99 = \"20s\" } }) and more".repeat(3);
        let l = column(&e, 13, 300);
        assert!(l.labels[1].ends_with('…'), "{}", l.labels[1]);
        assert!(l.widths[1] <= MAX_LABEL + (SWATCH + GAP) as u32);
        assert_eq!(l.labels[0], e[0].label);
    }

    #[test]
    fn a_row_legend_wraps_within_its_width() {
        register_font().expect("font");
        let e = entries(9);
        let l = rows(&e, 14, 700);
        assert!(l.width <= 700, "{}", l.width);
        assert!(l.height as i32 > 2 * ROW, "wrapped to several rows: {l:?}");
        let boxes = l.boxes();
        for a in &boxes {
            assert!(a.2 <= 700);
        }
        assert_eq!(overlapping(&boxes), None);
        let one = rows(&e[..2], 14, 2000);
        assert_eq!(one.height as i32, ROW + 2 * PAD);
    }
}
