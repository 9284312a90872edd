//! Header fields in the order received, looked up case-insensitively and by compact form.

use crate::lex::split_top;

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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    list: Vec<(String, String)>,
}

impl Headers {
    /// Room for `n` lines without reallocating.
    pub(crate) fn with_capacity(n: usize) -> Headers {
        Headers {
            list: Vec::with_capacity(n),
        }
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
        self.list.push((name.to_string(), value.into()));
    }

    /// Replaces every line of that name with one (in the place of the first).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
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

    /// Removes every line of that name.
    pub fn remove(&mut self, name: &str) {
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
