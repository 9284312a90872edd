//! Typed reads from a spanned TOML table that record every problem instead of stopping.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use crate::diag::{Sink, suggest};
use crate::duration::parse_duration;

/// A spanned TOML value.
pub(crate) type Val<'i> = Spanned<DeValue<'i>>;

/// One table of the config (`[server]`, one `[[user]]`, ...) with the section name for messages.
pub(crate) struct Table<'t, 'i> {
    pub(crate) table: &'t DeTable<'i>,
    /// Where the table starts (its header), for "missing key" errors.
    pub(crate) span: Range<usize>,
    pub(crate) section: &'static str,
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date/time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Reports a value of the wrong type.
pub(crate) fn wrong_type(sink: &mut Sink<'_>, key: &str, v: &Val<'_>, want: &str) {
    sink.error(
        &v.span(),
        format!("`{key}` must be {want}, not {}", type_name(v.get_ref())),
    );
}

impl<'t, 'i> Table<'t, 'i> {
    pub(crate) fn new(table: &'t DeTable<'i>, span: Range<usize>, section: &'static str) -> Self {
        Table {
            table,
            span,
            section,
        }
    }

    /// Reports every key not in `allowed`, with a "did you mean" hint.
    pub(crate) fn check_keys(&self, sink: &mut Sink<'_>, allowed: &[&str]) {
        for (k, _) in self.table.iter() {
            let name: &str = k.get_ref();
            if !allowed.contains(&name) {
                sink.hint(
                    &k.span(),
                    format!("unknown key `{name}` in [{}]", self.section),
                    suggest(name, allowed),
                );
            }
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'t Val<'i>> {
        self.table.get(key)
    }

    /// A string value; wrong types are reported and read as absent.
    pub(crate) fn str(&self, sink: &mut Sink<'_>, key: &str) -> Option<Spanned<String>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Spanned::new(v.span(), s.to_string())),
            _ => {
                wrong_type(sink, key, v, "a string");
                None
            }
        }
    }

    /// A string that must be there.
    pub(crate) fn req_str(&self, sink: &mut Sink<'_>, key: &str) -> Option<Spanned<String>> {
        if self.get(key).is_none() {
            sink.hint(
                &self.span,
                format!("[{}] has no `{key}`", self.section),
                format!("add `{key} = \"...\"`"),
            );
            return None;
        }
        self.str(sink, key)
    }

    pub(crate) fn bool(&self, sink: &mut Sink<'_>, key: &str) -> Option<bool> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                wrong_type(sink, key, v, "true or false");
                None
            }
        }
    }

    /// A non-negative integer that fits in u32.
    pub(crate) fn u32(&self, sink: &mut Sink<'_>, key: &str) -> Option<u32> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Integer(i) => match u32::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Some(n),
                Err(_) => {
                    sink.error(
                        &v.span(),
                        format!("`{key}` must be a whole number from 0 to {}", u32::MAX),
                    );
                    None
                }
            },
            _ => {
                wrong_type(sink, key, v, "a whole number");
                None
            }
        }
    }

    /// A duration string like `"20s"`.
    pub(crate) fn duration(&self, sink: &mut Sink<'_>, key: &str) -> Option<std::time::Duration> {
        let s = self.str(sink, key)?;
        match parse_duration(s.get_ref()) {
            Ok(d) => Some(d),
            Err(e) => {
                sink.hint(
                    &s.span(),
                    format!("bad duration for `{key}`: {e}"),
                    "write durations like \"20s\", \"5m\" or \"1h30m\"",
                );
                None
            }
        }
    }

    pub(crate) fn array(&self, sink: &mut Sink<'_>, key: &str) -> Option<&'t DeArray<'i>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Array(a) => Some(a),
            _ => {
                wrong_type(sink, key, v, "an array");
                None
            }
        }
    }

    /// An array of strings; non-strings are reported and skipped.
    pub(crate) fn str_list(&self, sink: &mut Sink<'_>, key: &str) -> Vec<Spanned<String>> {
        let Some(a) = self.array(sink, key) else {
            return Vec::new();
        };
        a.iter()
            .filter_map(|v| match v.get_ref() {
                DeValue::String(s) => Some(Spanned::new(v.span(), s.to_string())),
                _ => {
                    wrong_type(sink, key, v, "a list of strings");
                    None
                }
            })
            .collect()
    }

    /// A sub-table (inline or not).
    pub(crate) fn table(
        &self,
        sink: &mut Sink<'_>,
        key: &str,
        section: &'static str,
    ) -> Option<Table<'t, 'i>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some(Table::new(t, v.span(), section)),
            _ => {
                wrong_type(sink, key, v, "a table");
                None
            }
        }
    }
}

/// The entries of an array of tables (`[[user]]`); anything else is reported.
pub(crate) fn tables<'t, 'i>(
    sink: &mut Sink<'_>,
    key: &str,
    v: &'t Val<'i>,
    section: &'static str,
) -> Vec<Table<'t, 'i>> {
    let DeValue::Array(a) = v.get_ref() else {
        sink.hint(
            &v.span(),
            format!("`{key}` must be an array of tables"),
            format!("write each entry as [[{key}]]"),
        );
        return Vec::new();
    };
    a.iter()
        .filter_map(|e| match e.get_ref() {
            DeValue::Table(t) => Some(Table::new(t, e.span(), section)),
            _ => {
                wrong_type(sink, key, e, "a table");
                None
            }
        })
        .collect()
}
