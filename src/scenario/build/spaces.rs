//! `[[space]]`: Private, Shield and Fir spaces, their regions and trusted IP ranges.

use super::Ctx;
use super::values::{Choice, Named};
use crate::model::{Size, SpaceKind, SpaceSpec, Tier};
use crate::scenario::error::{KeyPath, ScenarioError, did_you_mean};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as [[space]] name = \"prod\""
)]
pub struct RawSpace {
    pub name: String,
    /// `private`, `shield` or `fir`.
    pub kind: Choice<SpaceKind>,
    pub region: String,
    /// CIDR ranges allowed on the space's ingress.
    pub trusted_ips: Option<Vec<String>>,
}

/// The Private Space regions (heroku-dynos.md section 8).
const SPACE_REGIONS: [&str; 10] = [
    "dublin",
    "frankfurt",
    "london",
    "montreal",
    "mumbai",
    "oregon",
    "singapore",
    "sydney",
    "tokyo",
    "virginia",
];

impl Named for SpaceKind {
    const KEYS: &'static [&'static str] = &["private", "shield", "fir"];
    const ALL: &'static [Self] = &[SpaceKind::Private, SpaceKind::Shield, SpaceKind::Fir];
}

/// `[[space]]` tables.
pub(super) fn build_spaces(
    ctx: &Ctx<'_>,
    raw: &[RawSpace],
) -> Result<Vec<SpaceSpec>, ScenarioError> {
    let mut out: Vec<SpaceSpec> = Vec::new();
    for (i, sp) in raw.iter().enumerate() {
        let p = KeyPath::root().key("space").index(i);
        if sp.name.trim().is_empty() {
            return Err(ctx.err(&p.key("name"), "the space name must not be empty"));
        }
        if out.iter().any(|o| o.name == sp.name) {
            return Err(ctx.err(
                &p.key("name"),
                format!("duplicate space name `{}`", sp.name),
            ));
        }
        if !SPACE_REGIONS.contains(&sp.region.as_str()) {
            let hint = did_you_mean(&sp.region, SPACE_REGIONS.iter().copied())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(ctx.err(
                &p.key("region"),
                format!(
                    "unknown space region `{}`{hint}; spaces run in: {}",
                    sp.region,
                    SPACE_REGIONS.join(", ")
                ),
            ));
        }
        if let Some(ranges) = &sp.trusted_ips {
            for (j, r) in ranges.iter().enumerate() {
                if let Err(m) = parse_cidr(r) {
                    return Err(ctx.err(&p.key("trusted_ips").index(j), m));
                }
            }
        }
        out.push(SpaceSpec {
            name: sp.name.clone(),
            kind: sp.kind.0,
            region: sp.region.clone(),
            trusted_ips: sp.trusted_ips.clone(),
        });
    }
    Ok(out)
}

/// Check `a.b.c.d/n` or an IPv6 CIDR.
pub(super) fn parse_cidr(text: &str) -> Result<(), String> {
    let (addr, len) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` is not a CIDR range such as \"203.0.113.0/24\""))?;
    let ip: std::net::IpAddr = addr
        .parse()
        .map_err(|_| format!("`{addr}` in `{text}` is not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match len.parse::<u32>() {
        Ok(n) if n <= max => Ok(()),
        _ => Err(format!(
            "`{len}` in `{text}` is not a prefix length between 0 and {max}"
        )),
    }
}

/// Sizes must match where the app runs: private-* in private spaces, shield-* in shield spaces,
/// dyno-* in Fir spaces, and the Common Runtime tiers outside spaces (Heroku dyno tiers).
pub(super) fn check_size_fits_space(
    ctx: &Ctx<'_>,
    path: &KeyPath,
    size: &Size,
    space: Option<&SpaceSpec>,
    app: &str,
) -> Result<(), ScenarioError> {
    let needs = match size.tier {
        Tier::Private => Some(SpaceKind::Private),
        Tier::Shield => Some(SpaceKind::Shield),
        Tier::Fir => Some(SpaceKind::Fir),
        _ => None,
    };
    match (needs, space) {
        (None, None) => Ok(()),
        (Some(k), Some(sp)) if sp.kind == k => Ok(()),
        (None, Some(sp)) => Err(ctx.err(
            path,
            format!(
                "{} dynos run on the Common Runtime, but app `{app}` is in {} space `{}`; use {} sizes there",
                size.display,
                sp.kind,
                sp.name,
                space_sizes(sp.kind)
            ),
        )),
        (Some(k), None) => Err(ctx.err(
            path,
            format!(
                "{} dynos run only in {k} spaces; put app `{app}` in a [[space]] of kind \"{k}\" or use a Common Runtime size",
                size.display
            ),
        )),
        (Some(k), Some(sp)) => Err(ctx.err(
            path,
            format!(
                "{} dynos run only in {k} spaces, but `{}` is a {} space; use {} sizes there",
                size.display,
                sp.name,
                sp.kind,
                space_sizes(sp.kind)
            ),
        )),
    }
}

/// The sizes that run in a space of this kind.
fn space_sizes(kind: SpaceKind) -> &'static str {
    match kind {
        SpaceKind::Private => "private-*",
        SpaceKind::Shield => "shield-*",
        SpaceKind::Fir => "dyno-* (Fir)",
    }
}
