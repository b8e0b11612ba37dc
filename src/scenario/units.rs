//! Durations with units, as written in scenario files: `"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"1d"`.

use crate::engine::SimDuration;

/// Where the unit of the first part of `t` starts (an exponent, `1e3ms`, is part of the number).
fn unit_start(t: &str) -> Option<usize> {
    let is_unit = |c: char| c.is_alphabetic() || c == 'µ';
    let i = t.find(is_unit)?;
    let after = &t[i + 1..];
    if t[i..].starts_with(['e', 'E'])
        && after.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
    {
        Some(i + 1 + after.find(is_unit)?)
    } else {
        Some(i)
    }
}

/// `"11h30m"` as `("11h", "30m")`: a part, then the rest starting with a digit; `None` for a
/// single part.
fn compound(t: &str) -> Option<(&str, &str)> {
    let u = unit_start(t)?;
    let rest = t[u..].find(|c: char| c.is_ascii_digit())? + u;
    Some((&t[..rest], &t[rest..]))
}

/// The unit of the first part of a duration (`"30m15s"`: `"m"`).
fn unit_of(t: &str) -> &str {
    let Some(u) = unit_start(t) else { return "" };
    let end = t[u..]
        .find(|c: char| c.is_ascii_digit())
        .map_or(t.len(), |e| e + u);
    &t[u..end]
}

/// Units from the smallest: a compound duration's parts must fall in rank.
fn unit_rank(unit: &str) -> usize {
    match unit {
        "ns" => 0,
        "us" | "µs" => 1,
        "ms" => 2,
        "s" => 3,
        "m" | "min" => 4,
        "h" => 5,
        "d" => 6,
        _ => 7,
    }
}

/// Parse a duration such as `"1.5s"` or `"250ms"`. Units: ns, us (or µs), ms, s, m, h, d.
/// A bare `"0"` is accepted; any other number needs a unit, so `"5"` is never silently seconds.
/// Parts add up, largest unit first: `"11h30m"`, `"1d2h"`, `"1m30s"` (times of day in stages).
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    let t = text.trim();
    if let Some((head, rest)) = compound(t) {
        let (a, b) = (parse_duration(head)?, parse_duration(rest)?);
        let (ua, ub) = (unit_of(head), unit_of(rest));
        if unit_rank(ua) <= unit_rank(ub) {
            return Err(format!(
                "`{text}`: the parts of a duration go from the largest unit to the smallest, each once (e.g. \"1h30m\")"
            ));
        }
        return Ok(SimDuration::from_nanos(
            a.as_nanos().saturating_add(b.as_nanos()),
        ));
    }
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
    fn compound_durations_add_their_parts_largest_unit_first() {
        let d = |t: &str| parse_duration(t).map(|d| d.as_nanos());
        assert_eq!(d("11h30m"), Ok(41_400 * 1_000_000_000));
        assert_eq!(d("1d2h3m4s"), Ok(93_784 * 1_000_000_000));
        assert_eq!(d("1m0.5s"), Ok(60_500_000_000));
        assert_eq!(d("1e3ms"), Ok(1_000_000_000));
        assert!(d("30m1h").unwrap_err().contains("largest unit"));
        assert!(d("1h1h").unwrap_err().contains("largest unit"));
        assert!(d("1h30").is_err());
        assert!(d("1h-5m").is_err());
    }

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
