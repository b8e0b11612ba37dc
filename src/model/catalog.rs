//! The dyno size catalog: every Cedar and Fir size with the platform facts the model needs.
//!
//! The data lives in `catalog.toml` beside this file and is compiled into the binary, so a run never
//! depends on files outside the scenario. Each entry cites its source; numbers that Heroku does not
//! publish (vCPU counts behind "compute" units, for instance) are marked as assumptions with their
//! basis, because planners must know which figures are facts and which are ours.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The built-in catalog as TOML text (see `catalog.toml`).
pub const CATALOG_TOML: &str = include_str!("catalog.toml");

/// Platform generation a size belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Generation {
    /// The classic Heroku runtime (Common Runtime and Cedar Private/Shield Spaces).
    Cedar,
    /// The Kubernetes-based generation, only in Fir spaces.
    Fir,
}

/// Dyno tier: decides host sharing, networking, lifecycle features and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Eco,
    Basic,
    Standard,
    Performance,
    Private,
    Shield,
    Fir,
}

impl Tier {
    /// Lower-case name as used in scenario files and CSV columns.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Eco => "eco",
            Tier::Basic => "basic",
            Tier::Standard => "standard",
            Tier::Performance => "performance",
            Tier::Private => "private",
            Tier::Shield => "shield",
            Tier::Fir => "fir",
        }
    }

    /// Whether dynos of this tier share their host with other tenants (the source of noisy
    /// neighbours): "Eco, Basic and Standard dynos ... share an underlying compute instance".
    pub fn shares_host(self) -> bool {
        matches!(self, Tier::Eco | Tier::Basic | Tier::Standard)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One dyno size, as listed in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Size {
    /// Lower-case name used in scenarios, e.g. `standard-1x`, `dyno-2c-8gb`.
    pub name: String,
    /// Name as Heroku writes it, e.g. `Standard-1X`.
    pub display: String,
    pub generation: Generation,
    pub tier: Tier,
    /// Memory quota in MiB (the cgroup limit).
    pub ram_mb: u64,
    /// CPU weight on a shared host (Heroku's "CPU share": 1x -> 1, 2x -> 2); for dedicated sizes
    /// the weight is irrelevant and set to the vCPU count.
    pub cpu_share: f64,
    /// Cores the dyno can run on at once on an idle host, each at reference speed 1.0.
    pub vcpus: u32,
    /// Whether `vcpus` is published by Heroku (`false` means it is our assumption).
    pub vcpus_published: bool,
    /// Why `vcpus` has this value: the fact or inference it rests on.
    pub vcpus_basis: String,
    /// Heroku's published "compute" figure, for reference only (unit undefined by Heroku).
    pub compute: String,
    /// Whether the dyno gets a host with no other tenant's dynos.
    pub dedicated: bool,
    /// List price in USD per month (Heroku CLI `ps:type` table).
    pub price_usd_month: f64,
    /// R15 restart threshold as a multiple of the RAM quota.
    pub r15_factor: f64,
    /// Whether web dynos of this size sleep after 30 minutes without traffic.
    pub sleeps: bool,
    /// Whether crash restarts follow the Common Runtime backoff schedule.
    pub crash_backoff: bool,
    /// Whether preboot deploys are available.
    pub preboot: bool,
    /// Whether deploys roll (a quarter of the dynos at a time).
    pub rolling_deploy: bool,
    /// Default maximum dynos per process type.
    pub max_per_process: u32,
    /// Maximum processes/threads inside the dyno (`ulimit -u`).
    pub process_limit: u32,
    /// Source tags for the figures, e.g. `[dyno-types 2024] [cli]`.
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    size: Vec<Size>,
}

/// All known sizes, in catalog order.
#[derive(Debug, Clone)]
pub struct Catalog {
    sizes: Vec<Size>,
}

impl Catalog {
    /// The catalog compiled into dynosim.
    pub fn builtin() -> Catalog {
        // The embedded file is checked by a unit test, so a parse failure here is a build defect.
        let file: CatalogFile =
            toml::from_str(CATALOG_TOML).expect("built-in catalog.toml is valid (unit-tested)");
        Catalog { sizes: file.size }
    }

    /// Every size in catalog order.
    pub fn sizes(&self) -> &[Size] {
        &self.sizes
    }

    /// Look a size up by its lower-case name.
    pub fn get(&self, name: &str) -> Option<&Size> {
        self.sizes.iter().find(|s| s.name == name)
    }

    /// Replace or add a size (scenario overrides).
    pub fn upsert(&mut self, size: Size) {
        match self.sizes.iter_mut().find(|s| s.name == size.name) {
            Some(slot) => *slot = size,
            None => self.sizes.push(size),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_parses_and_is_consistent() {
        let c = Catalog::builtin();
        assert_eq!(c.sizes().len(), 38);
        let mut names = std::collections::HashSet::new();
        for s in c.sizes() {
            assert!(names.insert(s.name.as_str()), "duplicate {}", s.name);
            assert_eq!(s.name, s.name.to_lowercase());
            assert!(
                s.vcpus >= 1 && s.ram_mb >= 512 && s.price_usd_month > 0.0,
                "{s:?}"
            );
            assert_eq!(s.dedicated, !s.tier.shares_host(), "{}", s.name);
            assert!([1.0, 1.2, 2.0].contains(&s.r15_factor), "{}", s.name);
            assert_eq!(s.sleeps, s.tier == Tier::Eco);
            assert_eq!(s.generation == Generation::Fir, s.tier == Tier::Fir);
            if s.generation == Generation::Fir {
                // dyno-<vcpus>c-<ram>gb: the name is the published shape.
                let vcpus: u32 = s.name["dyno-".len()..s.name.find('c').unwrap_or(0)]
                    .parse()
                    .unwrap_or(0);
                assert_eq!(vcpus, s.vcpus, "{}", s.name);
                assert!(s.vcpus_published);
            }
        }
        let std1x = c.get("standard-1x").expect("standard-1x");
        assert_eq!((std1x.ram_mb, std1x.price_usd_month), (512, 25.0));
        assert_eq!(c.get("performance-l-ram").map(|s| s.r15_factor), Some(1.2));
        assert_eq!(c.get("private-m").map(|s| s.r15_factor), Some(1.0));
    }
}
