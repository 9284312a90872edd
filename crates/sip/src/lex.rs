//! Character classes and small scanners of the RFC 3261 grammar.

/// `token` characters (§25.1).
pub fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '.' | '!' | '%' | '*' | '_' | '+' | '`' | '\'' | '~'
        )
}

/// A non-empty token.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

/// Linear white space inside an unfolded value.
pub fn is_lws(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Splits `s` at top-level occurrences of `sep`, outside quoted strings and `<...>`.
pub fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quote = false;
    let mut in_angle = false;
    let mut escaped = false;
    // Bytes, not chars: every delimiter is ASCII, and no byte of a multi-byte UTF-8
    // sequence is, so a non-ASCII `sep` falls back to the char scanner.
    if !sep.is_ascii() {
        return split_top_chars(s, sep);
    }
    let sep = sep as u8;
    // Most values hold no separator at all: one memchr instead of the scanner.
    if !s.as_bytes().contains(&sep) {
        out.push(s);
        return out;
    }
    for (i, &c) in s.as_bytes().iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            b'\\' if in_quote => escaped = true,
            b'"' => in_quote = !in_quote,
            b'<' if !in_quote => in_angle = true,
            b'>' if !in_quote => in_angle = false,
            c if c == sep && !in_quote && !in_angle => {
                out.push(s.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s.get(start..).unwrap_or(""));
    out
}

fn split_top_chars(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quote = false;
    let mut in_angle = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            '<' if !in_quote => in_angle = true,
            '>' if !in_quote => in_angle = false,
            c if c == sep && !in_quote && !in_angle => {
                out.push(s.get(start..i).unwrap_or(""));
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(s.get(start..).unwrap_or(""));
    out
}

/// Reads a quoted string at the start of `s` (which begins with `"`): returns the
/// unescaped content and the rest after the closing quote, or `None` if it never closes.
pub fn quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    chars.next(); // opening quote
    let mut escaped = false;
    for (i, c) in chars {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return Some((out, &s[i + 1..]));
        } else {
            out.push(c);
        }
    }
    None
}

/// Parses `;name[=value]` parameters (LWS allowed around `;` and `=`); values may be
/// tokens, hosts or quoted strings (kept with their quotes). Empty names are an error.
pub fn params(s: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    let s = s.trim_matches(is_lws);
    if s.is_empty() {
        return Ok(out);
    }
    let Some(rest) = s.strip_prefix(';') else {
        return Err(format!("expected `;` before `{s}`"));
    };
    for part in split_top(rest, ';') {
        let part = part.trim_matches(is_lws);
        let (name, value) = match part.split_once('=') {
            Some((n, v)) => (n.trim_matches(is_lws), Some(v.trim_matches(is_lws))),
            None => (part, None),
        };
        if !is_token(name) {
            return Err(format!("bad parameter name `{name}`"));
        }
        if let Some(v) = value {
            let ok = if v.starts_with('"') {
                quoted(v).is_some_and(|(_, rest)| rest.is_empty())
            } else {
                !v.is_empty() && v.chars().all(|c| is_token_char(c) || "[]:".contains(c))
            };
            if !ok {
                return Err(format!("bad value for parameter `{name}`"));
            }
        }
        out.push((name.to_string(), value.map(str::to_string)));
    }
    Ok(out)
}

/// Writes parameters back as `;name=value`.
pub fn write_params(
    f: &mut std::fmt::Formatter<'_>,
    params: &[(String, Option<String>)],
) -> std::fmt::Result {
    for (k, v) in params {
        match v {
            Some(v) => write!(f, ";{k}={v}")?,
            None => write!(f, ";{k}")?,
        }
    }
    Ok(())
}

/// Percent-decodes `s`; invalid escapes are kept literally (RFC 4475 esc02).
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b.get(i),
            b.get(i + 1).and_then(|c| hex(*c)),
            b.get(i + 2).and_then(|c| hex(*c)),
        ) {
            (Some(b'%'), Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (Some(c), _, _) => {
                out.push(*c);
                i += 1;
            }
            (None, _, _) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
