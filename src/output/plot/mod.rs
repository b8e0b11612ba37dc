//! Plots of an output folder, drawn from its CSVs alone (PNG and SVG).
//!
//! Reading the CSVs rather than in-memory results means `dynosim plot DIR` redraws exactly what a
//! run drew, a merged folder gets the same plots as a single run, and the plots can never show
//! something the CSVs do not.
//!
//! - `data`: what the figures read (formations from summary.csv, the p99 timeline), through
//!   the typed reader of [`crate::output::rows`];
//! - `render`: the [`Figure`] seam, PNG and SVG rendering, fonts and lines;
//! - `style`: the one tier-colour map, shades within a tier, error and event colours;
//! - `groups`: which sweep points and formations go together (one key varies, the others
//!   are fixed), for every figure;
//! - `axes`: log axes, ticks, number formats, and the clamps that keep every axis bounded
//!   whatever the CSVs hold; `categories`: grouped category axes whose labels never overlap;
//! - `legend`: legends outside the plot area (a column beside a chart or rows above it);
//! - one file per figure, registered in [`figures!`]: `latency_by_formation`, `latency_cdf`,
//!   `p99_over_time`, `sweep_p99_cost` (docs/csv.md#plots describes each); `plan_cost`, drawn
//!   by `dynosim plan` from its candidates rather than from a run's CSVs.
//!
//! A new figure is one file (a type implementing [`Figure`] and a `pub(super) const FIGURE:
//! Spec`) and its name in the `figures!` list; the file name is the figure's.
//!
//! Text is rendered with DejaVu Sans, embedded from `assets/`, so plotting needs no system fonts.

mod axes;
mod categories;
mod data;
mod groups;
mod legend;
pub(crate) mod plan_cost;
mod render;
mod style;
#[cfg(test)]
mod tests;

pub(crate) use axes::fmt_usd;
use data::Data;
pub(crate) use render::{Figure, Rendered, SANS, register_font, render};
use std::path::Path;

/// How a figure joins the registry.
pub(super) struct Spec {
    /// Whether the folder's data calls for this figure (the sweep figure needs a sweep).
    applies: fn(&Data) -> bool,
    /// Build the figure from the data (and the folder, for files read on demand) and render it.
    draw: fn(&Data, &Path) -> Result<Rendered, String>,
}

/// Declares the figure modules and the registry, in drawing order, from one list of names.
macro_rules! figures {
    ($($figure:ident),* $(,)?) => {
        $(mod $figure;)*
        /// Every figure: its name (the file stem of its PNG and SVG) and how to draw it.
        const REGISTRY: &[(&str, Spec)] = &[$((stringify!($figure), $figure::FIGURE)),*];
    };
}

figures!(
    latency_by_formation,
    latency_cdf,
    p99_over_time,
    sweep_p99_cost,
);

/// The name of every figure `draw_all` can draw (file stems), whether or not a folder gets it.
pub fn figure_names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|(name, _)| *name)
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
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct PlotError(pub String);

/// Draw every figure of the output folder `dir` into `dir` (each file written atomically).
///
/// Returns an error only if summary.csv (which every figure needs) cannot be read; a figure that
/// fails on its own is reported in [`PlotReport::warnings`] and the others are still drawn.
pub fn draw_all(dir: &Path) -> Result<PlotReport, PlotError> {
    register_font().map_err(PlotError)?;
    let data = Data::load(dir).map_err(PlotError)?;
    let mut report = PlotReport::default();
    for (name, spec) in REGISTRY.iter().filter(|(_, s)| (s.applies)(&data)) {
        // A stop request ends the drawing between two figures (each file is written whole).
        if crate::interrupt::requested() {
            break;
        }
        // plotters can panic on degenerate input; a bad figure must not cost the CSVs.
        let draw = || (spec.draw)(&data, dir);
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
