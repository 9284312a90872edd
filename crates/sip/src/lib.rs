//! vaxel's SIP message layer: the RFC 3261 grammar, parsed in one pass and serialized back.
//!
//! It covers what the RFC 4475 and RFC 5118 torture tests throw at a parser: folding,
//! compact header names, odd LWS, unknown methods and URI schemes, IPv6 references,
//! Content-Length framing on datagrams and streams, and a size limit. Typed views (Via,
//! From/To, CSeq, Contact) are parsed on demand from raw values that are kept as received.
//! A request that fails the grammar yields a [`ParseError`] that can still build its 400;
//! [`check_request`] holds the §8.2 UAS checks (505, 416, 405/501, 420, 415, 406). No I/O
//! here: transactions live in `vaxel-txn`, sockets in the engine.
//!
//! We wrote this instead of using `rsip`, which failed 7 of the 24 valid RFC 4475 messages
//! (see docs/decisions.md).

mod check;
mod error;
mod framer;
mod headers;
mod lex;
mod message;
mod method;
mod name_addr;
mod parse;
mod reason;
mod uri;
mod via;

pub use check::{UasPolicy, check_request};
pub use error::{ErrorKind, ParseError};
pub use framer::StreamFramer;
pub use headers::{Headers, canonical};
pub use message::{CSeq, Message, Request, Response, SipMessage};
pub use method::Method;
pub use name_addr::NameAddr;
pub use parse::{DEFAULT_MAX_MESSAGE, parse, parse_with_limit};
pub use reason::reason_phrase;
pub use uri::Uri;
pub use via::Via;
