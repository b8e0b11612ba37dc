//! Axes: log latency axes with 1-2-5 ticks, the "nines" quantile scale, number formats, and the
//! clamps that keep every axis bounded (category axes are in [`super::categories`]).

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// Latencies (ms) a log axis spans at most: 1 ns to about 115 days. Values outside (a subnormal
/// or huge figure in a damaged CSV) are drawn at the edge, so no axis spans more than 16
/// decades and no figure can ask for unbounded memory.
pub(super) const LOG_MIN_MS: f64 = 1e-6;
pub(super) const LOG_MAX_MS: f64 = 1e10;

/// The upper end of a linear axis from 0 that must show `v`: `v` itself within
/// `[1e-9, 1e15]`, and 1 for NaN, infinities and negative values.
pub(super) fn linear_max(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 {
        v.clamp(1e-9, 1e15)
    } else if v.is_finite() {
        1e-9
    } else {
        1.0
    }
}

/// Tick positions 1-2-5 per decade within `[lo, hi]`, or whole decades if that is too many.
/// Empty for a range that is not positive and finite.
pub(super) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && hi >= lo) {
        return out;
    }
    let (d0, d1) = (
        (lo.log10().floor() as i32).max(-30),
        (hi.log10().ceil() as i32).min(30),
    );
    let steps: &[f64] = if d1 - d0 > 4 {
        &[1.0]
    } else {
        &[1.0, 2.0, 5.0]
    };
    for d in d0..=d1 {
        for m in steps {
            let v = m * 10f64.powi(d);
            if v >= lo * 0.999 && v <= hi * 1.001 {
                out.push(v);
            }
        }
    }
    out
}

/// A latency tick label in ms: `0.5`, `20`, `1,000`.
pub(super) fn fmt_ms(v: f64) -> String {
    if v.is_nan() || v <= 0.0 || v.is_infinite() {
        return if v.is_nan() {
            "?".into()
        } else {
            format!("{v}")
        };
    }
    if v < 1.0 {
        // Enough decimals for the first significant digit, at most 12 (a subnormal tick
        // would ask for hundreds).
        let decimals = (-v.log10().floor()).clamp(1.0, 12.0) as usize;
        format!("{v:.decimals$}")
    } else {
        thousands(v.round() as u64)
    }
}

/// `12345` -> `12,345`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A monthly cost in whole dollars: `$25`, `$1,500` (`$?` for a value that is no cost).
pub(crate) fn fmt_usd(v: f64) -> String {
    if v.is_finite() && v >= 0.0 {
        format!("${}", thousands(v.round().min(1e15) as u64))
    } else {
        "$?".into()
    }
}

/// A latency value for annotations: `412 ms`, `1.6 s`.
pub(super) fn fmt_latency(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.0} s", ms / 1000.0)
    } else if ms >= 1000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// A rate (a fraction, 0..1) as a percentage with enough digits that a non-zero rate never
/// reads `0%` and a rate below one never reads `100%`: `55%`, `4.1%`, `0.34%`, `0.0012%`.
pub(super) fn fmt_percent(rate: f64) -> String {
    if !rate.is_finite() {
        return "?%".into();
    }
    let pct = rate * 100.0;
    if pct == 0.0 || pct == 100.0 {
        return format!("{pct:.0}%");
    }
    // Two significant digits below 10%, whole percent above.
    let mut decimals = if pct.abs() >= 10.0 {
        0
    } else {
        (1 - pct.abs().log10().floor() as i32).max(1) as usize
    };
    loop {
        let s = format!("{pct:.decimals$}");
        let shown: f64 = s.parse().unwrap_or(pct);
        if decimals >= 12 || (shown != 0.0 && shown != 100.0) {
            return format!("{s}%");
        }
        decimals += 1;
    }
}

/// A log axis range covering `values` with some room.
pub(super) fn log_range(values: impl Iterator<Item = f64>, pad_lo: f64, pad_hi: f64) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(|v| v.clamp(LOG_MIN_MS, LOG_MAX_MS))
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() || hi <= 0.0 {
        return (1.0, 1000.0);
    }
    let (lo, hi) = (lo / pad_lo, hi * pad_hi);
    let (lo, hi) = if hi / lo < 10.0 {
        let mid = (lo * hi).sqrt();
        (mid / 3.2, mid * 3.2)
    } else {
        (lo, hi)
    };
    // Out to the nearest 1-2-5 values, so both ends of the axis carry a tick.
    (nice_below(lo), nice_above(hi))
}

/// The largest 1, 2 or 5 x 10^k at or below `v` (> 0).
pub(super) fn nice_below(v: f64) -> f64 {
    let d = 10f64.powf(v.log10().floor());
    [5.0, 2.0, 1.0]
        .iter()
        .map(|m| m * d)
        .find(|x| *x <= v * 1.000_001)
        .unwrap_or(d)
}

/// The smallest 1, 2 or 5 x 10^k at or above `v` (> 0).
pub(super) fn nice_above(v: f64) -> f64 {
    let d = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * d)
        .find(|x| *x >= v / 1.000_001)
        .unwrap_or(10.0 * d)
}

/// A linear f64 axis with ticks exactly where we want them (plotters' own key-point wrapper
/// around f64 ranges has no default label formatting, so `configure_mesh` rejects it).
#[derive(Clone)]
pub(super) struct Ticked {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let f = (v - self.lo) / (self.hi - self.lo);
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// A log latency axis with 1-2-5 ticks.
pub(super) fn log_axis(
    lo: f64,
    hi: f64,
) -> plotters::coord::combinators::WithKeyPoints<plotters::coord::combinators::LogCoord<f64>> {
    log_axis_with(lo, hi, log_ticks(lo, hi))
}

/// A log latency axis `px` pixels long whose tick labels (about 60 px each) do not crowd: 1-2-5
/// ticks, else 1-5, else whole decades, else every k-th decade.
pub(super) fn log_axis_fit(
    lo: f64,
    hi: f64,
    px: u32,
) -> plotters::coord::combinators::WithKeyPoints<plotters::coord::combinators::LogCoord<f64>> {
    log_axis_with(lo, hi, fit_ticks(log_ticks(lo, hi), px))
}

/// `ticks` (1-2-5 or decades) thinned until each has about 60 px.
pub(super) fn fit_ticks(ticks: Vec<f64>, px: u32) -> Vec<f64> {
    let room = (px / 60).max(2) as usize;
    if ticks.len() <= room {
        return ticks;
    }
    // The mantissa of a tick: 1, 2 or 5.
    let m = |v: &f64| (v / 10f64.powf(v.log10().floor())).round();
    let no_twos: Vec<f64> = ticks.iter().copied().filter(|v| m(v) != 2.0).collect();
    if no_twos.len() <= room {
        return no_twos;
    }
    let decades: Vec<f64> = ticks.iter().copied().filter(|v| m(v) == 1.0).collect();
    let k = decades.len().div_ceil(room).max(1);
    decades.into_iter().step_by(k).collect()
}

fn log_axis_with(
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
) -> plotters::coord::combinators::WithKeyPoints<plotters::coord::combinators::LogCoord<f64>> {
    use plotters::coord::combinators::{BindKeyPoints, IntoLogRange};
    (lo..hi).log_scale().with_key_points(ticks)
}

/// Quantile q on the "nines" scale: 0.9 -> 1, 0.99 -> 2, 0.999 -> 3.
pub(super) fn nines(q: f64) -> f64 {
    -(1.0 - q).max(1e-9).log10()
}

pub(super) fn fmt_nines(y: f64) -> String {
    let q = 1.0 - 10f64.powf(-y);
    let pct = q * 100.0;
    if y < 0.05 {
        "0%".into()
    } else if (pct - pct.round()).abs() < 1e-6 {
        format!("{pct:.0}%")
    } else {
        let digits = (y.round() as usize).saturating_sub(2).min(6);
        format!("{pct:.digits$}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14: a subnormal p99 (5e-324) made the axis span 300 decades of ticks and asked for
    /// 4 GiB. Every degenerate input gives a bounded axis with a handful of ticks.
    #[test]
    fn degenerate_values_give_bounded_axes() {
        let bad = [
            5e-324,
            0.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e308,
            f64::MAX,
            f64::MIN_POSITIVE,
        ];
        for a in bad {
            for b in bad.iter().copied().chain([1.0, 250.0]) {
                let (lo, hi) = log_range([a, b].into_iter(), 2.5, 1.6);
                assert!(
                    lo.is_finite() && hi.is_finite() && 0.0 < lo && lo < hi,
                    "{a} {b}"
                );
                assert!(hi / lo <= 1e18, "{a} {b}: {lo}..{hi}");
                assert!(log_ticks(lo, hi).len() <= 40, "{a} {b}");
            }
            assert!(log_ticks(a, 1e308).len() <= 70, "{a}");
            assert!(log_ticks(a, a).len() <= 3, "{a}");
            let m = linear_max(a);
            assert!(m.is_finite() && (1e-9..=1e15).contains(&m), "{a}: {m}");
        }
    }

    #[test]
    fn ticks_and_labels() {
        assert_eq!(log_ticks(15.0, 900.0), [20.0, 50.0, 100.0, 200.0, 500.0]);
        assert_eq!(log_ticks(1.0, 1e6), [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6]);
        assert_eq!(fmt_ms(12345.0), "12,345");
        assert_eq!(
            log_range([29.0, 145.0].into_iter(), 1.4, 1.6),
            (20.0, 500.0)
        );
        assert_eq!(nice_below(0.07), 0.05);
        assert_eq!(nice_above(2100.0), 5000.0);
        assert_eq!(fmt_ms(0.5), "0.5");
        assert_eq!(fmt_usd(1500.0), "$1,500");
        assert_eq!(fmt_usd(0.0), "$0");
        assert_eq!(fmt_usd(f64::NAN), "$?");
        assert_eq!(fmt_ms(0.001_000_000_000_000_2), "0.001");
        assert_eq!(fmt_ms(0.05), "0.05");
        // Degenerate ticks (a zero axis, a subnormal p99) are labelled, never a panic.
        assert_eq!(fmt_ms(0.0), "0");
        assert_eq!(fmt_ms(5e-324), "0.000000000000");
        assert_eq!(fmt_ms(f64::NAN), "?");
        assert_eq!(fmt_nines(2.0), "99%");
        assert_eq!(fmt_nines(3.0), "99.9%");
        assert_eq!(fmt_nines(nines(0.5)), "50%");
    }

    #[test]
    fn ticks_are_thinned_to_the_axis_length() {
        let t = log_ticks(20.0, 50_000.0);
        assert_eq!(t.len(), 11);
        assert_eq!(fit_ticks(t.clone(), 2000), t);
        let thin = fit_ticks(t.clone(), 450);
        assert_eq!(
            thin,
            [50.0, 100.0, 500.0, 1000.0, 5000.0, 10_000.0, 50_000.0]
        );
        assert_eq!(fit_ticks(t.clone(), 250), [100.0, 1000.0, 10_000.0]);
        let wide = fit_ticks(log_ticks(1e-6, 1e10), 120);
        assert_eq!(wide.len(), 2);
        assert!((wide[1] / wide[0] - 1e9).abs() < 1.0, "{wide:?}");
    }

    /// Issue 22: an error rate of 0.34% was printed as "0%".
    #[test]
    fn percentages_keep_enough_digits() {
        assert_eq!(fmt_percent(0.0034), "0.34%");
        assert_eq!(fmt_percent(0.0), "0%");
        assert_eq!(fmt_percent(1.0), "100%");
        assert_eq!(fmt_percent(0.55), "55%");
        assert_eq!(fmt_percent(0.041), "4.1%");
        assert_eq!(fmt_percent(0.000_012), "0.0012%");
        assert_eq!(fmt_percent(0.001), "0.10%");
        assert_eq!(fmt_percent(0.9996), "99.96%");
        assert_eq!(fmt_percent(0.099_96), "10.0%");
        for r in [
            1e-12,
            3e-7,
            0.004_99,
            0.049_99,
            0.5,
            0.999_999,
            0.999_999_99,
        ] {
            let s = fmt_percent(r);
            assert!(s != "0%" && s != "100%", "{r}: {s}");
            let shown: f64 = s.trim_end_matches('%').parse().expect("a number");
            assert!((shown / 100.0 - r).abs() <= r * 0.05 + 1e-9, "{r}: {s}");
        }
    }
}
