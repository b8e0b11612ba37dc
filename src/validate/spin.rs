//! A calibrated CPU spin, clocks and CPU pinning.
//!
//! A request's CPU demand is *work*: a number of iterations of a register-only dependency chain,
//! sized so that it takes the requested CPU time on an idle core of this machine
//! (`iterations_per_cpu_s`, measured with `CLOCK_THREAD_CPUTIME_ID`). Work, not a CPU-time
//! target, so that whatever slows a core down (co-runners' cache pressure, a slower host) makes
//! the request take more CPU time, as the model's speed factor does. [`burn_cpu_time`] is the
//! other mode: spin until the thread has used a CPU time.

use std::hint::black_box;
use std::time::Duration;

/// Iterations per call of the inner loop between clock reads.
const CHUNK: u64 = 20_000;

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(2) writes into a local timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU time used by the calling thread, in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// `CLOCK_MONOTONIC` in nanoseconds. It is the same clock inside and outside a dyno (the jail
/// has no time namespace), so the supervisor and the dynos share one time base.
pub fn mono_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// Sleep until `CLOCK_MONOTONIC` reaches `deadline_ns` (absolute, so lateness never accumulates).
pub fn sleep_until(deadline_ns: u64) {
    let ts = libc::timespec {
        tv_sec: (deadline_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (deadline_ns % 1_000_000_000) as libc::c_long,
    };
    loop {
        // SAFETY: clock_nanosleep(2) with an absolute deadline and no remainder pointer.
        let r = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        if r != libc::EINTR {
            return;
        }
    }
}

/// Make this thread's timers precise: the default 50 µs timer slack would blur an open-loop
/// schedule and short waits.
pub fn precise_timers() {
    // SAFETY: prctl(2) on the calling thread only.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
}

/// Give the calling thread real-time priority (`SCHED_FIFO` 10, needs root; otherwise nice
/// -20), so the load generator keeps its schedule beside unrelated processes on its CPU: a
/// normal thread that wakes on a busy CPU can wait milliseconds for it. The generator's
/// threads block between events, so they take little CPU. `SCHED_RESET_ON_FORK`: a process
/// this thread starts (a jail, as the lifecycle thread does) runs at normal priority, so a
/// spinning dyno can never starve the machine. Errors are ignored: it only helps.
pub fn high_priority() {
    // SAFETY: sched_setscheduler(2), gettid(2) and setpriority(2) on the calling thread only.
    unsafe {
        let param = libc::sched_param { sched_priority: 10 };
        let policy = libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK;
        if libc::sched_setscheduler(0, policy, &param) != 0 {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, -20);
        }
    }
}

/// `n` iterations of a multiply-add chain (an LCG step): no memory traffic, one dependent
/// multiply per iteration, so its speed is the core's and nothing else's.
#[inline(never)]
pub fn spin(n: u64, seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..n {
        x = black_box(
            x.wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407),
        );
    }
    x
}

/// Iterations per CPU-second of [`spin`] on the calling thread, measured over about `cpu_time`
/// of CPU time. Preemption does not distort it: only the thread's own CPU time counts.
pub fn measure_speed(cpu_time: Duration) -> f64 {
    // Warm up (frequency ramp, page faults of the first call).
    black_box(spin(CHUNK * 5, 7));
    let target = cpu_time.as_nanos().max(1) as u64;
    let c0 = thread_cpu_ns();
    let mut iters = 0u64;
    let mut acc = 0u64;
    while thread_cpu_ns() - c0 < target {
        acc ^= spin(CHUNK * 10, acc);
        iters += CHUNK * 10;
    }
    black_box(acc);
    let used = (thread_cpu_ns() - c0).max(1);
    iters as f64 / (used as f64 * 1e-9)
}

/// [`measure_speed`] on a thread pinned to `cpus` (the CPUs the dynos will use).
pub fn measure_speed_on(cpus: &[usize], cpu_time: Duration) -> f64 {
    let cpus = cpus.to_vec();
    std::thread::spawn(move || {
        let _ = pin_thread(&cpus);
        measure_speed(cpu_time)
    })
    .join()
    .unwrap_or_else(|_| measure_speed(cpu_time))
}

/// Do the work of `cpu_ns` nanoseconds of CPU time at `iters_per_s` iterations per CPU-second.
/// Returns the CPU time the thread actually used.
pub fn burn_work(cpu_ns: u64, iters_per_s: f64) -> u64 {
    let c0 = thread_cpu_ns();
    let n = (cpu_ns as f64 * 1e-9 * iters_per_s).round() as u64;
    black_box(spin(n, c0));
    thread_cpu_ns() - c0
}

/// Spin until the calling thread has used `cpu_ns` of CPU time. Returns the CPU time used.
pub fn burn_cpu_time(cpu_ns: u64) -> u64 {
    let c0 = thread_cpu_ns();
    let mut acc = 0u64;
    while thread_cpu_ns() - c0 < cpu_ns {
        acc ^= spin(CHUNK / 4, acc);
    }
    black_box(acc);
    thread_cpu_ns() - c0
}

/// Pin the calling thread to `cpus` (a no-op for an empty list).
pub fn pin_thread(cpus: &[usize]) -> std::io::Result<()> {
    if cpus.is_empty() {
        return Ok(());
    }
    // SAFETY: cpu_set_t is plain data; CPU_SET stays inside it for cpu < CPU_SETSIZE, and
    // sched_setaffinity(0) changes only the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            if c < libc::CPU_SETSIZE as usize {
                libc::CPU_SET(c, &mut set);
            }
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The CPUs this process may run on (its affinity mask).
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: sched_getaffinity(2) fills a local cpu_set_t.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_speed_is_positive_and_burn_is_close() {
        let ips = measure_speed(Duration::from_millis(30));
        assert!(ips > 1e6, "{ips}");
        let used = burn_cpu_time(5_000_000);
        assert!(used >= 5_000_000);
    }
}
