//! Thinning (Lewis and Shedler 1979): a non-homogeneous Poisson process of rate `λ(t)` is the
//! set of points of a Poisson process of rate `λ*` ≥ `λ(t)`, each kept with probability
//! `λ(t)/λ*`. It is exact for any bounded rate: no time step, no approximation.
//!
//! The bound may change over time ([`Intensity::bound`] gives one for a piece `[t, until)`);
//! a candidate gap that runs past the piece's end is dropped and drawing starts again at the
//! end with the next piece's bound, which is exact because the exponential gap is memoryless.
//! Where the rate equals the bound (a flat stage, an MMPP state) a candidate is kept without a
//! second draw. Each candidate costs one exponential draw; each rejected one a uniform more.

use super::ArrivalProcess;
use crate::engine::{RngStream, SimTime};

/// A rate over time, in requests per second, `t` in seconds from the start of the run.
///
/// Methods take `&mut self` so a random rate (the MMPP's) can draw its path as it is asked;
/// [`rate`](Self::rate) and [`bound`](Self::bound) are asked at non-decreasing times, and
/// [`integral`](Self::integral) spans in time order that may lie behind them.
pub trait Intensity {
    fn rate(&mut self, t: f64) -> f64;
    /// `(bound, until)`: `rate(s) <= bound` for every `s` in `[t, until)`, `until > t`
    /// (`f64::INFINITY` when the bound holds for ever).
    fn bound(&mut self, t: f64) -> (f64, f64);
    /// `∫ rate` over `[a, b]`.
    fn integral(&mut self, a: f64, b: f64) -> f64;
}

/// The arrivals of an [`Intensity`], by thinning; candidates and the keep-or-drop draws come
/// from one stream.
pub struct Thinned<I> {
    intensity: I,
    /// Time of the last candidate, in seconds.
    t: f64,
    rng: RngStream,
}

impl<I: Intensity> Thinned<I> {
    pub fn new(intensity: I, rng: RngStream) -> Thinned<I> {
        Thinned {
            intensity,
            t: 0.0,
            rng,
        }
    }
}

impl<I: Intensity> ArrivalProcess for Thinned<I> {
    fn next_arrival(&mut self, _now: SimTime) -> Option<SimTime> {
        loop {
            let (bound, until) = self.intensity.bound(self.t);
            if bound <= 0.0 {
                if until.is_finite() {
                    self.t = until;
                    continue;
                }
                return None; // nothing arrives any more
            }
            let t = self.t + self.rng.exp(1.0 / bound);
            if t >= until {
                self.t = until;
                continue;
            }
            self.t = t;
            let r = self.intensity.rate(t);
            if r >= bound || self.rng.open01() * bound < r {
                return Some(super::at_secs(t));
            }
        }
    }

    fn offered(&mut self, from: SimTime, to: SimTime) -> f64 {
        self.intensity
            .integral(from.as_secs_f64(), to.as_secs_f64())
    }
}
