//! Framing SIP on a byte stream (TCP): messages are delimited by Content-Length, which
//! must be present (RFC 3261 §18.3). A framing error loses sync and is fatal.

use crate::error::{ErrorKind, ParseError};
use crate::message::Message;
use crate::parse::{content_length, parse_with_limit, read_head, split_head};

/// Accumulates stream bytes and yields whole messages.
#[derive(Debug)]
pub struct StreamFramer {
    buf: Vec<u8>,
    max: usize,
    failed: bool,
}

impl StreamFramer {
    /// A framer refusing messages over `max` bytes.
    pub fn new(max: usize) -> Self {
        StreamFramer {
            buf: Vec::new(),
            max,
            failed: false,
        }
    }

    /// Adds received bytes.
    pub fn push(&mut self, data: &[u8]) {
        if !self.failed {
            self.buf.extend_from_slice(data);
        }
    }

    /// Bytes held that do not yet make a message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next message, an error, or `None` when more bytes are needed. After a fatal
    /// error it yields nothing more.
    pub fn next_message(&mut self) -> Option<Result<Message, ParseError>> {
        if self.failed {
            return None;
        }
        // CRLF keep-alives (RFC 5626) and stray line ends between messages.
        let skip = self
            .buf
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        self.buf.drain(..skip);
        if self.buf.is_empty() {
            return None;
        }
        let Some((head, body_start)) = split_head(&self.buf) else {
            if self.buf.len() > self.max {
                return Some(Err(
                    self.fail(ParseError::new(ErrorKind::TooLarge, "headers too large"))
                ));
            }
            return None;
        };
        // The same unfolding and compact names as the parser, so both agree on the length.
        let headers = read_head(head).map(|h| h.headers).unwrap_or_default();
        let len = match content_length(&headers) {
            Ok(Some(n)) => n,
            Ok(None) => {
                let e = ParseError::new(ErrorKind::ContentLength, "no Content-Length on a stream")
                    .fatal();
                return Some(Err(self.fail_with_request(e, body_start)));
            }
            Err(e) => return Some(Err(self.fail_with_request(e, body_start))),
        };
        let total = body_start.saturating_add(len);
        if total > self.max {
            return Some(Err(
                self.fail(ParseError::new(ErrorKind::TooLarge, "message too large"))
            ));
        }
        if self.buf.len() < total {
            return None;
        }
        let msg: Vec<u8> = self.buf.drain(..total).collect();
        Some(parse_with_limit(&msg, self.max))
    }

    fn fail(&mut self, e: ParseError) -> ParseError {
        self.failed = true;
        self.buf.clear();
        e.fatal()
    }

    /// A fatal error that still answers the request: parse its head for the 400.
    fn fail_with_request(&mut self, e: ParseError, head_len: usize) -> ParseError {
        let head: Vec<u8> = self
            .buf
            .get(..head_len)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        let answered = match parse_with_limit(&head, self.max) {
            Err(inner) if inner.response().is_some() => inner,
            // A sound request head without Content-Length (RFC 2543 style): still a 400.
            Ok(Message::Request(req)) => e.clone().with_request_headers(req.headers),
            _ => e.clone(),
        };
        let _ = self.fail(e);
        // Keep the 400 of the head parse but make sure the stream closes.
        answered.fatal()
    }
}
