//! Writing messages to bytes; Content-Length is always recomputed from the body.

use std::fmt::Write;

use crate::headers::{Headers, id};
use crate::message::{Message, Request, Response};

fn write_message(start: &str, headers: &Headers, body: &[u8]) -> Vec<u8> {
    let mut head = String::with_capacity(start.len() + 64 * headers.len() + 32);
    head.push_str(start);
    head.push_str("\r\n");
    for (hid, name, value) in headers.iter_ids() {
        if hid == id::CONTENT_LENGTH {
            continue;
        }
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    let _ = write!(head, "Content-Length: {}\r\n\r\n", body.len());
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

impl Request {
    /// Wire form, with a Content-Length matching the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let start = format!("{} {} {}", self.method, self.uri, self.version);
        write_message(&start, &self.headers, &self.body)
    }
}

impl Response {
    /// Wire form, with a Content-Length matching the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let reason: String = self
            .reason
            .chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
            .collect();
        let start = format!("{} {:03} {}", self.version, self.status, reason);
        write_message(&start, &self.headers, &self.body)
    }
}

impl Message {
    /// Wire form, with a Content-Length matching the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}
