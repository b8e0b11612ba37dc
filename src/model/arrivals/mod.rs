//! When requests arrive: the arrival processes of a workload, one file per process.
//!
//! - [`poisson`]: a constant rate, exponential gaps by inversion (the hot path: one uniform per
//!   arrival, called directly through [`ArrivalSource::Poisson`], no dynamic dispatch);
//! - [`interval`]: one request every gap, exactly;
//! - [`stages`] (piecewise-linear rate, optionally repeating), [`diurnal`] (a daily sinusoid),
//!   [`mmpp`] (a two-state Markov-modulated rate) and [`burst`] (a rate multiplier over time on
//!   top of any of them): non-homogeneous Poisson processes, all simulated by **thinning**
//!   ([`thinning`]) of their [`Intensity`], which is exact (Lewis and Shedler 1979), not a
//!   per-minute step approximation;
//! - [`trace`]: timestamps replayed from a CSV file, streamed, with optional per-request CPU and
//!   wait that replace the workload's draws ([`RequestOverride`]).
//!
//! **Streams.** Poisson arrivals draw from `arrivals/<app>` as they always have; every other
//! process draws from a stream of its own (`arrivals-<kind>/<app>`, and `mmpp-states/<app>` for
//! the MMPP's sojourns), so a new kind shifts no existing scenario's numbers.
//!
//! **Offered rate.** Every process also answers [`ArrivalProcess::offered`]: the expected number
//! of arrivals in a time span (the integral of its rate; for an MMPP along the state path it
//! took; for a trace the rows in the span). windows.csv divides it by the window's length
//! (`arrival_rate_rps`). It is asked once per window, off the request path.

pub mod burst;
pub mod diurnal;
pub mod interval;
pub mod mmpp;
pub mod poisson;
pub mod stages;
pub mod thinning;
pub mod trace;

pub use burst::Burst;
pub use diurnal::Diurnal;
pub use mmpp::Mmpp;
pub use stages::Stages;
pub use thinning::{Intensity, Thinned};
pub use trace::{RequestOverride, TraceSpec};

use crate::engine::{RngStream, SimDuration, SimTime};

/// Arrival process of a workload, as the scenario gives it (rates in requests per second).
#[derive(Debug, Clone, PartialEq)]
pub enum Arrivals {
    /// Poisson arrivals at `rate` requests per second.
    Poisson { rate: f64 },
    /// One request every `gap` exactly, the first at `gap` (synthetic monitors, cron-like load,
    /// and closed-form checks that need arrivals at known instants).
    Interval { gap: SimDuration },
    /// A piecewise-linear rate over time (`stages`).
    Stages(Stages),
    /// A daily sinusoid around a mean (`diurnal`).
    Diurnal(Diurnal),
    /// A two-state Markov-modulated Poisson process (`mmpp`).
    Mmpp(Mmpp),
    /// Timestamps replayed from a file (`trace`).
    Trace(TraceSpec),
    /// `base`'s rate multiplied by the bursts' factors (`[[app.workload.burst]]`).
    Bursts {
        base: Box<Arrivals>,
        bursts: Vec<Burst>,
    },
}

impl Arrivals {
    /// Long-run mean arrival rate in requests per second: the rate of a stationary process, the
    /// mean over one period of a repeating one, the last rate of stages that do not repeat (it
    /// holds for ever), the rows over the span of a trace. Bursts are transient: not counted.
    pub fn mean_rate(&self) -> f64 {
        match self {
            Arrivals::Poisson { rate } => *rate,
            Arrivals::Interval { gap } => 1.0 / gap.as_secs_f64(),
            Arrivals::Stages(s) => s.long_run_rate(),
            Arrivals::Diurnal(d) => d.mean,
            Arrivals::Mmpp(m) => m.stationary_rate(),
            Arrivals::Trace(t) => t.mean_rate(),
            Arrivals::Bursts { base, .. } => base.mean_rate(),
        }
    }

    /// The lowest and highest offered rate the shape can reach (requests/s): exact for a shape
    /// alone, a bound with bursts (each burst's factor applied to the highest and lowest base
    /// rate). What `dynosim check` reports beside the mean. None for a trace, whose rate is
    /// what its rows realise.
    pub fn rate_range(&self) -> Option<(f64, f64)> {
        let fold = |v: &mut dyn Iterator<Item = f64>| {
            v.fold(None, |acc: Option<(f64, f64)>, r| {
                Some(acc.map_or((r, r), |(lo, hi)| (lo.min(r), hi.max(r))))
            })
        };
        match self {
            Arrivals::Poisson { .. } | Arrivals::Interval { .. } => {
                let r = self.mean_rate();
                Some((r, r))
            }
            Arrivals::Stages(s) => fold(&mut s.points.iter().map(|p| p.1)),
            // mean x (1 + (peak_to_mean - 1) cos(...)): from (2 - p) x mean to p x mean.
            Arrivals::Diurnal(d) => {
                Some((d.mean * (2.0 - d.peak_to_mean), d.mean * d.peak_to_mean))
            }
            Arrivals::Mmpp(m) => fold(&mut m.rates.iter().copied()),
            Arrivals::Trace(_) => None,
            Arrivals::Bursts { base, bursts } => {
                let (lo, hi) = base.rate_range()?;
                let f = fold(&mut bursts.iter().map(|b| b.factor)).unwrap_or((1.0, 1.0));
                Some((lo * f.0.min(1.0), hi * f.1.max(1.0)))
            }
        }
    }

    /// The same shape with every rate multiplied by `f` (`scale`, and `dynosim validate`'s
    /// scaling of a formation). A trace cannot be scaled (its timestamps are replayed exactly):
    /// it is returned as it is; the scenario refuses `scale` on a trace.
    pub fn scaled(&self, f: f64) -> Arrivals {
        match self {
            Arrivals::Poisson { rate } => Arrivals::Poisson { rate: rate * f },
            Arrivals::Interval { gap } => Arrivals::Interval {
                gap: SimDuration::from_secs_f64(gap.as_secs_f64() / f),
            },
            Arrivals::Stages(s) => Arrivals::Stages(s.scaled(f)),
            Arrivals::Diurnal(d) => Arrivals::Diurnal(Diurnal {
                mean: d.mean * f,
                ..*d
            }),
            Arrivals::Mmpp(m) => Arrivals::Mmpp(Mmpp {
                rates: [m.rates[0] * f, m.rates[1] * f],
                ..*m
            }),
            Arrivals::Trace(t) => Arrivals::Trace(t.clone()),
            Arrivals::Bursts { base, bursts } => Arrivals::Bursts {
                base: Box::new(base.scaled(f)),
                bursts: bursts.clone(),
            },
        }
    }

    /// Whether arrivals carry per-request values that replace the workload's draws (a trace
    /// with `cpu` or `wait` columns); the request path looks for them only then.
    pub fn overrides_requests(&self) -> bool {
        matches!(self, Arrivals::Trace(t) if t.overrides_requests())
    }

    /// The expected number of arrivals in `[0, horizon)` for processes whose rate is a fixed
    /// function of time (`None` for an MMPP, whose rate is random, and a trace).
    pub fn expected_arrivals(&self, horizon: SimDuration) -> Option<f64> {
        let h = horizon.as_secs_f64();
        match self {
            Arrivals::Poisson { rate } => Some(rate * h),
            Arrivals::Interval { gap } => Some((horizon.as_nanos() / gap.as_nanos().max(1)) as f64),
            Arrivals::Stages(s) => Some(s.clone().integral(0.0, h)),
            Arrivals::Diurnal(d) => Some(d.clone().integral(0.0, h)),
            Arrivals::Mmpp(_) | Arrivals::Trace(_) => None,
            Arrivals::Bursts { base, bursts } => match &**base {
                Arrivals::Poisson { rate } => {
                    Some(burst::Bursted::new(poisson::Constant(*rate), bursts).integral(0.0, h))
                }
                Arrivals::Stages(s) => {
                    Some(burst::Bursted::new(s.clone(), bursts).integral(0.0, h))
                }
                Arrivals::Diurnal(d) => Some(burst::Bursted::new(*d, bursts).integral(0.0, h)),
                _ => None,
            },
        }
    }
}

/// A source of arrival times. The platform asks for the next arrival when the previous one
/// happens (`now` is its time; the first call has `now = 0`), and stops asking once the answer is
/// `None` or lies past the end of the run.
///
/// Implementations own their random streams (or none), so a process that draws more or fewer
/// numbers never shifts another component's draws.
pub trait ArrivalProcess {
    fn next_arrival(&mut self, now: SimTime) -> Option<SimTime>;

    /// The expected number of arrivals in `[from, to)`: the integral of the rate (for an MMPP
    /// along its realised state path; for a trace, its rows in the span). Asked in time order,
    /// once per window, after the process has gone past `to` (it may forget what lies before
    /// `from`).
    fn offered(&mut self, from: SimTime, to: SimTime) -> f64;

    /// The per-request values that replace the workload's draws for the arrivals returned so
    /// far, oldest first (a trace's `cpu` and `wait` columns); `None` when the process has none.
    fn take_override(&mut self) -> Option<RequestOverride> {
        None
    }
}

/// The arrival process of one app, as the request path calls it: the common kinds directly,
/// every other one through its [`ArrivalProcess`].
pub enum ArrivalSource {
    Poisson(poisson::PoissonArrivals),
    Other(Box<dyn ArrivalProcess>),
}

impl ArrivalSource {
    #[inline]
    pub fn next_arrival(&mut self, now: SimTime) -> Option<SimTime> {
        match self {
            ArrivalSource::Poisson(p) => p.next_arrival(now),
            ArrivalSource::Other(p) => p.next_arrival(now),
        }
    }

    pub fn offered(&mut self, from: SimTime, to: SimTime) -> f64 {
        match self {
            ArrivalSource::Poisson(p) => p.offered(from, to),
            ArrivalSource::Other(p) => p.offered(from, to),
        }
    }

    #[inline]
    pub fn take_override(&mut self) -> Option<RequestOverride> {
        match self {
            ArrivalSource::Poisson(_) => None,
            ArrivalSource::Other(p) => p.take_override(),
        }
    }
}

/// The arrival process for `spec`; `stream(kind)` gives the app's stream `kind/<app>`
/// (`arrivals` for Poisson, as always; a stream of its own for every other kind).
pub fn arrival_process(spec: &Arrivals, stream: &dyn Fn(&str) -> RngStream) -> ArrivalSource {
    match spec {
        Arrivals::Poisson { rate } => {
            ArrivalSource::Poisson(poisson::PoissonArrivals::new(*rate, stream("arrivals")))
        }
        other => ArrivalSource::Other(boxed(other, stream)),
    }
}

fn boxed(spec: &Arrivals, stream: &dyn Fn(&str) -> RngStream) -> Box<dyn ArrivalProcess> {
    match spec {
        Arrivals::Poisson { rate } => {
            Box::new(poisson::PoissonArrivals::new(*rate, stream("arrivals")))
        }
        Arrivals::Interval { gap } => Box::new(interval::IntervalArrivals::new(*gap)),
        Arrivals::Stages(s) => Box::new(Thinned::new(s.clone(), stream("arrivals-stages"))),
        Arrivals::Diurnal(d) => Box::new(Thinned::new(*d, stream("arrivals-diurnal"))),
        Arrivals::Mmpp(m) => Box::new(Thinned::new(
            mmpp::MmppPath::new(*m, stream("mmpp-states")),
            stream("arrivals-mmpp"),
        )),
        Arrivals::Trace(t) => Box::new(trace::TraceArrivals::open(t)),
        Arrivals::Bursts { base, bursts } => {
            let rng = stream("arrivals-burst");
            match &**base {
                Arrivals::Poisson { rate } => Box::new(Thinned::new(
                    burst::Bursted::new(poisson::Constant(*rate), bursts),
                    rng,
                )),
                Arrivals::Stages(s) => {
                    Box::new(Thinned::new(burst::Bursted::new(s.clone(), bursts), rng))
                }
                Arrivals::Diurnal(d) => {
                    Box::new(Thinned::new(burst::Bursted::new(*d, bursts), rng))
                }
                Arrivals::Mmpp(m) => Box::new(Thinned::new(
                    burst::Bursted::new(mmpp::MmppPath::new(*m, stream("mmpp-states")), bursts),
                    rng,
                )),
                // The scenario refuses bursts on these (and nested bursts); without a rate to
                // multiply, the base arrives as it is.
                other => boxed(other, stream),
            }
        }
    }
}

/// Seconds as a time, rounded to the nanosecond.
#[inline]
pub(crate) fn at_secs(t: f64) -> SimTime {
    SimTime(SimDuration::from_secs_f64(t).as_nanos())
}

#[cfg(test)]
mod rate_range_tests {
    use super::*;

    #[test]
    fn rate_ranges_are_the_shapes_extremes_and_bound_bursts() {
        let poisson = Arrivals::Poisson { rate: 40.0 };
        assert_eq!(poisson.rate_range(), Some((40.0, 40.0)));
        let stages = Arrivals::Stages(stages::Stages {
            points: vec![(0.0, 40.0), (3600.0, 120.0), (7200.0, 0.0)],
            repeat_s: None,
        });
        assert_eq!(stages.rate_range(), Some((0.0, 120.0)));
        let diurnal = Arrivals::Diurnal(diurnal::Diurnal {
            mean: 40.0,
            peak_to_mean: 1.5,
            peak_at_s: 46_800.0,
        });
        assert_eq!(diurnal.rate_range(), Some((20.0, 60.0)));
        let mmpp = Arrivals::Mmpp(mmpp::Mmpp {
            rates: [400.0, 40.0],
            mean_time_s: [120.0, 3000.0],
        });
        assert_eq!(mmpp.rate_range(), Some((40.0, 400.0)));
        let burst = |factor| burst::Burst {
            at_s: 60.0,
            duration_s: 60.0,
            factor,
            ramp_s: 0.0,
        };
        let bursts = Arrivals::Bursts {
            base: Box::new(diurnal),
            bursts: vec![burst(3.0), burst(0.5)],
        };
        assert_eq!(bursts.rate_range(), Some((10.0, 180.0)));
    }
}
