//! Diagnostics with `file:line:col`, the way rustc reports them.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One error found in a config file, pointing at the offending value (or key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The config file as it was named to us.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when we can tell.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// Maps byte offsets of the source to 1-based line and character column.
pub(crate) struct LineIndex<'s> {
    source: &'s str,
    starts: Vec<usize>,
}

impl<'s> LineIndex<'s> {
    pub(crate) fn new(source: &'s str) -> Self {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { source, starts }
    }

    /// Line and column of a byte offset (clamped to the source).
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.source.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let col = self
            .source
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line, col + 1)
    }
}

/// Collects diagnostics while a config is read, so every error is reported at once.
pub(crate) struct Sink<'s> {
    file: PathBuf,
    lines: LineIndex<'s>,
    diags: Vec<Diagnostic>,
}

impl<'s> Sink<'s> {
    pub(crate) fn new(file: &Path, source: &'s str) -> Self {
        Sink {
            file: file.to_path_buf(),
            lines: LineIndex::new(source),
            diags: Vec::new(),
        }
    }

    /// Records an error at the start of `span`.
    pub(crate) fn error(&mut self, span: &Range<usize>, message: impl Into<String>) {
        self.push(span, message.into(), None);
    }

    /// Records an error with a hint.
    pub(crate) fn hint(
        &mut self,
        span: &Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.push(span, message.into(), Some(hint.into()));
    }

    fn push(&mut self, span: &Range<usize>, message: String, hint: Option<String>) {
        let (line, col) = self.lines.line_col(span.start);
        self.diags.push(Diagnostic {
            file: self.file.clone(),
            line,
            col,
            message,
            hint,
        });
    }

    /// `line:col` of a span, for messages that point at another place.
    pub(crate) fn at(&self, span: &Range<usize>) -> String {
        let (line, col) = self.lines.line_col(span.start);
        format!("{line}:{col}")
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.diags.is_empty()
    }

    /// All diagnostics, in file order.
    pub(crate) fn finish(mut self) -> Vec<Diagnostic> {
        self.diags.sort_by_key(|d| (d.line, d.col));
        self.diags.dedup();
        self.diags
    }
}

/// A "did you mean" hint, else the list of valid names.
pub(crate) fn suggest(word: &str, valid: &[&str]) -> String {
    let best = valid
        .iter()
        .map(|v| (edit_distance(word, v), *v))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, v)) if d <= 2 && d < word.len().max(1) => format!("did you mean `{v}`?"),
        _ => format!("valid keys: {}", valid.join(", ")),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            let del = prev[j + 1] + 1;
            let ins = cur[j] + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_chars() {
        let idx = LineIndex::new("ab\nö = 1\n");
        assert_eq!(idx.line_col(0), (1, 1));
        assert_eq!(idx.line_col(3), (2, 1));
        assert_eq!(idx.line_col(6), (2, 3));
    }

    #[test]
    fn suggests_close_names() {
        assert_eq!(
            suggest("extention", &["id", "extension"]),
            "did you mean `extension`?"
        );
        assert_eq!(suggest("zzzzzz", &["id", "name"]), "valid keys: id, name");
    }

    #[test]
    fn display_like_rustc() {
        let d = Diagnostic {
            file: "v.toml".into(),
            line: 3,
            col: 7,
            message: "bad".into(),
            hint: Some("fix".into()),
        };
        assert_eq!(d.to_string(), "v.toml:3:7: error: bad\n  = hint: fix");
    }
}
