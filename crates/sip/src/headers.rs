//! Header fields in the order received, looked up case-insensitively and by compact form.

use std::sync::OnceLock;

use crate::error::ParseError;
use crate::lex::split_top;
use crate::message::CSeq;
use crate::name_addr::NameAddr;
use crate::via::Via;

/// Compact forms (RFC 3261 §7.3.3 and later RFCs) and their full names.
const COMPACT: &[(char, &str)] = &[
    ('v', "Via"),
    ('f', "From"),
    ('t', "To"),
    ('i', "Call-ID"),
    ('m', "Contact"),
    ('l', "Content-Length"),
    ('c', "Content-Type"),
    ('e', "Content-Encoding"),
    ('k', "Supported"),
    ('s', "Subject"),
    ('o', "Event"),
    ('r', "Refer-To"),
    ('b', "Referred-By"),
    ('u', "Allow-Events"),
    ('x', "Session-Expires"),
    ('y', "Identity"),
];

/// The full name of a header written in compact form, else the name itself.
pub fn canonical(name: &str) -> &str {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        let c = c.to_ascii_lowercase();
        if let Some((_, full)) = COMPACT.iter().find(|(k, _)| *k == c) {
            return full;
        }
    }
    name
}

/// Whether two header names denote the same header.
pub fn same_name(a: &str, b: &str) -> bool {
    if a.len() == b.len() && a.eq_ignore_ascii_case(b) {
        return true;
    }
    // Only a one-letter compact form can match a name of another length.
    if a.len() != 1 && b.len() != 1 {
        return false;
    }
    canonical(a).eq_ignore_ascii_case(canonical(b))
}

/// An ordered list of header fields; names are kept as received for pass-through.
///
/// The headers every layer reads (top Via, From, To, CSeq) are parsed once, on first use,
/// and kept until a header of that name changes: a message used to be parsed two or three
/// times on its way through the parser's checks, the transaction layer and the switch.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    list: Vec<(String, String)>,
    /// Boxed: it holds four parsed headers, and messages move around a lot.
    parsed: Box<Parsed>,
}

/// The typed values of the headers read on every message, parsed on first use.
#[derive(Debug, Clone, Default)]
pub(crate) struct Parsed {
    pub(crate) top_via: OnceLock<Result<Via, ParseError>>,
    pub(crate) from: OnceLock<Result<NameAddr, ParseError>>,
    pub(crate) to: OnceLock<Result<NameAddr, ParseError>>,
    pub(crate) cseq: OnceLock<Result<CSeq, ParseError>>,
}

impl Parsed {
    /// Forgets what depends on header `name`.
    fn invalidate(&mut self, name: &str) {
        match canonical_or_self(name) {
            n if n.eq_ignore_ascii_case("Via") => self.top_via = OnceLock::new(),
            n if n.eq_ignore_ascii_case("From") => self.from = OnceLock::new(),
            n if n.eq_ignore_ascii_case("To") => self.to = OnceLock::new(),
            n if n.eq_ignore_ascii_case("CSeq") => self.cseq = OnceLock::new(),
            _ => {}
        }
    }
}

fn canonical_or_self(name: &str) -> &str {
    canonical(name)
}

impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.list == other.list
    }
}

impl Eq for Headers {}

impl Headers {
    /// Room for `n` lines without reallocating.
    pub(crate) fn with_capacity(n: usize) -> Headers {
        Headers {
            list: Vec::with_capacity(n),
            parsed: Box::default(),
        }
    }

    /// The parse cache (see [`Headers`]).
    pub(crate) fn parsed(&self) -> &Parsed {
        &self.parsed
    }

    /// The first value of a header.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|(n, _)| same_name(n, name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header line of that name, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.list
            .iter()
            .filter(move |(n, _)| same_name(n, name))
            .map(|(_, v)| v.as_str())
    }

    /// Number of header lines of that name.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// Comma-separated values over all lines, split outside quotes and `<>`.
    pub fn values<'a>(&'a self, name: &'a str) -> Vec<&'a str> {
        self.get_all(name)
            .flat_map(|v| split_top(v, ','))
            .map(|v| v.trim_matches([' ', '\t']))
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Appends a header line.
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.parsed.invalidate(name);
        self.list.push((name.to_string(), value.into()));
    }

    /// Replaces every line of that name with one (in the place of the first).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.parsed.invalidate(name);
        let value = value.into();
        match self.list.iter().position(|(n, _)| same_name(n, name)) {
            Some(i) => {
                if let Some(slot) = self.list.get_mut(i) {
                    slot.1 = value;
                }
                let mut seen = 0;
                self.list.retain(|(n, _)| {
                    if same_name(n, name) {
                        seen += 1;
                        seen == 1
                    } else {
                        true
                    }
                });
            }
            None => self.push(name, value),
        }
    }

    /// Replaces the topmost Via value (the first value of the first Via line) and keeps it
    /// parsed; the other Via values stay as they were, in place.
    pub fn replace_top_via(&mut self, via: Via) {
        let Some(slot) = self.list.iter_mut().find(|(n, _)| same_name(n, "Via")) else {
            self.push("Via", via.to_string());
            return;
        };
        let mut value = via.to_string();
        for rest in split_top(&slot.1, ',').into_iter().skip(1) {
            value.push_str(", ");
            value.push_str(rest.trim_matches([' ', '\t']));
        }
        slot.1 = value;
        self.parsed.top_via = OnceLock::from(Ok(via));
    }

    /// Removes every line of that name.
    pub fn remove(&mut self, name: &str) {
        self.parsed.invalidate(name);
        self.list.retain(|(n, _)| !same_name(n, name));
    }

    /// All lines as (name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.list.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when there are no headers.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}
