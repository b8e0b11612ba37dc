//! `dynosim calibrate`: measure this machine one term at a time (interference.md section 5.1)
//! and write a calibration file that `dynosim validate --calibration FILE` uses.
//!
//! Terms: the spin's speed and its per-request accuracy and jitter; the fixed cost of the
//! request path (loopback round trip through the app); CPU weights (two saturated dynos of
//! 1024 and 2048 shares on one CPU); a CFS quota (a 30 ms request under 0.2 core); contention
//! (the spin's work rate beside a busy co-runner on the same CPU and on another one).

use super::app::BurnConfig;
use super::loadgen::{self, Target};
use super::real::PORT;
use super::spin::{self, mono_ns};
use crate::exec::{Dyno, JailConfig, Limits, Output};
use crate::stats::quantile_of;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The calibration file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// The machine it was measured on.
    pub machine: Machine,
    /// The CPU spin.
    pub spin: Spin,
    /// The request path's fixed cost.
    pub network: Network,
    /// CPU weights.
    pub weights: Weights,
    /// CFS quota.
    pub quota: Quota,
    /// Contention between co-runners.
    pub contention: Contention,
}

/// The machine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    /// `uname -r`.
    pub kernel: String,
    /// CPUs available.
    pub cpus: u32,
    /// `V1` or `V2`.
    pub cgroup: String,
    /// Steal as a fraction of all CPU time while calibrating.
    pub steal_fraction: f64,
    /// When (Unix seconds).
    pub written_unix_s: u64,
}

/// The spin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spin {
    /// Iterations per CPU-second on an idle CPU (median of the repeats).
    pub iters_per_cpu_s: f64,
    /// Relative spread (max - min) / median of the repeats.
    pub speed_spread: f64,
    /// Mean of CPU used / requested, for 20 ms requests.
    pub accuracy: f64,
    /// Standard deviation of ln(CPU used / requested) per request: the per-request jitter.
    pub jitter_sigma: f64,
}

/// The fixed cost of a request: generator -> loopback -> app -> back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Median round trip, ms.
    pub rtt_p50_ms: f64,
    /// 99th percentile, ms.
    pub rtt_p99_ms: f64,
}

/// CPU weights.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// CPU of a 2048-share dyno over a 1024-share one, both saturated on one CPU (model: 2).
    pub ratio_2_to_1: f64,
}

/// CFS quota.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// The quota in cores and the request's CPU, ms.
    pub cores: f64,
    /// CPU per request, ms.
    pub request_ms: f64,
    /// Measured latency quantiles of isolated requests, ms.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// The closed form C + (ceil(C/Q) - 1)(P - Q) for a request starting a period, ms.
    pub closed_form_ms: f64,
    /// The model's CFS mode for a request arriving at a uniformly random phase of the period
    /// with a full budget: median and 99th percentile, ms.
    pub model_p50_ms: f64,
    /// 99th percentile.
    pub model_p99_ms: f64,
    /// Periods throttled per request.
    pub throttled_per_request: f64,
}

/// Contention.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Contention {
    /// Work-rate loss of the spin time-sharing its CPU with a busy co-runner (per CPU-second).
    pub same_cpu_slowdown: f64,
    /// Work-rate loss with a busy co-runner on another CPU.
    pub other_cpu_slowdown: f64,
    /// The model's `contention` per busy co-runner core that reproduces these (used by
    /// validate for the simulated shared instance).
    pub coefficient: f64,
}

impl Calibration {
    /// Read a calibration file.
    pub fn load(path: &Path) -> Result<Calibration, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message().trim()))
    }

    /// The file's text.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!(
            "# Written by `dynosim calibrate` (docs/validation.md). Used by\n# `dynosim validate --calibration FILE`.\n\n{body}"
        )
    }
}

struct Slug(PathBuf);

impl Drop for Slug {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn slug() -> Result<Slug, String> {
    super::real::sweep_stale_slugs("dynosim-calibrate-");
    let dir = std::env::temp_dir().join(format!("dynosim-calibrate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let me = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    std::fs::copy(&me, dir.join("dynosim")).map_err(|e| format!("copying the program: {e}"))?;
    Ok(Slug(dir))
}

fn jail(name: &str, args: &[String], slug: &Path, limits: Limits) -> JailConfig {
    let mut argv: Vec<OsString> = vec!["/app/dynosim".into()];
    argv.extend(args.iter().map(OsString::from));
    let mut c = JailConfig::new(name, argv);
    c.slug = Some(slug.to_path_buf());
    c.limits = limits;
    c.grace = Duration::from_millis(200);
    c.stdin = Output::Null;
    c.stdout = Output::Null;
    c.stderr = Output::Null;
    c
}

fn burner(name: &str, slug: &Path, cpus: &str, shares: u64, secs: f64) -> JailConfig {
    let cfg = BurnConfig {
        t0_ns: mono_ns(),
        threads: 1,
        initially_on: true,
        flips_ns: Vec::new(),
        end_ns: (secs * 1e9) as u64,
    };
    jail(
        name,
        &[
            "burn".into(),
            "--t0-ns".into(),
            cfg.t0_ns.to_string(),
            "--end-ns".into(),
            cfg.end_ns.to_string(),
            "--threads".into(),
            "1".into(),
            "--initially".into(),
            "on".into(),
        ],
        slug,
        Limits {
            cpu_shares: Some(shares),
            cpuset: Some(cpus.to_string()),
            memory_bytes: Some(256 << 20),
            pids: Some(64),
            ..Limits::default()
        },
    )
}

fn app(name: &str, slug: &Path, cpus: &str, iters: f64, quota: Option<f64>) -> JailConfig {
    jail(
        name,
        &[
            "app".into(),
            "--workers".into(),
            "1".into(),
            "--iters-per-s".into(),
            format!("{iters:.0}"),
        ],
        slug,
        Limits {
            cpu_shares: Some(1024),
            cpu_quota: quota,
            cpuset: Some(cpus.to_string()),
            memory_bytes: Some(512 << 20),
            pids: Some(256),
            ..Limits::default()
        },
    )
}

fn on_cpu<T: Send + 'static>(cpu: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        let _ = spin::pin_thread(&[cpu]);
        f()
    })
    .join()
    .unwrap_or_else(|_| std::process::abort())
}

/// Measure this machine. `say` reports each step. Needs root (it starts dynos).
pub fn calibrate(mut say: impl FnMut(&str)) -> Result<Calibration, String> {
    let cpus = spin::allowed_cpus();
    let (gen_cpu, cpu) = match cpus.as_slice() {
        [] => return Err("no CPU available".into()),
        [only] => (*only, *only),
        [first, .., last] => (*first, *last),
    };
    let cpu_s = cpu.to_string();
    let steal0 = super::real::Steal::snapshot();

    // 1. Spin speed: repeats on an idle CPU.
    let mut speeds: Vec<f64> = (0..5)
        .map(|_| on_cpu(cpu, || spin::measure_speed(Duration::from_millis(200))))
        .collect();
    let iters = quantile_of(&mut speeds, 0.5);
    let spread = (speeds[speeds.len() - 1] - speeds[0]) / iters;
    say(&format!(
        "spin: {iters:.4e} iterations per CPU-second (spread {:.2}%)",
        spread * 100.0
    ));
    // 2. Accuracy and jitter of 20 ms requests.
    let ratios: Vec<f64> = on_cpu(cpu, move || {
        (0..100)
            .map(|_| spin::burn_work(20_000_000, iters) as f64 / 20e6)
            .collect()
    });
    let accuracy = ratios.iter().sum::<f64>() / ratios.len() as f64;
    let logs: Vec<f64> = ratios.iter().map(|r| r.ln()).collect();
    let ml = logs.iter().sum::<f64>() / logs.len() as f64;
    let jitter = (logs.iter().map(|l| (l - ml).powi(2)).sum::<f64>() / logs.len() as f64).sqrt();
    say(&format!(
        "20 ms requests: CPU used / requested {accuracy:.4}, jitter sigma {jitter:.4}"
    ));

    let slug = slug()?;
    // 3. The request path: an idle app dyno, sequential no-work requests.
    let d = Dyno::start(&app("web.1", &slug.0, &cpu_s, iters, None))
        .map_err(|e| format!("starting the app: {e}"))?;
    let t = Target::for_pid(d.pid(), PORT).map_err(|e| e.to_string())?;
    loadgen::wait_ready(&t, Duration::from_secs(20))?;
    let probe = on_cpu(gen_cpu, move || loadgen::probe(&t, 500))?;
    let mut rtt: Vec<f64> = probe.iter().map(|n| *n as f64 * 1e-6).collect();
    let network = Network {
        rtt_p50_ms: quantile_of(&mut rtt, 0.5),
        rtt_p99_ms: quantile_of(&mut rtt, 0.99),
    };
    say(&format!(
        "request path: round trip p50 {:.3} ms, p99 {:.3} ms",
        network.rtt_p50_ms, network.rtt_p99_ms
    ));
    drop(d);

    // 4. Weights: 1024 vs 2048 shares, both saturated on one CPU.
    let a = Dyno::start(&burner("w.1", &slug.0, &cpu_s, 1024, 3.0)).map_err(|e| e.to_string())?;
    let b = Dyno::start(&burner("w.2", &slug.0, &cpu_s, 2048, 3.0)).map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(300));
    let (a0, b0) = (cpu_of(&a), cpu_of(&b));
    std::thread::sleep(Duration::from_secs(2));
    let ratio = (cpu_of(&b) - b0) / (cpu_of(&a) - a0).max(1e-9);
    drop((a, b));
    say(&format!(
        "weights: 2048 / 1024 shares got {ratio:.3} (model 2)"
    ));

    // 5. Quota: 0.2 core, isolated 30 ms requests.
    let q = 0.2;
    let c_ms = 30.0;
    let d = Dyno::start(&app("web.1", &slug.0, &cpu_s, iters, Some(q)))
        .map_err(|e| format!("starting the app: {e}"))?;
    let t = Target::for_pid(d.pid(), PORT).map_err(|e| e.to_string())?;
    loadgen::wait_ready(&t, Duration::from_secs(20))?;
    let th0 = d.stats().map(|s| s.cpu_throttled_periods).unwrap_or(0);
    let n = 30;
    let lat = on_cpu(gen_cpu, move || isolated(&t, n, (c_ms * 1e6) as u64, 230))?;
    let th1 = d.stats().map(|s| s.cpu_throttled_periods).unwrap_or(0);
    drop(d);
    let mut lat_ms: Vec<f64> = lat.iter().map(|n| *n as f64 * 1e-6).collect();
    if lat_ms.is_empty() {
        return Err("no request of the quota test was answered".into());
    }
    let period_ms = 100.0;
    let quota_ms = q * period_ms;
    let mut model: Vec<f64> = (0..1000)
        .map(|i| cfs_latency(c_ms, quota_ms, period_ms, (f64::from(i) + 0.5) / 10.0))
        .collect();
    let quota = Quota {
        cores: q,
        request_ms: c_ms,
        p50_ms: quantile_of(&mut lat_ms, 0.5),
        p99_ms: quantile_of(&mut lat_ms, 0.99),
        closed_form_ms: c_ms + ((c_ms / quota_ms).ceil() - 1.0) * (period_ms - quota_ms),
        model_p50_ms: quantile_of(&mut model.clone(), 0.5),
        model_p99_ms: quantile_of(&mut model, 0.99),
        throttled_per_request: (th1 - th0) as f64 / f64::from(n),
    };
    say(&format!(
        "quota {q} core, {c_ms} ms requests: p50 {:.1} ms, p99 {:.1} ms (model, random phase: {:.1} / {:.1} ms; closed form from a period start {:.0} ms)",
        quota.p50_ms, quota.p99_ms, quota.model_p50_ms, quota.model_p99_ms, quota.closed_form_ms
    ));

    // 6. Contention: the spin's work rate beside a busy co-runner.
    let same = {
        let b =
            Dyno::start(&burner("c.1", &slug.0, &cpu_s, 1024, 3.0)).map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(100));
        let s = on_cpu(cpu, || spin::measure_speed(Duration::from_millis(500)));
        drop(b);
        s
    };
    let other = if gen_cpu != cpu {
        let b = Dyno::start(&burner("c.2", &slug.0, &gen_cpu.to_string(), 1024, 3.0))
            .map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(100));
        let s = on_cpu(cpu, || spin::measure_speed(Duration::from_millis(500)));
        drop(b);
        s
    } else {
        iters
    };
    let same_slow = iters / same - 1.0;
    let other_slow = iters / other - 1.0;
    // Sharing one CPU, the co-runner holds about half of it: slowdown = 1 + c x 0.5.
    let coefficient = (same_slow / 0.5).max(0.0);
    say(&format!(
        "contention: work rate {:+.2}% beside a co-runner on the same CPU, {:+.2}% on another; coefficient {coefficient:.4}",
        -same_slow * 100.0,
        -other_slow * 100.0
    ));
    let steal = super::real::Steal::between(&steal0, &super::real::Steal::snapshot());
    Ok(Calibration {
        machine: Machine {
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            cpus: cpus.len() as u32,
            cgroup: crate::exec::cgroup::Backend::detect()
                .map(|b| format!("{:?}", b.version))
                .unwrap_or_default(),
            steal_fraction: steal.fraction("cpu"),
            written_unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        },
        spin: Spin {
            iters_per_cpu_s: iters,
            speed_spread: spread,
            accuracy,
            jitter_sigma: jitter,
        },
        network,
        weights: Weights {
            ratio_2_to_1: ratio,
        },
        quota,
        contention: Contention {
            same_cpu_slowdown: same_slow,
            other_cpu_slowdown: other_slow,
            coefficient,
        },
    })
}

/// Latency of an isolated request of `c` ms of CPU under a CFS quota of `q` ms per `p` ms,
/// arriving `phi` ms after a period boundary with a full budget (the model's CFS mode).
pub fn cfs_latency(c: f64, q: f64, p: f64, phi: f64) -> f64 {
    let (mut t, mut rem, mut budget, mut at) = (0.0, c, q, phi % p);
    for _ in 0..100_000 {
        let run = rem.min(budget).min(p - at);
        t += run;
        rem -= run;
        budget -= run;
        at += run;
        if rem <= 1e-12 {
            break;
        }
        if budget <= 1e-12 {
            t += p - at;
        }
        if budget <= 1e-12 || at >= p - 1e-12 {
            at = 0.0;
            budget = q;
        }
    }
    t
}

fn cpu_of(d: &Dyno) -> f64 {
    d.stats().map(|s| s.cpu_usage.as_secs_f64()).unwrap_or(0.0)
}

/// `n` requests of `cpu_ns` each, `gap_ms` apart (long enough for the quota to refill), one at
/// a time; their latencies.
fn isolated(t: &Target, n: u32, cpu_ns: u64, gap_ms: u64) -> Result<Vec<u64>, String> {
    use super::app::WorkRequest;
    use super::loadgen::{LoadOptions, Planned};
    let plan: Vec<Planned> = (0..n)
        .map(|i| Planned {
            at_ns: u64::from(i) * gap_ms * 1_000_000,
            dyno: 0,
            app: 0,
            work: WorkRequest {
                id: u64::from(i),
                cpu_ns,
                ..WorkRequest::default()
            },
        })
        .collect();
    let t0 = mono_ns() + 50_000_000;
    let opts = LoadOptions {
        t0_ns: t0,
        stop_ns: u64::from(n) * gap_ms * 1_000_000 + 2_000_000_000,
        cpus: Vec::new(),
        prewarm: 2,
        max_conns: 16,
    };
    let targets = [Target {
        netns: t.netns.as_ref().and_then(|f| f.try_clone().ok()),
        addr: t.addr,
    }];
    let stop = std::sync::atomic::AtomicBool::new(false);
    let out = loadgen::run(&targets, &plan, &opts, &stop)?;
    Ok(out
        .iter()
        .zip(&plan)
        .filter_map(|(o, p)| o.done_ns.map(|d| d - p.at_ns))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::cfs_latency;

    #[test]
    fn cfs_closed_form_from_a_period_start() {
        // T = C + (ceil(C/Q) - 1)(P - Q)
        assert!((cfs_latency(30.0, 20.0, 100.0, 0.0) - 110.0).abs() < 1e-9);
        assert!((cfs_latency(30.0, 50.0, 100.0, 0.0) - 30.0).abs() < 1e-9);
        assert!((cfs_latency(45.0, 30.0, 100.0, 0.0) - 115.0).abs() < 1e-9);
        // Starting 85 ms in: 15 ms run, a fresh budget, 15 ms more.
        assert!((cfs_latency(30.0, 20.0, 100.0, 85.0) - 30.0).abs() < 1e-9);
    }
}
