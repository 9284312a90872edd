//! ITU-T G.711 µ-law and A-law, bit-exact with the reference (Sun `g711.c`, as in ITU-T G.191).
//!
//! Decoding is a 256-entry table built at compile time; encoding is a short segment search,
//! cheap enough that prompts are encoded once at load time anyway. Transcoding µ-law <-> A-law
//! (a media relay between legs that chose different laws) is one table lookup per byte.

use std::sync::LazyLock;

use crate::Codec;

const SEG_SHIFT: u32 = 4;
const QUANT_MASK: u8 = 0x0F;
const SEG_MASK: u8 = 0x70;
const SIGN_BIT: u8 = 0x80;
const ULAW_BIAS: i32 = 0x84;
/// 14-bit magnitude clip for µ-law (the reference's `CLIP`).
const ULAW_CLIP: i32 = 8159;

const SEG_UEND: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
const SEG_AEND: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];

/// Index of the first segment whose end is >= `val`, or 8 when above all of them.
fn segment(val: i32, ends: &[i32; 8]) -> u8 {
    let mut seg = 0u8;
    for end in ends {
        if val <= *end {
            return seg;
        }
        seg += 1;
    }
    seg
}

/// Encode one linear 16-bit sample to µ-law.
pub fn ulaw_encode(pcm: i16) -> u8 {
    let mut val = i32::from(pcm) >> 2;
    let mask: u8 = if val < 0 {
        val = -val;
        0x7F
    } else {
        0xFF
    };
    val = val.min(ULAW_CLIP) + (ULAW_BIAS >> 2);
    let seg = segment(val, &SEG_UEND);
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let uval = (seg << SEG_SHIFT) | (((val >> (seg + 1)) as u8) & QUANT_MASK);
    uval ^ mask
}

/// Encode one linear 16-bit sample to A-law.
pub fn alaw_encode(pcm: i16) -> u8 {
    let mut val = i32::from(pcm) >> 3;
    let mask: u8 = if val >= 0 {
        0xD5
    } else {
        val = -val - 1;
        0x55
    };
    let seg = segment(val, &SEG_AEND);
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let shift = if seg < 2 { 1 } else { u32::from(seg) };
    let aval = (seg << SEG_SHIFT) | (((val >> shift) as u8) & QUANT_MASK);
    aval ^ mask
}

const fn ulaw_decode_calc(byte: u8) -> i16 {
    let u = !byte;
    let mut t = (((u & QUANT_MASK) as i32) << 3) + ULAW_BIAS;
    t <<= ((u & SEG_MASK) >> SEG_SHIFT) as i32;
    if u & SIGN_BIT != 0 {
        (ULAW_BIAS - t) as i16
    } else {
        (t - ULAW_BIAS) as i16
    }
}

const fn alaw_decode_calc(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let mut t = ((a & QUANT_MASK) as i32) << 4;
    let seg = ((a & SEG_MASK) >> SEG_SHIFT) as i32;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    if a & SIGN_BIT != 0 {
        t as i16
    } else {
        -t as i16
    }
}

const fn build_table(alaw: bool) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if alaw {
            alaw_decode_calc(i as u8)
        } else {
            ulaw_decode_calc(i as u8)
        };
        i += 1;
    }
    table
}

static ULAW_TABLE: [i16; 256] = build_table(false);
static ALAW_TABLE: [i16; 256] = build_table(true);

/// Decode one µ-law byte to linear 16-bit.
pub fn ulaw_decode(byte: u8) -> i16 {
    ULAW_TABLE[usize::from(byte)]
}

/// Decode one A-law byte to linear 16-bit.
pub fn alaw_decode(byte: u8) -> i16 {
    ALAW_TABLE[usize::from(byte)]
}

/// Encode `samples` with `codec`, appending one byte per sample to `out`.
pub fn encode(codec: Codec, samples: &[i16], out: &mut Vec<u8>) {
    let f = match codec {
        Codec::Pcmu => ulaw_encode,
        Codec::Pcma => alaw_encode,
    };
    out.extend(samples.iter().map(|&s| f(s)));
}

/// Decode `bytes` with `codec`, appending one sample per byte to `out`.
pub fn decode(codec: Codec, bytes: &[u8], out: &mut Vec<i16>) {
    let table = match codec {
        Codec::Pcmu => &ULAW_TABLE,
        Codec::Pcma => &ALAW_TABLE,
    };
    out.extend(bytes.iter().map(|&b| table[usize::from(b)]));
}

/// µ-law byte to the A-law byte of the same sample, for relaying between a PCMU leg and a
/// PCMA leg without going through linear audio per packet. Built on first use from
/// decode-then-encode, so it is exactly as lossy as transcoding through linear.
static ULAW_TO_ALAW: LazyLock<[u8; 256]> =
    LazyLock::new(|| std::array::from_fn(|i| alaw_encode(ULAW_TABLE[i])));
/// The reverse of [`ULAW_TO_ALAW`].
static ALAW_TO_ULAW: LazyLock<[u8; 256]> =
    LazyLock::new(|| std::array::from_fn(|i| ulaw_encode(ALAW_TABLE[i])));

/// One µ-law byte as A-law (same as `alaw_encode(ulaw_decode(byte))`, one table lookup).
pub fn ulaw_to_alaw(byte: u8) -> u8 {
    ULAW_TO_ALAW[usize::from(byte)]
}

/// One A-law byte as µ-law (same as `ulaw_encode(alaw_decode(byte))`, one table lookup).
pub fn alaw_to_ulaw(byte: u8) -> u8 {
    ALAW_TO_ULAW[usize::from(byte)]
}

/// Rewrites a `from` payload as `to` in place: what a media relay does to every packet
/// between legs that negotiated different G.711 laws. A no-op when the codecs are equal.
pub fn transcode(from: Codec, to: Codec, bytes: &mut [u8]) {
    let table: &[u8; 256] = match (from, to) {
        (Codec::Pcmu, Codec::Pcma) => &ULAW_TO_ALAW,
        (Codec::Pcma, Codec::Pcmu) => &ALAW_TO_ULAW,
        _ => return,
    };
    for b in bytes {
        *b = table[usize::from(*b)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(ulaw_encode(-1), 0x7E);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        // Mid-range points from the G.711 tables (segment boundaries).
        assert_eq!(ulaw_encode(1000), 0xCE);
        assert_eq!(ulaw_decode(0xCE), 988);
        assert_eq!(alaw_encode(1000), 0xFA);
        assert_eq!(alaw_decode(0xFA), 1008);
        assert_eq!(ulaw_encode(-1000), 0x4E);
        assert_eq!(alaw_encode(-1000), 0x7A);
        assert_eq!(ulaw_encode(5000), 0xAB);
        assert_eq!(ulaw_decode(0xAB), 5116);
        assert_eq!(alaw_encode(5000), 0x86);
        assert_eq!(alaw_decode(0x86), 4992);
        assert_eq!(ulaw_decode(0x7E), -8);
    }

    #[test]
    fn every_code_round_trips() {
        for b in 0..=255u8 {
            assert_eq!(alaw_encode(alaw_decode(b)), b, "A-law {b:#04x}");
            // µ-law has two zeros (0x7F is negative zero); every other code is exact.
            let expected = if b == 0x7F { 0xFF } else { b };
            assert_eq!(ulaw_encode(ulaw_decode(b)), expected, "µ-law {b:#04x}");
        }
    }

    #[test]
    fn decode_tables_are_monotonic() {
        let mut ulaw: Vec<i16> = (0..=255u8).map(ulaw_decode).collect();
        let mut alaw: Vec<i16> = (0..=255u8).map(alaw_decode).collect();
        ulaw.sort_unstable();
        alaw.sort_unstable();
        ulaw.dedup();
        alaw.dedup();
        assert_eq!(ulaw.len(), 255); // two codes for zero
        assert_eq!(alaw.len(), 256);
    }

    #[test]
    fn quantisation_error_is_bounded_for_all_inputs() {
        for x in i16::MIN..=i16::MAX {
            let x32 = i32::from(x);
            for (name, y) in [
                ("ulaw", i32::from(ulaw_decode(ulaw_encode(x)))),
                ("alaw", i32::from(alaw_decode(alaw_encode(x)))),
            ] {
                let err = (y - x32).abs();
                // Logarithmic companding: error below ~1/16 of magnitude plus a small floor,
                // except clipping at the very top of the range.
                let bound = x32.abs() / 16 + 16;
                assert!(
                    err <= bound || x32.abs() > 32000,
                    "{name}: {x} -> {y} (err {err})"
                );
                assert!(y.signum() * x32.signum() >= 0, "{name}: sign of {x}");
            }
        }
    }

    #[test]
    fn slice_helpers_match_scalar() {
        let samples = [0i16, 1, -1, 1000, -1000, 32767, -32768];
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let mut enc = Vec::new();
            encode(codec, &samples, &mut enc);
            assert_eq!(enc.len(), samples.len());
            let mut dec = Vec::new();
            decode(codec, &enc, &mut dec);
            for (s, d) in samples.iter().zip(&dec) {
                let scalar = match codec {
                    Codec::Pcmu => ulaw_decode(ulaw_encode(*s)),
                    Codec::Pcma => alaw_decode(alaw_encode(*s)),
                };
                assert_eq!(*d, scalar);
            }
        }
    }

    #[test]
    fn transcoding_tables_match_decode_then_encode() {
        for b in 0..=255u8 {
            assert_eq!(
                ulaw_to_alaw(b),
                alaw_encode(ulaw_decode(b)),
                "µ->A {b:#04x}"
            );
            assert_eq!(
                alaw_to_ulaw(b),
                ulaw_encode(alaw_decode(b)),
                "A->µ {b:#04x}"
            );
        }
        let all: Vec<u8> = (0..=255).collect();
        let mut buf = all.clone();
        transcode(Codec::Pcmu, Codec::Pcma, &mut buf);
        assert!(buf.iter().zip(&all).all(|(t, &b)| *t == ulaw_to_alaw(b)));
        let mut buf = all.clone();
        transcode(Codec::Pcma, Codec::Pcmu, &mut buf);
        assert!(buf.iter().zip(&all).all(|(t, &b)| *t == alaw_to_ulaw(b)));
        let mut buf = all.clone();
        transcode(Codec::Pcma, Codec::Pcma, &mut buf);
        assert_eq!(buf, all);
        // Silence stays silence: µ-law 0 is A-law's smallest step (+8), which µ-law can
        // represent exactly.
        assert_eq!(ulaw_to_alaw(0xFF), 0xD5);
        assert_eq!(ulaw_decode(alaw_to_ulaw(0xD5)), 8);
    }
}
