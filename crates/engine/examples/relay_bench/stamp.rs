//! The send stamp in the payload: stream, sequence number and send instant, written in a
//! 16-value alphabet per G.711 law chosen so that it survives the relay's transcoding.

use std::collections::HashSet;

use vaxel_media::{Codec, g711};

/// Payload bytes the stamp takes (16 bytes of fields, two symbols each).
pub const STAMP_LEN: usize = 32;

/// What a received stamp says.
pub struct Stamp {
    /// The sending stream.
    pub stream: u32,
    /// The sender's round (its packet number).
    pub seq: u32,
    /// CLOCK_REALTIME at the send, ns.
    pub tx_ns: u64,
}

/// The 16 byte values a sender of each law writes for nibbles 0..16, and for each possible
/// arrival law the table back from byte to nibble (0xFF: not ours). Values are chosen so that
/// the G.711 law conversion (through linear, as the relay does) maps them to 16 distinct
/// values, preferring values that survive a round trip exactly.
pub struct Alphabet {
    pub send: [[u8; 16]; 2],
    /// decode[sender law][arrival law][byte]
    pub decode: [[[u8; 256]; 2]; 2],
}

/// The index of a law in the tables.
pub fn law(c: Codec) -> usize {
    match c {
        Codec::Pcmu => 0,
        Codec::Pcma => 1,
    }
}

fn convert(from: Codec, to: Codec, b: u8) -> u8 {
    if from == to {
        return b;
    }
    let mut buf = [b];
    g711::transcode(from, to, &mut buf);
    buf[0]
}

impl Alphabet {
    pub fn new() -> Alphabet {
        let mut a = Alphabet {
            send: [[0; 16]; 2],
            decode: [[[0xFF; 256]; 2]; 2],
        };
        for from in [Codec::Pcmu, Codec::Pcma] {
            let other = if from == Codec::Pcmu {
                Codec::Pcma
            } else {
                Codec::Pcmu
            };
            let exact = |v: u8| convert(other, from, convert(from, other, v)) == v;
            let mut chosen: Vec<u8> = Vec::new();
            let mut images = HashSet::new();
            for pass in 0..2 {
                for v in 0..=255u8 {
                    if chosen.len() == 16 {
                        break;
                    }
                    if (pass == 0 && !exact(v)) || chosen.contains(&v) {
                        continue;
                    }
                    if images.insert(convert(from, other, v)) {
                        chosen.push(v);
                    }
                }
            }
            assert_eq!(
                chosen.len(),
                16,
                "no 16-value alphabet survives transcoding"
            );
            for (nib, &v) in chosen.iter().enumerate() {
                a.send[law(from)][nib] = v;
                a.decode[law(from)][law(from)][usize::from(v)] = nib as u8;
                a.decode[law(from)][law(other)][usize::from(convert(from, other, v))] = nib as u8;
            }
        }
        a
    }
}

/// Writes the stamp into `out` (at least [`STAMP_LEN`] bytes) with a sender's alphabet.
pub fn encode(out: &mut [u8], alphabet: &[u8; 16], stream: u32, seq: u32, tx_ns: u64) {
    let mut fields = [0u8; 16];
    fields[0..4].copy_from_slice(&stream.to_be_bytes());
    fields[4..8].copy_from_slice(&seq.to_be_bytes());
    fields[8..16].copy_from_slice(&tx_ns.to_be_bytes());
    for (i, b) in fields.iter().enumerate() {
        out[2 * i] = alphabet[usize::from(b >> 4)];
        out[2 * i + 1] = alphabet[usize::from(b & 0xF)];
    }
}

/// Reads a stamp with the table for (sender law, arrival law); `None` if a byte is not ours.
pub fn decode(inp: &[u8], table: &[u8; 256]) -> Option<Stamp> {
    let mut f = [0u8; 16];
    for (i, o) in f.iter_mut().enumerate() {
        let hi = table[usize::from(*inp.get(2 * i)?)];
        let lo = table[usize::from(*inp.get(2 * i + 1)?)];
        if hi > 15 || lo > 15 {
            return None;
        }
        *o = (hi << 4) | lo;
    }
    Some(Stamp {
        stream: u32::from_be_bytes([f[0], f[1], f[2], f[3]]),
        seq: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
        tx_ns: u64::from_be_bytes([f[8], f[9], f[10], f[11], f[12], f[13], f[14], f[15]]),
    })
}
