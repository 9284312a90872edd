//! Parse errors, and the stateless answer a malformed request still deserves.

use crate::headers::Headers;
use crate::message::Response;

/// What was wrong with the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The start line is not a SIP request or status line.
    StartLine,
    /// A header line or a header value breaks the grammar.
    Header,
    /// A required header is missing or a single-valued one repeats.
    Required,
    /// Content-Length is missing (streams), negative, repeated, or beyond the data.
    ContentLength,
    /// The message exceeds the size limit.
    TooLarge,
    /// A URI breaks the grammar.
    Uri,
}

/// A message that cannot be processed, with enough of it kept to answer statelessly.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    kind: ErrorKind,
    message: String,
    fatal_for_stream: bool,
    /// The raw headers of a request whose start line did parse, for the 400.
    request_headers: Option<Box<Headers>>,
}

impl ParseError {
    /// An error with no message context to answer from.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ParseError {
            kind,
            message: message.into(),
            fatal_for_stream: false,
            request_headers: None,
        }
    }

    pub(crate) fn fatal(mut self) -> Self {
        self.fatal_for_stream = true;
        self
    }

    pub(crate) fn with_request_headers(mut self, headers: Headers) -> Self {
        self.request_headers = Some(Box::new(headers));
        self
    }

    /// What kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// On a stream the framing is lost: the transport must close the connection.
    pub fn is_fatal_for_stream(&self) -> bool {
        self.fatal_for_stream
    }

    /// The stateless 400 to send for a request that was read far enough to have a Via
    /// (RFC 3261 §8.2.6 copies Via, From, To, Call-ID and CSeq, whatever is there).
    /// `None` for responses and for input too broken to answer.
    pub fn response(&self) -> Option<Response> {
        let h = self.request_headers.as_deref()?;
        // Without a Via value there is nowhere the answer could be routed back to.
        if h.values("Via").is_empty() {
            return None;
        }
        let mut out = Headers::default();
        for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
            for v in h.get_all(name) {
                out.push(name, v);
            }
        }
        let mut warning = self.message.replace(['"', '\\'], "'");
        warning.retain(|c| !c.is_control());
        out.push("Warning", format!("399 vaxel \"{warning}\""));
        Some(Response {
            version: "SIP/2.0".into(),
            status: 400,
            reason: "Bad Request".into(),
            headers: out,
            body: Vec::new(),
        })
    }
}
