//! Colours and line styles, from one source for every figure: the tier-colour map, the shades
//! that tell apart several series of one tier, and the marks for errors and lifecycle events.
//!
//! A tier has the same colour in every figure (a standard box, a standard CDF curve and a
//! standard p99 line are all blue), so colour always answers "which tier". Several series of
//! one tier in one panel (the dyno counts of a sweep, say) are shades of the tier's colour from
//! light to dark in their order, alternately solid and dashed, so neighbours differ twice.

use crate::model::Tier;
use plotters::prelude::*;
use serde::Deserialize;
use serde::de::IntoDeserializer;

/// The tier named in a CSV's `tier` column, if it is one dynosim knows.
pub(super) fn parse_tier(name: &str) -> Option<Tier> {
    let d: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        name.into_deserializer();
    Tier::deserialize(d).ok()
}

/// The colour of a tier, in every figure. A name that is no tier (a hand-edited CSV) is grey.
pub(super) fn tier_color(tier: &str) -> RGBColor {
    match parse_tier(tier) {
        Some(Tier::Eco) => RGBColor(127, 127, 127),
        Some(Tier::Basic) => RGBColor(23, 190, 207),
        Some(Tier::Standard) => RGBColor(31, 119, 180),
        Some(Tier::Performance) => RGBColor(255, 127, 14),
        Some(Tier::Private) => RGBColor(44, 160, 44),
        Some(Tier::Shield) => RGBColor(148, 103, 189),
        Some(Tier::Fir) => RGBColor(140, 86, 75),
        None => RGBColor(60, 60, 60),
    }
}

/// How one series is drawn: its colour and whether its line is dashed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct SeriesStyle {
    pub(super) color: RGBColor,
    pub(super) dashed: bool,
}

/// `c` moved towards white (`f < 0`) or black (`f > 0`) by `|f|` (0..1).
fn shade(c: RGBColor, f: f64) -> RGBColor {
    let towards = if f < 0.0 { 255.0 } else { 0.0 };
    let f = f.abs().min(1.0);
    let mix = |v: u8| (f64::from(v) + (towards - f64::from(v)) * f).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// The styles of the series of one panel, given each series' tier in drawing order: the tier's
/// colour, and for several series of one tier, shades from light to dark in their order,
/// alternately solid and dashed.
pub(super) fn series_styles(tiers: &[&str]) -> Vec<SeriesStyle> {
    tiers
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let n = tiers.iter().filter(|u| *u == t).count();
            let rank = tiers[..i].iter().filter(|u| *u == t).count();
            let base = tier_color(t);
            let color = if n > 1 {
                shade(base, -0.5 + 0.85 * rank as f64 / (n - 1) as f64)
            } else {
                base
            };
            SeriesStyle {
                color,
                dashed: rank % 2 == 1,
            }
        })
        .collect()
}

/// Error notes and the "no completed request" cross.
pub(super) const ERROR_RED: RGBColor = RGBColor(200, 30, 30);

/// Lifecycle events drawn on the time series (as dashed vertical lines, so they cannot be taken
/// for a series), with their colours.
pub(super) const MARKED_EVENTS: [(&str, RGBColor); 6] = [
    ("cycle", RGBColor(40, 40, 40)),
    ("deploy", RGBColor(0, 110, 60)),
    ("crash", RGBColor(214, 39, 40)),
    ("r10", RGBColor(227, 119, 194)),
    ("r15", RGBColor(110, 50, 160)),
    ("sleep", RGBColor(150, 150, 150)),
];

/// The colour of a marked event kind.
pub(super) fn event_color(kind: &str) -> RGBColor {
    MARKED_EVENTS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(BLACK, |(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tier_has_its_own_colour_and_unknown_names_are_grey() {
        let tiers = [
            Tier::Eco,
            Tier::Basic,
            Tier::Standard,
            Tier::Performance,
            Tier::Private,
            Tier::Shield,
            Tier::Fir,
        ];
        let colours: std::collections::BTreeSet<(u8, u8, u8)> = tiers
            .iter()
            .map(|t| {
                let c = tier_color(t.as_str());
                (c.0, c.1, c.2)
            })
            .collect();
        assert_eq!(colours.len(), tiers.len());
        assert!(!colours.contains(&(60, 60, 60)));
        assert_eq!(tier_color("gold"), RGBColor(60, 60, 60));
        // Error red is no tier's colour.
        assert!(!colours.contains(&(ERROR_RED.0, ERROR_RED.1, ERROR_RED.2)));
    }

    #[test]
    fn series_of_one_tier_are_distinct_shades_and_a_lone_series_has_the_tier_colour() {
        let s = series_styles(&["standard", "performance", "standard", "standard"]);
        assert_eq!(s[1].color, tier_color("performance"));
        assert!(!s[1].dashed);
        let std: Vec<SeriesStyle> = [0, 2, 3].iter().map(|&i| s[i]).collect();
        assert!(std[0].color != std[1].color && std[1].color != std[2].color);
        assert_eq!(
            [std[0].dashed, std[1].dashed, std[2].dashed],
            [false, true, false]
        );
        // Light to dark in order: the sum of channels falls.
        let sum = |c: RGBColor| u32::from(c.0) + u32::from(c.1) + u32::from(c.2);
        assert!(sum(std[0].color) > sum(std[1].color) && sum(std[1].color) > sum(std[2].color));
        // Still recognisably blue: the blue channel dominates.
        for st in std {
            assert!(
                st.color.2 > st.color.0 && st.color.2 > st.color.1,
                "{:?}",
                st.color
            );
        }
        assert_eq!(series_styles(&["eco"])[0].color, tier_color("eco"));
    }
}
