//! Rendering: the [`Figure`] seam every plot implements, drawing one figure to PNG and SVG
//! bytes, and what the figures share (sizes, fonts, lines, the empty figure); colours are in
//! [`super::style`], legends in [`super::legend`].

use super::super::write_atomic;
use super::style::SeriesStyle;
use plotters::coord::Shift;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;
use std::fmt::Display;
use std::path::Path;

/// DejaVu Sans (Bitstream Vera licence, see assets/README.md).
static FONT: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");
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

pub(super) const W: u32 = 1280;
pub(super) const H: u32 = 760;

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
    /// The SVG text (tests read it; `plan` embeds it in report.html).
    pub(crate) fn svg(&self) -> &str {
        &self.svg
    }

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

pub(super) fn err(e: impl Display) -> String {
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

pub(super) fn font(size: u32) -> TextStyle<'static> {
    (SANS, size).into_font().into()
}

/// A message in the middle of an empty figure.
pub(super) fn empty<DB: DrawingBackend>(
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

/// Draw a series' line in its style (solid or dashed).
pub(super) fn draw_line<DB: DrawingBackend, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    points: Vec<(f64, f64)>,
    style: SeriesStyle,
    width: u32,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let stroke = style.color.stroke_width(width);
    if style.dashed {
        chart
            .draw_series(DashedLineSeries::new(points, 9, 5, stroke))
            .map_err(err)?;
    } else {
        chart
            .draw_series(LineSeries::new(points, stroke))
            .map_err(err)?;
    }
    Ok(())
}
