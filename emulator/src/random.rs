//! Randomness: unguessable identifiers for capabilities (session URLs, tokens, codes) and a seeded
//! generator for reproducible random faults.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// A hex string of `bytes` random bytes from the operating system.
///
/// Session URLs and tokens are capabilities, so they must not be guessable. If the OS source fails
/// (it does not on supported platforms), fall back to `SipHash` keyed by std's per-process random keys
/// over a counter, which is still unpredictable to a client; a test server must not die for this.
pub(crate) fn secret_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    if getrandom::fill(&mut raw).is_err() {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let state = RandomState::new();
        for (i, slot) in raw.chunks_mut(8).enumerate() {
            let mut hasher = state.build_hasher();
            hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
            hasher.write_usize(i);
            let word = hasher.finish().to_le_bytes();
            slot.copy_from_slice(&word[..slot.len()]);
        }
    }
    hex(&raw)
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// `SplitMix64`: tiny, seedable and good enough to pick faults; the same seed and the same request
/// order give the same faults.
#[derive(Debug, Clone)]
pub(crate) struct SeededRng(u64);

impl SeededRng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn next_unit(&mut self) -> f64 {
        // The top 53 bits fill an f64 mantissa exactly.
        #[allow(clippy::cast_precision_loss)]
        let value = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        value
    }

    /// Uniform in `[0, bound)`; `bound` must be positive.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_differ_and_are_hex() {
        let a = secret_hex(16);
        let b = secret_hex(16);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn seeded_rng_is_reproducible() {
        let mut a = SeededRng::new(7);
        let mut b = SeededRng::new(7);
        for _ in 0..10 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let unit = SeededRng::new(1).next_unit();
        assert!((0.0..1.0).contains(&unit));
    }
}
