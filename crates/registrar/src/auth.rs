//! The digest authenticator: challenges out, credentials in, a verdict. It owns the nonce
//! manager; user lookup is a callback so passwords stay wherever the engine keeps its config.

use vaxel_sip::Request;

use crate::credentials::DigestCredentials;
use crate::digest::{
    AUTHORIZATION, Algorithm, Challenge, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, Qop,
    ResponseInput, WWW_AUTHENTICATE, compute_response, constant_time_eq,
};
use crate::nonce::{CountCheck, NonceConfig, NonceManager, NonceStatus};

/// What the engine knows about a user, looked up by the digest `username` (an extension or a
/// user id, as the engine decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user id reported in [`AuthOutcome::Ok`].
    pub user: String,
    /// The digest password.
    pub password: String,
}

/// How the authenticator challenges and what it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Algorithms offered, one challenge header each, in order of preference. RFC 8760 §2.4:
    /// the preferred (SHA-256) first, MD5 last for the phones that know nothing else.
    pub algorithms: Vec<Algorithm>,
    /// Accept RFC 2069 answers without `qop` (old phones). Such answers have no nonce count,
    /// so a captured one can be replayed until its nonce expires.
    pub allow_no_qop: bool,
    /// Nonce lifetime and replay table size.
    pub nonce: NonceConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            allow_no_qop: true,
            nonce: NonceConfig::default(),
        }
    }
}

/// The verdict on a request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Authenticated as this user.
    Ok {
        /// [`Credentials::user`] of the matching user.
        user: String,
    },
    /// Answer 401/407 with [`Authenticator::challenge`].
    Challenge {
        /// The password was right but the nonce is stale: send `stale=true`.
        stale: bool,
        /// The request carried a digest answer that did not match: a wrong password or an
        /// unknown user (indistinguishable on the wire). The engine feeds these, and only
        /// these, to [`crate::FailureTracker::record_failure`].
        failed: bool,
    },
    /// A correct answer with a nonce count already used: a replay. Answer 403.
    Forbidden,
}

/// Issues challenges and verifies digest answers.
#[derive(Debug, Clone)]
pub struct Authenticator {
    config: AuthConfig,
    nonces: NonceManager,
}

impl Authenticator {
    /// An authenticator sealing its nonces with `secret` (32 random bytes drawn by the engine).
    pub fn new(secret: [u8; 32], config: AuthConfig) -> Authenticator {
        Authenticator {
            nonces: NonceManager::new(secret, config.nonce),
            config,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The challenge headers for a 401 (`proxy = false`: `WWW-Authenticate`) or a 407
    /// (`Proxy-Authenticate`): one per configured algorithm, sharing one fresh nonce. The
    /// shape depends only on `realm` and `stale`, never on who asked.
    pub fn challenge(
        &mut self,
        now: u64,
        realm: &str,
        stale: bool,
        proxy: bool,
    ) -> Vec<(&'static str, String)> {
        let name = if proxy {
            PROXY_AUTHENTICATE
        } else {
            WWW_AUTHENTICATE
        };
        let nonce = self.nonces.issue(now, realm);
        self.config
            .algorithms
            .iter()
            .map(|&algorithm| {
                let c = Challenge {
                    realm: realm.to_string(),
                    nonce: nonce.clone(),
                    algorithm,
                    qop: true,
                    stale,
                };
                (name, c.to_string())
            })
            .collect()
    }

    /// Verifies the request's `Authorization` (or, with `proxy`, `Proxy-Authorization`) for
    /// `realm`. `users` maps a digest username to its credentials. An unknown user costs the
    /// same hashing as a known one and yields the same outcome as a wrong password.
    pub fn verify(
        &mut self,
        now: u64,
        request: &Request,
        realm: &str,
        proxy: bool,
        users: &dyn Fn(&str) -> Option<Credentials>,
    ) -> AuthOutcome {
        let header = if proxy {
            PROXY_AUTHORIZATION
        } else {
            AUTHORIZATION
        };
        let no_answer = AuthOutcome::Challenge {
            stale: false,
            failed: false,
        };
        let Some(creds) = request
            .headers
            .get_all(header)
            .filter_map(|v| DigestCredentials::parse(v).ok())
            .find(|c| c.realm == realm)
        else {
            return no_answer;
        };
        if !self.config.algorithms.contains(&creds.algorithm)
            || (creds.qop.is_none() && !self.config.allow_no_qop)
        {
            return no_answer;
        }
        let user = users(&creds.username);
        // An unknown user is hashed against a placeholder so timing does not tell them apart.
        let password = user
            .as_ref()
            .map_or("\u{0}unknown", |u| u.password.as_str());
        let method = request.method.to_string();
        let body_hash = match creds.qop {
            Some(Qop::AuthInt) => creds.algorithm.hash_hex(&request.body),
            _ => String::new(),
        };
        let expected = compute_response(&ResponseInput {
            algorithm: creds.algorithm,
            username: &creds.username,
            realm,
            password,
            method: &method,
            uri: &creds.uri,
            nonce: &creds.nonce,
            qop: creds.qop,
            nc: &creds.nc,
            cnonce: &creds.cnonce,
            body_hash: &body_hash,
        });
        let matches = constant_time_eq(expected.as_bytes(), creds.response.as_bytes());
        let Some(user) = user.filter(|_| matches) else {
            return AuthOutcome::Challenge {
                stale: false,
                failed: true,
            };
        };
        let stale = AuthOutcome::Challenge {
            stale: true,
            failed: false,
        };
        match self.nonces.check(now, realm, &creds.nonce) {
            NonceStatus::Stale | NonceStatus::Invalid => stale,
            NonceStatus::Fresh(id) => match creds.qop {
                None => AuthOutcome::Ok { user: user.user },
                Some(_) => match self.nonces.record_count(now, id, creds.nc_value) {
                    CountCheck::Accepted => AuthOutcome::Ok { user: user.user },
                    CountCheck::Replay => AuthOutcome::Forbidden,
                    CountCheck::Forgotten => stale,
                },
            },
        }
    }

    /// Drops the replay state of expired nonces (also done as counts are recorded).
    pub fn purge(&mut self, now: u64) {
        self.nonces.purge(now);
    }
}
