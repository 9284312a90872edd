//! Server nonces that need no storage to verify: each one carries the time it was issued and a
//! serial number, sealed with an HMAC-SHA256 over them and the realm. A nonce can therefore be
//! checked, and its age known, from the nonce alone. The only state is the nonce-count replay
//! table: the highest `nc` seen per live nonce, bounded and forgotten when the nonce expires.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::digest::{constant_time_eq, hex};

/// Nonce lifetime and the size of the replay table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonceConfig {
    /// Seconds a nonce stays valid; older nonces are answered with `stale=true`.
    pub lifetime: u64,
    /// At most this many nonces have their `nc` remembered; beyond it the oldest are
    /// forgotten, and a forgotten nonce is treated as stale (never accepted again).
    pub max_tracked: usize,
}

impl Default for NonceConfig {
    fn default() -> Self {
        NonceConfig {
            lifetime: 300,
            max_tracked: 100_000,
        }
    }
}

/// The identity of a nonce we issued: when, and which one that second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NonceId {
    /// Seconds (the caller's clock) when it was issued.
    pub issued_at: u64,
    /// Serial number, unique per [`NonceManager`].
    pub serial: u64,
}

/// What a nonce is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceStatus {
    /// Ours, for this realm, and within its lifetime.
    Fresh(NonceId),
    /// Ours but expired (or from a clock that has since gone backwards).
    Stale,
    /// Not ours: bad format, bad seal, another realm, or another secret (before a restart).
    Invalid,
}

/// The verdict on a nonce count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountCheck {
    /// Higher than any seen with this nonce: accepted and remembered.
    Accepted,
    /// Not higher than one already seen: a replay.
    Replay,
    /// The nonce was dropped from the full table before it expired, so its counts are unknown:
    /// treat it as stale.
    Forgotten,
}

/// Issues and checks nonces; holds the secret and the replay table.
#[derive(Debug, Clone)]
pub struct NonceManager {
    secret: [u8; 32],
    config: NonceConfig,
    next_serial: u64,
    seen: BTreeMap<NonceId, u32>,
    /// Nonces at or before this id may have been dropped early from `seen`.
    forgotten_up_to: Option<NonceId>,
}

const NONCE_BYTES: usize = 32;

impl NonceManager {
    /// A manager with a secret the engine draws at start-up (random, 32 bytes). Nonces from
    /// another secret are [`NonceStatus::Invalid`].
    pub fn new(secret: [u8; 32], config: NonceConfig) -> NonceManager {
        NonceManager {
            secret,
            config,
            next_serial: 0,
            seen: BTreeMap::new(),
            forgotten_up_to: None,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> NonceConfig {
        self.config
    }

    /// A new nonce for `realm`: hex of `issued_at || serial || HMAC[..16]`.
    pub fn issue(&mut self, now: u64, realm: &str) -> String {
        let id = NonceId {
            issued_at: now,
            serial: self.next_serial,
        };
        self.next_serial = self.next_serial.wrapping_add(1);
        let mut bytes = Vec::with_capacity(NONCE_BYTES);
        bytes.extend_from_slice(&id.issued_at.to_be_bytes());
        bytes.extend_from_slice(&id.serial.to_be_bytes());
        bytes.extend_from_slice(&self.seal(id, realm));
        hex(&bytes)
    }

    /// Checks a nonce without changing any state.
    pub fn check(&self, now: u64, realm: &str, nonce: &str) -> NonceStatus {
        let Some(bytes) = unhex::<NONCE_BYTES>(nonce) else {
            return NonceStatus::Invalid;
        };
        let (head, mac) = bytes.split_at(16);
        let (ts, serial) = head.split_at(8);
        let id = NonceId {
            issued_at: u64::from_be_bytes(ts.try_into().unwrap_or_default()),
            serial: u64::from_be_bytes(serial.try_into().unwrap_or_default()),
        };
        if !constant_time_eq(mac, &self.seal(id, realm)) {
            return NonceStatus::Invalid;
        }
        if id.issued_at > now || now - id.issued_at >= self.config.lifetime {
            return NonceStatus::Stale;
        }
        NonceStatus::Fresh(id)
    }

    /// Records `nc` for a fresh nonce whose digest has been verified (only then, so that a
    /// forger cannot burn a phone's counts). Also drops expired entries.
    pub fn record_count(&mut self, now: u64, id: NonceId, nc: u32) -> CountCheck {
        self.purge(now);
        match self.seen.get_mut(&id) {
            Some(last) if nc <= *last => CountCheck::Replay,
            Some(last) => {
                *last = nc;
                CountCheck::Accepted
            }
            None if self.forgotten_up_to.is_some_and(|f| id <= f) => CountCheck::Forgotten,
            None if nc == 0 => CountCheck::Replay,
            None => {
                self.seen.insert(id, nc);
                while self.seen.len() > self.config.max_tracked {
                    match self.seen.pop_first() {
                        Some((old, _)) => {
                            self.forgotten_up_to =
                                Some(self.forgotten_up_to.map_or(old, |f| f.max(old)));
                        }
                        None => break,
                    }
                }
                if self.seen.contains_key(&id) {
                    CountCheck::Accepted
                } else {
                    CountCheck::Forgotten
                }
            }
        }
    }

    /// Forgets the counts of nonces that have expired.
    pub fn purge(&mut self, now: u64) {
        let cutoff = NonceId {
            issued_at: now.saturating_sub(self.config.lifetime).saturating_add(1),
            serial: 0,
        };
        self.seen = self.seen.split_off(&cutoff);
    }

    /// How many nonces have their counts remembered.
    pub fn tracked(&self) -> usize {
        self.seen.len()
    }

    fn seal(&self, id: NonceId, realm: &str) -> [u8; 16] {
        let mut msg = Vec::with_capacity(16 + realm.len());
        msg.extend_from_slice(&id.issued_at.to_be_bytes());
        msg.extend_from_slice(&id.serial.to_be_bytes());
        msg.extend_from_slice(realm.as_bytes());
        let full = hmac_sha256(&self.secret, &msg);
        let mut out = [0u8; 16];
        out.iter_mut().zip(full).for_each(|(o, b)| *o = b);
        out
    }
}

/// HMAC-SHA256 (RFC 2104) for keys of at most one block, which is all we use.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block
            .iter_mut()
            .zip(Sha256::digest(key))
            .for_each(|(k, b)| *k = b);
    } else {
        block.iter_mut().zip(key).for_each(|(k, b)| *k = *b);
    }
    let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(msg)
        .finalize();
    let outer = Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize();
    let mut out = [0u8; 32];
    out.iter_mut().zip(outer).for_each(|(o, b)| *o = b);
    out
}

/// Decodes exactly `N` bytes of hex (either case).
fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks(2)) {
        *o = crate::digest::hex_byte(pair)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mgr(max_tracked: usize) -> NonceManager {
        NonceManager::new(
            [7; 32],
            NonceConfig {
                lifetime: 300,
                max_tracked,
            },
        )
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hmac_matches_rfc4231_case_6_long_key() {
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn fresh_until_lifetime_then_stale() {
        let mut m = mgr(10);
        let n = m.issue(1000, "r");
        assert!(matches!(m.check(1000, "r", &n), NonceStatus::Fresh(id) if id.issued_at == 1000));
        assert!(matches!(m.check(1299, "r", &n), NonceStatus::Fresh(_)));
        assert_eq!(m.check(1300, "r", &n), NonceStatus::Stale);
        assert_eq!(m.check(999, "r", &n), NonceStatus::Stale);
    }

    #[test]
    fn forged_or_foreign_nonces_are_invalid() {
        let mut m = mgr(10);
        let n = m.issue(1000, "r");
        assert_eq!(m.check(1000, "other", &n), NonceStatus::Invalid);
        let mut tampered = n.clone().into_bytes();
        tampered[15] = if tampered[15] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(m.check(1000, "r", &tampered), NonceStatus::Invalid);
        assert_eq!(m.check(1000, "r", "xyz"), NonceStatus::Invalid);
        let other = NonceManager::new([8; 32], NonceConfig::default());
        assert_eq!(other.check(1000, "r", &n), NonceStatus::Invalid);
        // Two nonces in the same second differ.
        assert_ne!(m.issue(1000, "r"), n);
    }

    #[test]
    fn counts_must_rise_and_table_is_bounded() {
        let mut m = mgr(2);
        let ids: Vec<NonceId> = (0..3)
            .map(|i| {
                let n = m.issue(1000 + i, "r");
                match m.check(1000 + i, "r", &n) {
                    NonceStatus::Fresh(id) => id,
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        assert_eq!(m.record_count(1002, ids[0], 1), CountCheck::Accepted);
        assert_eq!(m.record_count(1002, ids[0], 2), CountCheck::Accepted);
        assert_eq!(m.record_count(1002, ids[0], 2), CountCheck::Replay);
        assert_eq!(m.record_count(1002, ids[0], 1), CountCheck::Replay);
        assert_eq!(m.record_count(1002, ids[1], 1), CountCheck::Accepted);
        // A third nonce pushes the oldest out; it can no longer be used.
        assert_eq!(m.record_count(1002, ids[2], 1), CountCheck::Accepted);
        assert_eq!(m.tracked(), 2);
        assert_eq!(m.record_count(1002, ids[0], 3), CountCheck::Forgotten);
        // Expiry empties the table.
        m.purge(1000 + 2 + 300);
        assert_eq!(m.tracked(), 0);
    }
}
