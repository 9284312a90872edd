//! Reading a server's `Digest` challenges and answering them: the arithmetic is the server's
//! ([`crate::digest::compute_response`]), so both sides agree by construction.

use std::collections::HashMap;

use thiserror::Error;
use vaxel_sip::{Request, Response};

use crate::credentials::parse_auth_header;
use crate::digest::{
    AUTHORIZATION, Algorithm, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, Qop, ResponseInput,
    WWW_AUTHENTICATE, compute_response, quote,
};
use crate::error::DigestError;

/// Why a challenge cannot be answered. Every variant is the server's doing (a malformed or
/// an incompatible challenge): retrying with the same credentials will not help.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChallengeError {
    /// The value does not follow the auth-param grammar (or repeats a parameter).
    #[error("malformed challenge: {0}")]
    Syntax(DigestError),
    /// A scheme other than `Digest` (`Basic` is never sent over SIP).
    #[error("challenge scheme `{0}` is not Digest")]
    UnknownScheme(String),
    /// `realm` or `nonce` is absent.
    #[error("challenge without `{0}`")]
    Missing(&'static str),
    /// An algorithm we cannot compute (`SHA-1`, `AKAv1-MD5`).
    #[error("unsupported digest algorithm `{0}`")]
    UnknownAlgorithm(String),
    /// A `qop` list without `auth` (`auth-int` alone is not answered).
    #[error("no qop we can answer (offered `{0}`)")]
    UnsupportedQop(String),
    /// A 401/407 without any `WWW-Authenticate`/`Proxy-Authenticate`.
    #[error("401/407 without a challenge header")]
    NoChallenge,
}

/// One `Digest` challenge from `WWW-Authenticate` (401) or `Proxy-Authenticate` (407), with
/// the qop already chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    /// From `Proxy-Authenticate`: answered in `Proxy-Authorization`.
    pub proxy: bool,
    /// Protection realm; a request may need one answer per realm.
    pub realm: String,
    /// Server nonce, echoed and hashed.
    pub nonce: String,
    /// Opaque server state, echoed unchanged.
    pub opaque: Option<String>,
    /// The algorithm of this challenge (MD5 when absent, RFC 2617).
    pub algorithm: Algorithm,
    /// `Some(Auth)` when the server offered `auth`; `None` means the RFC 2069 form.
    pub qop: Option<Qop>,
    /// `stale=true`: the nonce expired but the credentials were right; answer again at once.
    pub stale: bool,
}

/// What an answer hashes besides the challenge.
#[derive(Debug, Clone, Copy)]
pub struct DigestAnswer<'a> {
    /// The digest user name.
    pub username: &'a str,
    /// The shared secret.
    pub password: &'a str,
    /// Method of the request being signed (`REGISTER`, `INVITE`).
    pub method: &'a str,
    /// The Request-URI as sent; it becomes `uri=`.
    pub uri: &'a str,
    /// Client nonce; drawn at random by the caller (nothing here draws randomness).
    pub cnonce: &'a str,
    /// Nonce count: 1 for a fresh nonce, then one more per request (see [`NonceCounts`]).
    pub nc: u32,
}

impl DigestChallenge {
    /// Parses one challenge header value; `proxy` says which header it came from. RFC 3261
    /// §7.3.1 forbids combining challenges on one line, so a value is one challenge.
    pub fn parse(value: &str, proxy: bool) -> Result<DigestChallenge, ChallengeError> {
        let header = parse_auth_header(value).map_err(ChallengeError::Syntax)?;
        if !header.scheme.eq_ignore_ascii_case("Digest") {
            return Err(ChallengeError::UnknownScheme(header.scheme.to_string()));
        }
        let need = |name: &'static str| header.get(name).ok_or(ChallengeError::Missing(name));
        let algorithm = match header.get("algorithm") {
            None => Algorithm::Md5,
            Some(a) => Algorithm::parse(a)
                .ok_or_else(|| ChallengeError::UnknownAlgorithm(a.to_string()))?,
        };
        let qop = match header.get("qop") {
            None => None,
            Some(list) => {
                let offers_auth = list
                    .split(',')
                    .any(|q| Qop::parse(q.trim()) == Some(Qop::Auth));
                if !offers_auth {
                    return Err(ChallengeError::UnsupportedQop(list.to_string()));
                }
                Some(Qop::Auth)
            }
        };
        Ok(DigestChallenge {
            proxy,
            realm: need("realm")?.to_string(),
            nonce: need("nonce")?.to_string(),
            opaque: header.get("opaque").map(str::to_string),
            algorithm,
            qop,
            stale: header
                .get("stale")
                .is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The header the answer goes in: `Authorization` or `Proxy-Authorization`.
    pub fn answer_header(&self) -> &'static str {
        if self.proxy {
            PROXY_AUTHORIZATION
        } else {
            AUTHORIZATION
        }
    }

    /// The `Authorization`/`Proxy-Authorization` value answering this challenge.
    pub fn answer(&self, a: &DigestAnswer<'_>) -> String {
        let nc = format!("{:08x}", a.nc);
        let response = compute_response(&ResponseInput {
            algorithm: self.algorithm,
            username: a.username,
            realm: &self.realm,
            password: a.password,
            method: a.method,
            uri: a.uri,
            nonce: &self.nonce,
            qop: self.qop,
            nc: &nc,
            cnonce: a.cnonce,
            body_hash: "",
        });
        let mut v = format!(
            "Digest username={}, realm={}, nonce={}, uri={}, response={}, algorithm={}",
            quote(a.username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(a.uri),
            quote(&response),
            self.algorithm,
        );
        if let Some(q) = self.qop {
            v.push_str(&format!(
                ", qop={}, nc={nc}, cnonce={}",
                q.name(),
                quote(a.cnonce)
            ));
        } else if self.algorithm.is_session() {
            // -sess hashes the cnonce into H(A1) even without qop: the server needs it.
            v.push_str(&format!(", cnonce={}", quote(a.cnonce)));
        }
        if let Some(o) = &self.opaque {
            v.push_str(&format!(", opaque={}", quote(o)));
        }
        v
    }
}

/// How much an algorithm is trusted: the hash decides; `-sess` adds nothing for SIP.
fn strength(a: Algorithm) -> u8 {
    match a {
        Algorithm::Md5 | Algorithm::Md5Sess => 0,
        Algorithm::Sha256 | Algorithm::Sha256Sess => 1,
        Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => 2,
    }
}

/// The challenges of a 401/407 worth answering: for each realm (per header kind), the
/// strongest algorithm we support, ties going to the one the server listed first (RFC 8760
/// §2.4 has servers list their preference first). Challenges we cannot answer are skipped;
/// only when none is left is the first problem returned.
pub fn challenges(resp: &Response) -> Result<Vec<DigestChallenge>, ChallengeError> {
    let mut chosen: Vec<DigestChallenge> = Vec::new();
    let mut first_error = None;
    let lines = resp
        .headers
        .get_all(WWW_AUTHENTICATE)
        .map(|v| (v, false))
        .chain(resp.headers.get_all(PROXY_AUTHENTICATE).map(|v| (v, true)));
    for (value, proxy) in lines {
        match DigestChallenge::parse(value, proxy) {
            Ok(c) => {
                let slot = chosen
                    .iter_mut()
                    .find(|k| k.proxy == c.proxy && k.realm == c.realm);
                match slot {
                    Some(k) if strength(c.algorithm) > strength(k.algorithm) => *k = c,
                    Some(_) => {}
                    None => chosen.push(c),
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if chosen.is_empty() {
        return Err(first_error.unwrap_or(ChallengeError::NoChallenge));
    }
    Ok(chosen)
}

/// Nonce counts per realm: a nonce reused for another request must carry a higher `nc`, or
/// the server takes it for a replay (RFC 7616 §3.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NonceCounts {
    by_realm: HashMap<String, (String, u32)>,
}

impl NonceCounts {
    /// The `nc` for the next request answering `nonce` in `realm`: 1 for a nonce not seen
    /// before (which replaces the realm's old one), then 2, 3, ...
    pub fn next(&mut self, realm: &str, nonce: &str) -> u32 {
        match self.by_realm.get_mut(realm) {
            Some((n, count)) if n == nonce => {
                *count = count.saturating_add(1);
                *count
            }
            Some(slot) => {
                *slot = (nonce.to_string(), 1);
                1
            }
            None => {
                self.by_realm
                    .insert(realm.to_string(), (nonce.to_string(), 1));
                1
            }
        }
    }

    /// Forgets every realm (after the credentials were refused, say).
    pub fn clear(&mut self) {
        self.by_realm.clear();
    }
}

/// Signs `request` for each challenge: drops any earlier `Authorization` and
/// `Proxy-Authorization` lines (RFC 3261 §22.2: a retry carries only the current answers)
/// and adds one answer per challenge, counting nonces in `counts`.
pub fn authorize(
    request: &mut Request,
    challenges: &[DigestChallenge],
    username: &str,
    password: &str,
    cnonce: &str,
    counts: &mut NonceCounts,
) {
    request.headers.remove(AUTHORIZATION);
    request.headers.remove(PROXY_AUTHORIZATION);
    let method = request.method.to_string();
    let uri = request.uri.to_string();
    for c in challenges {
        let nc = counts.next(&c.realm, &c.nonce);
        let value = c.answer(&DigestAnswer {
            username,
            password,
            method: &method,
            uri: &uri,
            cnonce,
            nc,
        });
        request.headers.push(c.answer_header(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::DigestCredentials;

    #[test]
    fn parses_a_full_challenge() {
        let c = DigestChallenge::parse(
            r#"Digest realm="atlanta.com", domain="sip:ss1.carrier.com", qop="auth,auth-int", nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=TRUE, algorithm=SHA-256"#,
            true,
        )
        .unwrap();
        assert_eq!(c.realm, "atlanta.com");
        assert_eq!(c.nonce, "f84f1cec41e6cbe5aea9c8e88d359");
        assert_eq!(c.opaque.as_deref(), Some(""));
        assert_eq!(c.algorithm, Algorithm::Sha256);
        assert_eq!(c.qop, Some(Qop::Auth));
        assert!(c.stale && c.proxy);
        assert_eq!(c.answer_header(), "Proxy-Authorization");
    }

    #[test]
    fn defaults_to_md5_without_qop() {
        let c = DigestChallenge::parse(r#"Digest realm="r", nonce="n""#, false).unwrap();
        assert_eq!((c.algorithm, c.qop, c.stale), (Algorithm::Md5, None, false));
    }

    #[test]
    fn answer_parses_back_with_every_parameter() {
        let c = DigestChallenge::parse(
            r#"Digest realm="r\"q", nonce="n", opaque="op", qop="auth", algorithm=MD5-sess"#,
            false,
        )
        .unwrap();
        let v = c.answer(&DigestAnswer {
            username: "bob",
            password: "pw",
            method: "REGISTER",
            uri: "sip:r",
            cnonce: "cn",
            nc: 0x1a,
        });
        let back = DigestCredentials::parse(&v).unwrap();
        assert_eq!(back.realm, "r\"q");
        assert_eq!(back.nc, "0000001a");
        assert_eq!(back.cnonce, "cn");
        assert_eq!(back.opaque.as_deref(), Some("op"));
        assert_eq!(back.algorithm, Algorithm::Md5Sess);
        assert_eq!(back.qop, Some(Qop::Auth));
    }

    #[test]
    fn rfc2069_sess_answer_still_carries_the_cnonce() {
        let c = DigestChallenge::parse(
            r#"Digest realm="r", nonce="n", algorithm=SHA-256-sess"#,
            false,
        )
        .unwrap();
        let v = c.answer(&DigestAnswer {
            username: "u",
            password: "p",
            method: "INVITE",
            uri: "sip:x",
            cnonce: "abc",
            nc: 1,
        });
        assert!(v.contains("cnonce=\"abc\"") && !v.contains("qop"), "{v}");
    }

    #[test]
    fn nonce_counts_rise_per_nonce_and_reset_on_a_new_one() {
        let mut n = NonceCounts::default();
        assert_eq!(n.next("r", "a"), 1);
        assert_eq!(n.next("r", "a"), 2);
        assert_eq!(n.next("other", "a"), 1);
        assert_eq!(n.next("r", "b"), 1);
        assert_eq!(n.next("r", "b"), 2);
        n.clear();
        assert_eq!(n.next("r", "b"), 1);
    }
}
