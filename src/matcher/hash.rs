//! A fast hash for the matcher's own tables (the Fx hash of rustc and Firefox).
//!
//! The standard `SipHash` resists keys chosen to collide, which these tables do not need: their
//! keys come from the knowledge base, and a lookup with a pasted word cannot add to them. On the
//! short words looked up for every question it costs several times what this does.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with the Fx hash.
pub(crate) type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The Fx hasher: one rotate, xor and multiply per 8 bytes.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::FxHashMap;

    #[test]
    fn maps_keep_every_key_apart() {
        // Words that differ only past their eighth byte, or only in length, are different keys.
        let words = [
            "credentials",
            "credentialz",
            "credential",
            "a",
            "ab",
            "abcdefgh",
            "abcdefgh\0",
        ];
        let mut m: FxHashMap<String, usize> = FxHashMap::default();
        for (i, w) in words.iter().enumerate() {
            m.insert((*w).to_string(), i);
        }
        assert_eq!(m.len(), words.len());
        for (i, w) in words.iter().enumerate() {
            assert_eq!(m.get(*w), Some(&i), "{w}");
        }
        assert_eq!(m.get("credentia"), None);
    }
}
