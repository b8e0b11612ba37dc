//! Placement rules, checked over random formations (property tests) and through scenario errors.

use dynosim::engine::SeedTree;
use dynosim::model::{AppSpec, Catalog, PlacementPolicy, PlacementSpec, ProcessSpec, place};
use proptest::prelude::*;
use std::collections::HashMap;

const SIZES: &[&str] = &[
    "eco",
    "basic",
    "standard-1x",
    "standard-2x",
    "performance-m",
    "performance-l",
    "private-s",
    "shield-m",
    "dyno-1c-0.5gb",
    "dyno-2c-8gb",
];

fn formation() -> impl Strategy<Value = Vec<(String, Vec<(usize, u32)>)>> {
    // Up to 4 apps in us or eu, each with up to 3 process types of (size index, count).
    prop::collection::vec(
        (
            prop::bool::ANY,
            prop::collection::vec((0..SIZES.len(), 0u32..12), 1..4),
        ),
        1..5,
    )
    .prop_map(|apps| {
        apps.into_iter()
            .map(|(eu, procs)| (if eu { "eu" } else { "us" }.to_string(), procs))
            .collect()
    })
}

fn build(apps: &[(String, Vec<(usize, u32)>)]) -> Vec<AppSpec> {
    let catalog = Catalog::builtin();
    apps.iter()
        .enumerate()
        .map(|(a, (region, procs))| AppSpec {
            name: format!("app{a}"),
            region: region.clone(),
            space: None,
            router: Default::default(),
            untrusted_share: 0.0,
            processes: procs
                .iter()
                .enumerate()
                .map(|(p, &(size, count))| ProcessSpec {
                    name: format!("p{p}"),
                    size: catalog.get(SIZES[size]).cloned().expect("size exists"),
                    count,
                    concurrency: 1,
                    server: dynosim::model::AppServer::single_threaded(1),
                    cpu_quota: None,
                    lifecycle: dynosim::model::ProcessLifecycle {
                        boot: dynosim::model::Dist::Constant(1.0),
                        boot_timeout: None,
                        crash_mtbf: None,
                        memory: Default::default(),
                    },
                })
                .collect(),
            workload: None,
            deploys: Vec::new(),
            preboot: false,
            crashes: Vec::new(),
            filesystem: None,
        })
        .collect()
}

fn policy(i: u8) -> PlacementPolicy {
    match i % 3 {
        0 => PlacementPolicy::Spread,
        1 => PlacementPolicy::Random,
        _ => PlacementPolicy::BinPack,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn every_placement_obeys_the_platform_rules(
        apps in formation(),
        pol in 0u8..3,
        instances in 1u32..40,
        tenant in 0.0f64..0.9,
        seed in any::<u64>(),
    ) {
        let apps = build(&apps);
        let mut spec = PlacementSpec { policy: policy(pol), ..Default::default() };
        spec.shared.instances = instances;
        spec.shared.tenant_memory = tenant;
        let mut rng = SeedTree::new(seed).stream();
        let total: usize = apps.iter().flat_map(|a| &a.processes).map(|p| p.count as usize).sum();
        let Ok(pl) = place(&apps, &[], &spec, &mut rng) else {
            // A failure must be real: the shared dynos of some region do not fit by memory.
            let free = spec.shared.instance.memory_mb - (spec.shared.instance.memory_mb as f64 * tenant).round() as u64;
            let mut need: HashMap<&str, (u64, u64)> = HashMap::new();
            for a in &apps {
                for p in a.processes.iter().filter(|p| p.size.tier.shares_host()) {
                    let e = need.entry(a.region.as_str()).or_default();
                    e.0 += p.size.ram_mb * u64::from(p.count);
                    e.1 = e.1.max(if p.count > 0 { p.size.ram_mb } else { 0 });
                }
            }
            prop_assert!(need.values().any(|(sum, biggest)| *biggest > free || *sum > free * u64::from(instances) / 2),
                "placement failed though the pool had room: {need:?} free {free}");
            return Ok(());
        };
        prop_assert_eq!(pl.of_dyno.len(), total);
        // Every dyno is on exactly one instance, and the instance lists agree with of_dyno.
        let mut seen = vec![0; total];
        for (i, inst) in pl.instances.iter().enumerate() {
            for &d in &inst.dynos {
                seen[d] += 1;
                prop_assert_eq!(pl.of_dyno[d], i);
            }
        }
        prop_assert!(seen.iter().all(|&n| n == 1));
        // Global dyno order -> (app, size).
        let mut owner = Vec::new();
        for (a, app) in apps.iter().enumerate() {
            for p in &app.processes {
                for _ in 0..p.count {
                    owner.push((a, p.size.clone()));
                }
            }
        }
        for inst in &pl.instances {
            let members: Vec<_> = inst.dynos.iter().map(|&d| &owner[d]).collect();
            if inst.shared() {
                // Shared instances hold shared tiers only, of apps in the instance's region, and
                // never more memory than the instance has.
                let mem: u64 = members.iter().map(|(_, s)| s.ram_mb).sum::<u64>() + inst.tenant_memory_mb;
                prop_assert!(mem <= inst.kind.memory_mb, "{} over memory: {mem}", inst.name);
                for (a, s) in &members {
                    prop_assert!(s.tier.shares_host());
                    prop_assert_eq!(&dynosim::model::placement::PoolKey::Shared(apps[*a].region.clone()), &inst.pool);
                }
            } else {
                // A dedicated-tier dyno has its instance to itself: one dyno, one app.
                prop_assert_eq!(members.len(), 1);
                prop_assert_eq!(inst.apps.len(), 1);
                prop_assert!(!members[0].1.tier.shares_host());
                prop_assert_eq!(inst.kind.vcpus, members[0].1.vcpus);
            }
        }
        // The same stream gives the same placement.
        let again = place(&apps, &[], &spec, &mut SeedTree::new(seed).stream());
        prop_assert_eq!(Ok(pl), again);
    }

    #[test]
    fn spread_and_binpack_do_what_they_say(n in 1u32..60, instances in 1u32..20) {
        // 15.6 GB free per default instance: 30 standard-1x (512 MB) each.
        prop_assume!(n <= 30 * instances);
        let apps = build(&[("us".into(), vec![(2, n.min(100))])]);
        let mut spec = PlacementSpec::default();
        spec.shared.instances = instances;
        spec.policy = PlacementPolicy::Spread;
        let pl = place(&apps, &[], &spec, &mut SeedTree::new(1).stream()).expect("room");
        let most = pl.instances.iter().map(|i| i.dynos.len()).max().unwrap_or(0);
        prop_assert_eq!(most as u32, n.div_ceil(instances), "spread evens out");
        spec.policy = PlacementPolicy::BinPack;
        let pl = place(&apps, &[], &spec, &mut SeedTree::new(1).stream()).expect("room");
        prop_assert_eq!(pl.instances.len() as u32, n.div_ceil(30));
    }
}

fn parse(text: &str) -> Result<dynosim::scenario::Scenario, dynosim::scenario::ScenarioError> {
    dynosim::scenario::Scenario::parse(text, "t.toml", "t", std::path::Path::new("."))
}

const BASE: &str = "duration = \"1m\"\n[[app]]\nname = \"a\"\n[[app.process]]\ntype = \"web\"\n";

#[test]
fn limits_can_be_raised_where_the_platform_allows_it() {
    let perf = |extra: &str| format!("{BASE}size = \"performance-m\"\ncount = 11\n{extra}");
    let e = parse(&perf("")).expect_err("11 > 10");
    assert!(
        e.message.contains("limit of 10") && e.message.contains("set `limit`"),
        "{e}"
    );
    assert!(parse(&perf("limit = 20\n")).is_ok());
    let e = parse(&format!("{BASE}size = \"eco\"\nlimit = 2\n")).expect_err("eco");
    assert!(e.message.contains("cannot be raised"), "{e}");
    assert_eq!(e.key.to_string(), "app[0].process[0].limit");
    let many = format!(
        "{BASE}size = \"standard-1x\"\ncount = 100\n[[app.process]]\ntype = \"worker\"\nsize = \"standard-1x\"\ncount = 5\n"
    );
    let e = parse(&many).expect_err("105 > 100");
    assert!(e.message.contains("100 per app"), "{e}");
    let raised = many.replace("name = \"a\"\n", "name = \"a\"\ndyno_limit = 200\n");
    assert!(parse(&raised).is_ok());
}

#[test]
fn a_formation_that_does_not_fit_the_pool_is_a_scenario_error() {
    let text = format!(
        "{BASE}size = \"standard-2x\"\ncount = 20\n[placement]\npolicy = \"binpack\"\ninstances = 2\ntenant_memory = 0.9\n"
    );
    let e = parse(&text).expect_err("12 of 20 fit");
    assert!(
        e.message.contains("shared pool") && e.message.contains("raise [placement] instances"),
        "{e}"
    );
    assert_eq!(e.key.to_string(), "app[0].process[0].count");
    assert_eq!(
        e.line,
        Some(
            text.lines()
                .position(|l| l.starts_with("count"))
                .map(|i| i + 1)
                .unwrap_or(0)
        )
    );
}

#[test]
fn regions_are_checked() {
    let e = parse(
        &BASE
            .replace("name = \"a\"\n", "name = \"a\"\nregion = \"tokyo\"\n")
            .replace("type = \"web\"\n", "type = \"web\"\nsize = \"basic\"\n"),
    )
    .expect_err("tokyo");
    assert!(e.message.contains("\"us\" and \"eu\""), "{e}");
}
