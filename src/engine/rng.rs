//! Independent random streams, one per model component.
//!
//! Every stream's seed is a hash of (job seed, component id), where the job seed is itself a hash of
//! (scenario seed, sweep point, replication). Components never share a stream, so adding a
//! component, or drawing more from one, never shifts another component's numbers; that is what
//! makes sweeps compare formations under common random numbers.

use rand::{Rng, SeedableRng, TryRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::convert::Infallible;

/// SplitMix64 finaliser: a bijective mix with full avalanche, used to derive seeds.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable 64-bit hash of a string (FNV-1a followed by a SplitMix finaliser).
///
/// Stable across platforms, Rust versions and runs, unlike `std`'s `DefaultHasher`, so component ids
/// built from names give the same streams forever.
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix64(h)
}

/// A node in the seed derivation tree: `SeedTree::new(seed).child(point).child(replication)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeedTree(u64);

impl SeedTree {
    /// The root, from a user-visible seed.
    pub fn new(seed: u64) -> SeedTree {
        SeedTree(seed)
    }

    /// A child node: the same (parent, key) always gives the same child, and distinct keys give
    /// unrelated children.
    pub fn child(self, key: u64) -> SeedTree {
        SeedTree(mix64(self.0 ^ mix64(key.wrapping_add(0x51_7CC1_B727_220A))))
    }

    /// The child for a named component, e.g. `"arrivals/shop"`.
    pub fn named(self, name: &str) -> SeedTree {
        self.child(stable_hash(name))
    }

    /// The 64-bit value of this node (reported in CSVs as the job seed).
    pub fn value(self) -> u64 {
        self.0
    }

    /// A random stream seeded from this node.
    pub fn stream(self) -> RngStream {
        RngStream(Xoshiro256PlusPlus::seed_from_u64(mix64(self.0)))
    }
}

/// One component's random number stream (xoshiro256++: fast, 256-bit state, good statistics).
#[derive(Debug, Clone)]
pub struct RngStream(Xoshiro256PlusPlus);

impl RngStream {
    /// A uniform draw in the open interval (0, 1), safe for `ln`.
    pub fn open01(&mut self) -> f64 {
        // 53 random bits, shifted by half an ulp so neither 0 nor 1 can occur.
        ((self.0.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// An exponential draw with the given mean, by inversion (one uniform per draw, so stream
    /// positions stay aligned across sweep points that change the mean).
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * self.open01().ln()
    }

    /// A uniform integer in `0..n` (`n > 0`), by Lemire's multiply-shift (bias below 2^-64 * n).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.0.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

impl TryRng for RngStream {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.0.next_u32())
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.0.next_u64())
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.fill_bytes(dst);
        Ok(())
    }
}
