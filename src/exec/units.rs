//! Parsers for the `jail` flags that take sizes, core counts and CPU lists. They return messages
//! instead of panicking, because their input is whatever a user typed.

/// Parse a byte count: a plain number of bytes or a number with a binary suffix (`K`, `M`, `G`,
/// `T`, optionally followed by `B` or `iB`, any case): `512M` and `512MiB` are both 512 x 2^20.
/// Binary because the platform's "512 MB" dynos have 512 MiB cgroup limits.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => {
            return Err(format!(
                "`{text}` has an unknown unit `{other}` (use a number of bytes or K, M, G, T: 512M, 1G)"
            ));
        }
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a size (expected e.g. 512M or 1G)"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("`{text}` is too large"));
    }
    let bytes = bytes.round() as u64;
    if bytes == 0 {
        return Err(format!("`{text}` is zero; a memory limit must be positive"));
    }
    Ok(bytes)
}

/// A byte count for messages, in the largest binary unit that keeps it readable: `64 MiB`,
/// `1.5 GiB`, `600 KiB`, `1 B`.
pub fn format_bytes(b: u64) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        let v = b as f64 / (1u64 << shift) as f64;
        if v >= 1.0 {
            let text = format!("{v:.1}");
            return format!("{} {unit}", text.trim_end_matches(".0"));
        }
    }
    format!("{b} B")
}

/// Parse a CPU quota in cores (`0.5`, `2`). At least 0.01 core, because the kernel's smallest
/// quota is 1 ms per 100 ms period.
pub fn parse_cores(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of cores (e.g. 0.5 or 2)"))?;
    if !v.is_finite() || v < 0.01 {
        return Err(format!(
            "`{text}`: the CPU quota must be at least 0.01 core"
        ));
    }
    if v > 4096.0 {
        return Err(format!("`{text}`: the CPU quota is implausibly large"));
    }
    Ok(v)
}

/// Parse a cgroup v1 CPU share count (1024 = one share); the kernel accepts 2 to 262144.
pub fn parse_shares(text: &str) -> Result<u64, String> {
    let v: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number of CPU shares (1024 = one share)"))?;
    if !(2..=262_144).contains(&v) {
        return Err(format!("`{text}`: CPU shares must be between 2 and 262144"));
    }
    Ok(v)
}

/// Parse a pids limit. At least 2: the dyno's init and its command.
pub fn parse_pids(text: &str) -> Result<u64, String> {
    let v: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number of processes"))?;
    if v < 2 {
        return Err(format!(
            "`{text}`: the pids limit must be at least 2 (the dyno's init and its command)"
        ));
    }
    Ok(v)
}

/// Check a CPU list in the kernel's format (`0`, `0-1`, `0,2-3`) and return it normalised
/// (no spaces). Whether the CPUs exist is left to the kernel, which names the failing write.
pub fn parse_cpuset(text: &str) -> Result<String, String> {
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bad = || format!("`{text}` is not a CPU list (expected e.g. 0, 0-1 or 0,2-3)");
    if t.is_empty() {
        return Err(bad());
    }
    for part in t.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: u32 = a.parse().map_err(|_| bad())?;
        let b: u32 = b.parse().map_err(|_| bad())?;
        if a > b || b > 8191 {
            return Err(bad());
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("512M"), Ok(512 << 20));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("1gib"), Ok(1 << 30));
        assert_eq!(parse_bytes("1.5K"), Ok(1536));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("12X").is_err());
        assert!(parse_bytes("M").is_err());
        assert!(parse_bytes("-1M").is_err());
        assert!(parse_bytes("99999999999T").is_err());
    }

    #[test]
    fn formats_bytes() {
        assert_eq!(format_bytes(64 << 20), "64 MiB");
        assert_eq!(format_bytes(3 << 29), "1.5 GiB");
        assert_eq!(format_bytes(600 << 10), "600 KiB");
        assert_eq!(format_bytes(1), "1 B");
    }

    #[test]
    fn cores_shares_pids() {
        assert_eq!(parse_cores("0.5"), Ok(0.5));
        assert!(parse_cores("0").is_err());
        assert!(parse_cores("nan").is_err());
        assert!(parse_cores("x").is_err());
        assert_eq!(parse_shares("512"), Ok(512));
        assert!(parse_shares("1").is_err());
        assert!(parse_shares("-5").is_err());
        assert_eq!(parse_pids("64"), Ok(64));
        assert!(parse_pids("1").is_err());
    }

    #[test]
    fn cpusets() {
        assert_eq!(parse_cpuset("0"), Ok("0".into()));
        assert_eq!(parse_cpuset("0-1, 3"), Ok("0-1,3".into()));
        assert!(parse_cpuset("").is_err());
        assert!(parse_cpuset("1-0").is_err());
        assert!(parse_cpuset("a").is_err());
        assert!(parse_cpuset("0,,1").is_err());
    }
}
