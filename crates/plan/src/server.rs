//! `[server]`: every key has a default, so a file without it works.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::diag::Sink;
use crate::listen::Listen;
use crate::model::ServerConfig;
use crate::read::Table;

const KEYS: &[&str] = &[
    "name",
    "timezone",
    "country_code",
    "sip",
    "media_address",
    "rtp_ports",
    "http",
    "data_dir",
    "sounds_dir",
    "digest",
    "media_realtime",
    "rtp_timeout",
];

/// Digest algorithms a phone may be challenged with (RFC 7616, RFC 8760).
pub const DIGEST_ALGORITHMS: &[&str] = &["SHA-256", "SHA-512-256", "MD5"];

impl ServerConfig {
    /// The defaults, with `data_dir`/`sounds_dir` resolved against `config_dir`.
    pub fn defaults(config_dir: &Path) -> Self {
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        ServerConfig {
            name: "vaxel".into(),
            timezone: "Europe/Stockholm".into(),
            country_code: None,
            sip: vec![
                Listen {
                    transport: crate::Transport::Udp,
                    addr: SocketAddr::new(any, 5060),
                },
                Listen {
                    transport: crate::Transport::Tcp,
                    addr: SocketAddr::new(any, 5060),
                },
            ],
            media_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            rtp_ports: (20000, 29999),
            http: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080),
            data_dir: config_dir.join("data"),
            sounds_dir: config_dir.join("sounds"),
            digest: vec!["SHA-256".into(), "MD5".into()],
            media_realtime: false,
            rtp_timeout: None,
        }
    }
}

fn parse_ports(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("`{s}` is not LOW-HIGH"))?;
    let port = |p: &str| {
        p.trim()
            .parse::<u16>()
            .map_err(|_| format!("`{p}` is not a port number (1-65535)"))
    };
    let (lo, hi) = (port(a)?, port(b)?);
    if lo == 0 {
        return Err("port 0 cannot be used".into());
    }
    if lo >= hi {
        return Err(format!("the range {lo}-{hi} is empty or reversed"));
    }
    Ok((lo, hi))
}

fn valid_timezone(name: &str) -> bool {
    let db = jiff::tz::db();
    // Without a time zone database on this host, only the form can be checked.
    if db.is_definitively_empty() {
        return !name.is_empty() && !name.contains(char::is_whitespace);
    }
    db.get(name).is_ok()
}

/// Reads `[server]` (if present); relative directories are resolved against `config_dir`.
pub(crate) fn read_server(
    sink: &mut Sink<'_>,
    t: Option<Table<'_, '_>>,
    config_dir: &Path,
) -> ServerConfig {
    let mut s = ServerConfig::defaults(config_dir);
    let Some(t) = t else {
        return s;
    };
    t.check_keys(sink, KEYS);
    if let Some(v) = t.str(sink, "name") {
        s.name = v.into_inner();
    }
    if let Some(v) = t.str(sink, "timezone") {
        if valid_timezone(v.get_ref()) {
            s.timezone = v.into_inner();
        } else {
            sink.hint(
                &v.span(),
                format!("unknown time zone `{}`", v.get_ref()),
                "use an IANA name like \"Europe/Stockholm\" or \"UTC\"",
            );
        }
    }
    if let Some(v) = t.str(sink, "country_code") {
        let cc = v.get_ref().trim_start_matches('+');
        let ok = (1..=3).contains(&cc.len())
            && cc.bytes().all(|b| b.is_ascii_digit())
            && !cc.starts_with('0');
        if ok {
            s.country_code = Some(cc.to_string());
        } else {
            sink.hint(
                &v.span(),
                format!("`{}` is not a country calling code", v.get_ref()),
                "1 to 3 digits without leading 0, like \"46\"",
            );
        }
    }
    if t.get("sip").is_some() {
        let list = t.str_list(sink, "sip");
        let mut sip = Vec::new();
        for v in &list {
            match v.get_ref().parse::<Listen>() {
                Ok(l) => sip.push(l),
                Err(e) => sink.hint(
                    &v.span(),
                    format!("bad listen address: {e}"),
                    "write listen addresses like \"udp://0.0.0.0:5060\" or \"tcp://[::]:5060\"",
                ),
            }
        }
        if let (true, Some(v)) = (list.is_empty(), t.get("sip")) {
            sink.error(&v.span(), "`sip` lists no listen address");
        }
        s.sip = sip;
    }
    if let Some(v) = t.str(sink, "media_address") {
        match v.get_ref().parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() => sink.hint(
                &v.span(),
                format!("media_address `{ip}` cannot be reached by phones"),
                "it is written into SDP: use the address phones and trunks send RTP to",
            ),
            Ok(ip) => s.media_address = ip,
            Err(_) => sink.error(&v.span(), format!("`{}` is not an IP address", v.get_ref())),
        }
    }
    if let Some(v) = t.str(sink, "rtp_ports") {
        match parse_ports(v.get_ref()) {
            Ok(p) => s.rtp_ports = p,
            Err(e) => sink.hint(
                &v.span(),
                format!("bad rtp_ports: {e}"),
                "write a range like \"20000-29999\"",
            ),
        }
    }
    if let Some(v) = t.str(sink, "http") {
        match v.get_ref().parse::<SocketAddr>() {
            Ok(a) => s.http = a,
            Err(_) => sink.hint(
                &v.span(),
                format!("`{}` is not IP:PORT", v.get_ref()),
                "like \"127.0.0.1:8080\"",
            ),
        }
    }
    if let Some(b) = t.bool(sink, "media_realtime") {
        s.media_realtime = b;
    }
    if let Some(d) = t.duration(sink, "rtp_timeout") {
        s.rtp_timeout = (!d.is_zero()).then_some(d);
    }
    if t.get("digest").is_some() {
        let list = t.str_list(sink, "digest");
        let mut algorithms = Vec::new();
        for v in &list {
            match DIGEST_ALGORITHMS
                .iter()
                .find(|a| a.eq_ignore_ascii_case(v.get_ref()))
            {
                Some(a) if !algorithms.iter().any(|x: &String| x == a) => {
                    algorithms.push(a.to_string())
                }
                Some(_) => sink.error(&v.span(), format!("`{}` is listed twice", v.get_ref())),
                None => sink.hint(
                    &v.span(),
                    format!("unknown digest algorithm `{}`", v.get_ref()),
                    "use \"SHA-256\", \"SHA-512-256\" or \"MD5\"",
                ),
            }
        }
        match (list.is_empty(), t.get("digest")) {
            (true, Some(v)) => sink.error(&v.span(), "`digest` lists no algorithm"),
            _ => s.digest = algorithms,
        }
    }
    for (key, slot) in [
        ("data_dir", &mut s.data_dir),
        ("sounds_dir", &mut s.sounds_dir),
    ] {
        if let Some(v) = t.str(sink, key) {
            if v.get_ref().is_empty() {
                sink.error(&v.span(), format!("`{key}` is empty"));
            } else {
                *slot = config_dir.join(PathBuf::from(v.get_ref()));
            }
        }
    }
    s
}
