//! Durations with units, as written in scenario files: `"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"1d"`.

use crate::engine::SimDuration;

/// Parse a duration such as `"1.5s"` or `"250ms"`. Units: ns, us (or µs), ms, s, m, h, d.
/// A bare `"0"` is accepted; any other number needs a unit, so `"5"` is never silently seconds.
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(SimDuration::ZERO);
    }
    let split = t
        .find(|c: char| {
            !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')
        })
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: f64 = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        "d" => 86400e9,
        "" => {
            return Err(format!(
                "`{text}` has no unit; write for example \"{text}ms\" or \"{text}s\" (units: ns, us, ms, s, m, h, d)"
            ));
        }
        other => {
            return Err(format!(
                "`{text}` has an unknown unit `{other}` (units: ns, us, ms, s, m, h, d)"
            ));
        }
    };
    let value: f64 = num.parse().map_err(|_| {
        format!("`{text}` is not a duration (expected a number and a unit, e.g. \"250ms\")")
    })?;
    if !value.is_finite() {
        return Err(format!("`{text}` is not a finite duration"));
    }
    if value < 0.0 {
        return Err(format!(
            "`{text}` is negative; durations must be zero or more"
        ));
    }
    let ns = value * scale;
    if ns > 1e18 {
        return Err(format!("`{text}` is too long (at most about 31 years)"));
    }
    Ok(SimDuration::from_nanos(ns.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration("250ms").unwrap().as_nanos(), 250_000_000);
        assert_eq!(parse_duration("1.5s").unwrap().as_nanos(), 1_500_000_000);
        assert_eq!(parse_duration("5m").unwrap().as_nanos(), 300_000_000_000);
        assert_eq!(parse_duration("1h").unwrap().as_nanos(), 3_600_000_000_000);
        assert_eq!(parse_duration("1d").unwrap().as_nanos(), 86_400_000_000_000);
        assert_eq!(parse_duration("0").unwrap().as_nanos(), 0);
        assert_eq!(parse_duration("100us").unwrap().as_nanos(), 100_000);
        assert!(parse_duration("5").unwrap_err().contains("no unit"));
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("-1s").unwrap_err().contains("negative"));
        assert!(parse_duration("abc").is_err());
    }
}
