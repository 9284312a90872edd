//! Deterministic mutation fuzzing over the conformance corpus: byte flips, insertions,
//! deletions, truncations, line shuffles and splices, through the datagram parser, the UAS
//! checks, the serializer and the stream framer. Nothing may panic, whatever we accept
//! serializes to a fixed point, and every stateless 400 is itself a sound message.

mod common;

use common::{corpus, corpus_files, engine_policy};
use vaxel_sip::{ErrorKind, Message, ParseError, SipMessage, StreamFramer, check_request, parse};

const ITERATIONS: usize = 20_000;

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn byte(&mut self) -> u8 {
        const INTERESTING: &[u8] = b":;,=\"<>[]\\%@ \t\r\n\0/?&0123456789SIP.-+*~\x7f\xff\xc3";
        if self.below(3) == 0 {
            self.next() as u8
        } else {
            INTERESTING[self.below(INTERESTING.len())]
        }
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in ["rfc4475", "rfc5118"] {
        for f in corpus_files(dir) {
            out.push(corpus(dir, &f));
        }
    }
    out
}

fn lines(data: &[u8]) -> Vec<Vec<u8>> {
    data.split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = data.len();
        match rng.below(9) {
            // Overwrite a byte.
            0 | 1 => {
                if len > 0 {
                    let i = rng.below(len);
                    data[i] = rng.byte();
                }
            }
            // Insert a few bytes.
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(4);
                for _ in 0..n {
                    let b = rng.byte();
                    data.insert(i, b);
                }
            }
            // Delete a range.
            3 => {
                if len > 0 {
                    let i = rng.below(len);
                    let n = 1 + rng.below(16.min(len - i));
                    data.drain(i..i + n);
                }
            }
            // Truncate.
            4 => data.truncate(rng.below(len + 1)),
            // Splice: our prefix, another seed's suffix.
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            // Duplicate, drop or swap whole lines (headers repeated, missing, reordered).
            6 | 7 => {
                let mut ls = lines(&data);
                if ls.len() > 1 {
                    let a = rng.below(ls.len());
                    let b = rng.below(ls.len());
                    match rng.below(3) {
                        0 => {
                            let l = ls[a].clone();
                            ls.insert(b, l);
                        }
                        1 => {
                            ls.remove(a);
                        }
                        _ => ls.swap(a, b),
                    }
                    data = ls.concat();
                }
            }
            // Rewrite a number somewhere (Content-Length, CSeq, ports, status).
            _ => {
                let digits: Vec<usize> = data
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.is_ascii_digit())
                    .map(|(i, _)| i)
                    .collect();
                if !digits.is_empty() {
                    let i = digits[rng.below(digits.len())];
                    let repl: &[u8] = match rng.below(5) {
                        0 => b"-1",
                        1 => b"99999999999999999999",
                        2 => b"0",
                        3 => b"4294967296",
                        _ => b"65536",
                    };
                    data.splice(i..i + 1, repl.iter().copied());
                }
            }
        }
    }
    data
}

/// Whatever parses serializes to a fixed point with the same typed values.
fn check_accepted(m: &Message, input: &[u8]) {
    if let Message::Request(req) = m {
        let _ = check_request(req, &engine_policy());
    }
    let bytes = m.to_bytes();
    let again = parse(&bytes).unwrap_or_else(|e| {
        panic!(
            "accepted input does not re-parse after to_bytes: {e}\ninput: {:?}\nserialized: {:?}",
            String::from_utf8_lossy(input),
            String::from_utf8_lossy(&bytes)
        )
    });
    assert_eq!(
        again.to_bytes(),
        bytes,
        "serialization is not a fixed point for {:?}",
        String::from_utf8_lossy(input)
    );
    let typed = |m: &Message| match m {
        Message::Request(r) => format!(
            "{:?}{:?}{:?}{:?}{:?}{:?}{:?}{:?}{:?}",
            r.method,
            r.uri,
            r.vias(),
            r.cseq(),
            r.call_id(),
            r.from(),
            r.to(),
            r.contacts(),
            r.body
        ),
        Message::Response(r) => format!(
            "{}{:?}{:?}{:?}{:?}",
            r.status,
            r.vias(),
            r.cseq(),
            r.call_id(),
            r.body
        ),
    };
    assert_eq!(
        typed(&again),
        typed(m),
        "{:?}",
        String::from_utf8_lossy(input)
    );
}

/// A stateless 400 is one well-framed message; when the headers it copied are sound, it
/// parses back as that 400.
/// `whole`: the error is about all of `input` (not a later message on a stream).
fn check_rejected(e: &ParseError, input: &[u8], whole: bool) {
    let Some(resp) = e.response() else { return };
    assert!(
        !(whole && input.starts_with(b"SIP/")),
        "a response must not be answered: {:?}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(resp.status, 400);
    let bytes = resp.to_bytes();
    let show = || {
        format!(
            "input: {:?}\n400: {:?}",
            String::from_utf8_lossy(input),
            String::from_utf8_lossy(&bytes)
        )
    };
    // One message on a stream: nothing in the copied values can split it.
    let mut framer = StreamFramer::new(usize::MAX);
    framer.push(&bytes);
    let framed = framer.next_message();
    assert!(
        matches!(&framed, Some(r) if r.as_ref().is_ok() || !r.as_ref().is_err_and(ParseError::is_fatal_for_stream)),
        "{}",
        show()
    );
    assert_eq!(framer.buffered(), 0, "{}", show());
    assert!(framer.next_message().is_none(), "{}", show());

    let h = &resp.headers;
    assert!(!resp.headers.values("Via").is_empty(), "{}", show());
    let sound = resp.vias().is_ok()
        && resp.cseq().is_ok()
        && resp.call_id().is_ok()
        && ["Call-ID", "From", "To", "CSeq"]
            .iter()
            .all(|n| h.count(n) <= 1);
    match parse(&bytes) {
        Ok(Message::Response(back)) => {
            assert!(sound, "unsound copied headers accepted: {}", show());
            assert_eq!(back.status, 400);
            assert_eq!(back.vias().unwrap(), resp.vias().unwrap(), "{}", show());
            assert_eq!(back.call_id().unwrap(), resp.call_id().unwrap());
        }
        Ok(Message::Request(_)) => panic!("a 400 parsed as a request: {}", show()),
        Err(back) => {
            assert!(!sound, "sound 400 does not re-parse ({back}): {}", show());
            assert!(
                matches!(back.kind(), ErrorKind::Header | ErrorKind::Required),
                "the 400 itself is malformed ({back}): {}",
                show()
            );
        }
    }
}

fn run_framer(rng: &mut Rng, input: &[u8], one_byte: bool) {
    let mut framer = StreamFramer::new(vaxel_sip::DEFAULT_MAX_MESSAGE);
    let mut rest = input;
    let mut fatal = false;
    while !rest.is_empty() {
        let n = if one_byte { 1 } else { 1 + rng.below(64) };
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        framer.push(piece);
        while let Some(out) = framer.next_message() {
            assert!(!fatal, "output after a fatal error");
            match out {
                Ok(m) => check_accepted(&m, input),
                Err(e) => {
                    fatal |= e.is_fatal_for_stream();
                    check_rejected(&e, input, false);
                }
            }
        }
    }
    assert!(framer.buffered() <= input.len());
    if fatal {
        assert_eq!(framer.buffered(), 0);
    }
}

#[test]
fn mutated_corpus_never_panics_and_stays_consistent() {
    let seeds = seeds();
    // Deterministic by default; SIP_FUZZ_SEED / SIP_FUZZ_ITERATIONS explore further.
    let seed = std::env::var("SIP_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x05ee_d0f7_a4e1_u64);
    let iterations = std::env::var("SIP_FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(ITERATIONS);
    let mut rng = Rng(seed | 1);
    let (mut ok, mut answered) = (0, 0);
    for i in 0..iterations {
        let input = mutate(&mut rng, &seeds);
        match parse(&input) {
            Ok(m) => {
                ok += 1;
                check_accepted(&m, &input);
            }
            Err(e) => {
                answered += usize::from(e.response().is_some());
                check_rejected(&e, &input, true);
            }
        }
        run_framer(&mut rng, &input, i % 97 == 0);
    }
    // The mutations must exercise both sides, or this test proves little.
    println!("{ok} of {iterations} mutants parsed, {answered} got a 400");
    assert!(ok > iterations / 20, "only {ok} mutants parsed");
    assert!(
        answered > iterations / 20,
        "only {answered} mutants got a 400"
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..2_000 {
        let len = rng.below(300);
        let data: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        if let Ok(m) = parse(&data) {
            check_accepted(&m, &data);
        }
        run_framer(&mut rng, &data, false);
    }
}
