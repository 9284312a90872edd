//! A minimal HTTP/1.1 client for the switchboard's local JSON API: one request per
//! connection, `Connection: close`. Twenty lines do not justify an HTTP client crate.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// The address to reach a server listening on `addr` (a wildcard listen means loopback).
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    }
}

/// Sends one request and returns the status code and the body.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    user: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nX-Vaxel-User: {user}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Turns the API's JSON list into one line per override (the JSON is ours and flat).
pub fn format_list(json: &str) -> String {
    let rows: Vec<String> = json
        .split('}')
        .filter_map(|obj| {
            let field = |name: &str| {
                let key = format!("\"{name}\":\"");
                let start = obj.find(&key)? + key.len();
                let end = obj.get(start..)?.find('"')? + start;
                obj.get(start..end).map(str::to_string)
            };
            Some(format!(
                "{} {} {} (set by {} at {})",
                field("schedule")?,
                field("date")?,
                field("hours")?,
                field("set_by")?,
                field("set_at")?
            ))
        })
        .collect();
    if rows.is_empty() {
        "no overrides".to_string()
    } else {
        rows.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped_and_lists_formatted() {
        assert_eq!(json_string("a\"b\\c"), r#""a\"b\\c""#);
        let list = r#"[{"schedule":"office-hours","date":"2026-12-23","hours":"10:00-14:00","set_by":"anna","set_at":"2026-12-01T09:00:00Z"}]"#;
        assert_eq!(
            format_list(list),
            "office-hours 2026-12-23 10:00-14:00 (set by anna at 2026-12-01T09:00:00Z)"
        );
        assert_eq!(format_list("[]"), "no overrides");
    }
}
