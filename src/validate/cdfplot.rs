//! The CDF overlay of one tier and size: real and simulated latency on a log axis (PNG and SVG).

use crate::output::plot::{Figure, SANS, register_font, render};
use plotters::coord::Shift;
use plotters::coord::combinators::IntoLogRange;
use plotters::prelude::*;
use std::path::Path;

const W: u32 = 900;
const H: u32 = 560;
const REAL: RGBColor = RGBColor(20, 20, 20);
const SIM: RGBColor = RGBColor(230, 110, 10);

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Points (latency, cumulative fraction) of a sorted sample, thinned to at most ~600.
fn steps(sorted: &[f64]) -> Vec<(f64, f64)> {
    let n = sorted.len();
    let stride = (n / 600).max(1);
    let mut v: Vec<(f64, f64)> = (0..n)
        .step_by(stride)
        .map(|i| (sorted[i].max(1e-3), (i + 1) as f64 / n as f64))
        .collect();
    if let Some(&last) = sorted.last() {
        v.push((last.max(1e-3), 1.0));
    }
    v
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    real: &[f64],
    sim: &[f64],
) -> Result<(), String> {
    let all = real.iter().chain(sim).copied().filter(|x| *x > 0.0);
    let lo = all.clone().fold(f64::INFINITY, f64::min).max(1e-3) * 0.8;
    let hi = all.fold(0.0f64, f64::max).max(lo * 10.0) * 1.25;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (SANS, 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("latency (ms, log scale)")
        .y_desc("fraction of requests")
        .label_style((SANS, 14))
        .axis_desc_style((SANS, 15))
        .draw()
        .map_err(err)?;
    for (name, data, color) in [("real", real, REAL), ("simulated", sim, SIM)] {
        if data.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(steps(data), color.stroke_width(2)))
            .map_err(err)?
            .label(format!("{name} ({} requests)", data.len()))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font((SANS, 14))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// The overlay as a [`Figure`], so it renders like the run's figures.
struct Overlay<'a> {
    title: &'a str,
    real: &'a [f64],
    sim: &'a [f64],
}

impl Figure for Overlay<'_> {
    fn size(&self) -> (u32, u32) {
        (W, H)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        draw(root, self.title, self.real, self.sim)
    }
}

/// Write `<base>.png` and `<base>.svg`: the CDFs of `real` and `sim` (sorted, ms). Returns the
/// file names.
pub fn write(base: &Path, title: &str, real: &[f64], sim: &[f64]) -> Result<Vec<String>, String> {
    register_font()?;
    let dir = base.parent().unwrap_or(Path::new("."));
    let name = base
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: not a file name", base.display()))?;
    render(&Overlay { title, real, sim })?.write(dir, name)
}
