//! Series identity as a hash: the key hash and the set-member hash, with their hasher.

/// Removes adjacent duplicates in place; returns the new length.
pub(super) fn dedup_sorted(tags: &mut [&str]) -> usize {
    if tags.is_empty() {
        return 0;
    }
    let mut kept = 1;
    for i in 1..tags.len() {
        if tags[i] != tags[kept - 1] {
            tags[kept] = tags[i];
            kept += 1;
        }
    }
    kept
}

/// [`SeriesKey::hash`] of a name and its sorted, de-duplicated tags. Deterministic, so it is
/// stable within one build of sluice.
///
/// [`SeriesKey::hash`]: backends::SeriesKey::hash
pub fn series_hash(name: &str, sorted_tags: &[&str]) -> u64 {
    let mut hasher = KeyHasher(0x243F_6A88_85A3_08D3);
    hasher.write(name.as_bytes());
    for tag in sorted_tags {
        hasher.write(tag.as_bytes());
    }
    hasher.finish()
}

pub(super) fn member_hash(member: &[u8]) -> u64 {
    let mut hasher = KeyHasher(0x1319_8A2E_0370_7344);
    hasher.write(member);
    hasher.finish()
}

/// A small, fast, deterministic hasher in the style of foldhash: each field is folded in
/// 16 bytes at a time with a 64×64→128-bit multiply whose halves are xored, the field's length
/// is mixed in so field boundaries count, and a `MurmurHash3` finaliser spreads every input bit
/// over the top bits hashbrown uses for its control bytes.
struct KeyHasher(u64);

const K0: u64 = 0x9E37_79B9_7F4A_7C15;
const K1: u64 = 0xA076_1D64_78BD_642F;

#[inline]
fn folded_multiply(x: u64, y: u64) -> u64 {
    let product = u128::from(x) * u128::from(y);
    (product as u64) ^ ((product >> 64) as u64)
}

#[inline]
fn read_u64(bytes: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

#[inline]
fn read_u32(bytes: &[u8]) -> u64 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[..4]);
    u64::from(u32::from_le_bytes(word))
}

impl KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let len = bytes.len();
        let mut state = self.0.wrapping_add(len as u64).wrapping_mul(K0);
        let (a, b) = if len <= 16 {
            if len >= 8 {
                (read_u64(bytes), read_u64(&bytes[len - 8..]))
            } else if len >= 4 {
                (read_u32(bytes), read_u32(&bytes[len - 4..]))
            } else if len > 0 {
                (u64::from(bytes[0]), u64::from(bytes[len / 2]) << 8 | u64::from(bytes[len - 1]))
            } else {
                (0, 0)
            }
        } else {
            let mut rest = bytes;
            while rest.len() > 16 {
                state = folded_multiply(read_u64(rest) ^ state, read_u64(&rest[8..]) ^ K1);
                rest = &rest[16..];
            }
            (read_u64(&bytes[len - 16..]), read_u64(&bytes[len - 8..]))
        };
        self.0 = folded_multiply(a ^ state, b ^ K1);
    }

    #[inline]
    fn finish(self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 33;
        h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        h ^ (h >> 33)
    }
}
