//! The one hash function for everything keyed by input values (card ids, certificate
//! keys, org ids, interned labels): foldhash's quality variant with a seed chosen at
//! random once per process.
//!
//! The input comes from systems the issuer does not control. An unseeded hash lets
//! anyone compute, offline, many distinct card ids that share one hash and so turn every
//! hash-keyed structure quadratic (32,768 such ids took a run from 0.4 s to 100 s). With
//! a secret per-run seed such sets cannot be prepared in advance; the structures
//! themselves also stay near-linear when hashes do collide (`ingest/index.rs`,
//! `ingest/keys.rs`), so the seed is a second line of defence, not the only one.
//!
//! No output may depend on the seed: hashes only decide where a key is looked for,
//! never an order that is written. `SITHS_SWEEP_HASH_SEED=N` fixes the seed, so that a
//! test can sweep one export under two seeds and compare the outputs byte for byte.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::OnceLock;

use foldhash::SharedSeed;
use foldhash::quality::FoldHasher;

/// The process's seed: its expansion for foldhash, and the per-hasher part.
struct Seed {
    shared: SharedSeed,
    per_hasher: u64,
}

static SEED: OnceLock<Seed> = OnceLock::new();

/// The environment variable that fixes the seed (a decimal `u64`).
pub const SEED_VAR: &str = "SITHS_SWEEP_HASH_SEED";

fn seed() -> &'static Seed {
    SEED.get_or_init(|| {
        let fixed = std::env::var(SEED_VAR).ok().and_then(|v| v.trim().parse::<u64>().ok());
        // std's RandomState draws its keys from the operating system's randomness.
        let chosen = fixed.unwrap_or_else(|| std::collections::hash_map::RandomState::new().hash_one(0x5175_u16));
        Seed { shared: SharedSeed::from_u64(chosen), per_hasher: chosen.rotate_left(32) }
    })
}

/// The hasher builder of every map keyed by input values; zero-sized, so a map's
/// `Default` works as with any other `BuildHasher`.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyState;

impl BuildHasher for KeyState {
    type Hasher = FoldHasher<'static>;

    #[inline]
    fn build_hasher(&self) -> FoldHasher<'static> {
        let s = seed();
        FoldHasher::with_seed(s.per_hasher, &s.shared)
    }
}

/// A map keyed by input values.
pub type KeyMap<K, V> = HashMap<K, V, KeyState>;

/// The seeded 64-bit hash of a key.
#[inline]
pub fn hash_of(key: impl Hash) -> u64 {
    KeyState.hash_one(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal keys hash alike within a process, distinct ones apart, and the top bits
    /// (the partitions of `ingest/`) and the low bits (the slots) both spread.
    #[test]
    fn hashes_are_stable_within_a_process_and_spread() {
        assert_eq!(hash_of("C1"), hash_of(String::from("C1")));
        assert_eq!(hash_of((Some(1u64), Some("x"))), hash_of((Some(1u64), Some("x"))));
        let hashes: Vec<u64> = (0..4096).map(|i| hash_of(format!("C{i:07}"))).collect();
        let top: std::collections::HashSet<u64> = hashes.iter().map(|h| h >> 56).collect();
        let low: std::collections::HashSet<u64> = hashes.iter().map(|h| h & 0xFF).collect();
        assert!(top.len() > 240 && low.len() > 240, "top {} low {}", top.len(), low.len());
        let distinct: std::collections::HashSet<u64> = hashes.iter().copied().collect();
        assert_eq!(distinct.len(), hashes.len());
    }
}
