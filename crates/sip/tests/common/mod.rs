//! Shared helpers of the conformance tests: the corpus on disk, the engine's UAS policy and
//! the verdict a UAS reaches on a message.

#![allow(dead_code)]

use std::path::PathBuf;

use vaxel_sip::{Message, Method, ParseError, StreamFramer, UasPolicy, check_request, parse};

/// What a UAS does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A well-formed request the UAS goes on to process.
    Accept,
    /// A request answered at once with this status (parse error or §8.2 check).
    Status(u16),
    /// Nothing is sent: a response (a UAS core does not answer those) or a message too
    /// broken to answer (no Via).
    Drop,
}

/// One directory of the conformance corpus.
pub fn corpus_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/conformance")
        .join(name)
}

/// The bytes of one corpus file.
pub fn corpus(dir: &str, file: &str) -> Vec<u8> {
    let path = corpus_dir(dir).join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The message files of a corpus directory (not MANIFEST.tsv, SHA256SUMS), sorted.
pub fn corpus_files(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "MANIFEST.tsv" && n != "SHA256SUMS")
        .collect();
    names.sort();
    names
}

/// The file names MANIFEST.tsv lists.
pub fn manifest_files(dir: &str) -> Vec<String> {
    let text = std::fs::read_to_string(corpus_dir(dir).join("MANIFEST.tsv")).unwrap();
    let mut names: Vec<String> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

/// The engine's policy (crates/engine): no registrar yet, SDP only, no extensions.
pub fn engine_policy() -> UasPolicy {
    UasPolicy {
        allow: vec![
            Method::Invite,
            Method::Ack,
            Method::Bye,
            Method::Cancel,
            Method::Options,
            Method::Info,
        ],
        supported: vec![],
        accept: vec!["application/sdp".into()],
        schemes: vec!["sip".into(), "sips".into()],
    }
}

/// The verdict on one parse outcome.
pub fn verdict_of(outcome: &Result<Message, ParseError>) -> Verdict {
    match outcome {
        Ok(Message::Request(req)) => match check_request(req, &engine_policy()) {
            Ok(()) => Verdict::Accept,
            Err(resp) => Verdict::Status(resp.status),
        },
        Ok(Message::Response(_)) => Verdict::Drop,
        Err(e) => match e.response() {
            Some(resp) => Verdict::Status(resp.status),
            None => Verdict::Drop,
        },
    }
}

/// The verdict on one UDP datagram.
pub fn datagram_verdict(bytes: &[u8]) -> Verdict {
    verdict_of(&parse(bytes))
}

/// What a stream connection sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// A message framed and judged; the connection stays up.
    Message(Verdict),
    /// A framing error: this verdict, then the connection closes.
    Fatal(Verdict),
}

/// Feeds `bytes` to a framer in chunks of `chunk` bytes, draining after each push. Returns
/// what came out and how many bytes are left waiting.
pub fn stream(bytes: &[u8], chunk: usize) -> (Vec<StreamEvent>, usize) {
    let mut framer = StreamFramer::new(vaxel_sip::DEFAULT_MAX_MESSAGE);
    let mut events = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        framer.push(piece);
        while let Some(out) = framer.next_message() {
            let fatal = out.as_ref().is_err_and(ParseError::is_fatal_for_stream);
            let v = verdict_of(&out);
            events.push(if fatal {
                StreamEvent::Fatal(v)
            } else {
                StreamEvent::Message(v)
            });
        }
    }
    (events, framer.buffered())
}
