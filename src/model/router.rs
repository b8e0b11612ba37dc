//! The router: picks a dyno for each request.

use crate::engine::RngStream;

/// A Common Runtime router: "Routers use a random selection algorithm for HTTP request load
/// balancing across web dynos" (Heroku HTTP routing article). Each router has its own stream.
pub(crate) struct Router {
    rng: RngStream,
}

impl Router {
    pub fn new(rng: RngStream) -> Router {
        Router { rng }
    }

    /// Index of the chosen dyno among `n` (n > 0), uniformly at random.
    #[inline]
    pub fn pick(&mut self, n: usize) -> usize {
        self.rng.below(n as u64) as usize
    }
}
