//! The registrar's binding table and the REGISTER processing of RFC 3261 §10.3 (steps 6-8):
//! contact lists, expiry limits, `*`, and Call-ID/CSeq ordering. Authentication and the AoR
//! check (steps 1-5) come before, in the engine; storage comes after, from [`Change`]s.

use std::collections::HashMap;
use std::net::SocketAddr;

use vaxel_sip::{NameAddr, Request, SipMessage};

use crate::binding::{Binding, Transport, contact_key, parse_q};
use crate::error::RegisterError;

/// Expiry limits and per-user cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Shortest registration accepted (below: 423 with `Min-Expires`).
    pub min_expires: u32,
    /// Longest registration granted (above: shortened to this).
    pub max_expires: u32,
    /// Used when neither the contact nor the request gives an expiry.
    pub default_expires: u32,
    /// Most contacts one user may have bound at once.
    pub max_contacts: usize,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts: 10,
        }
    }
}

/// What a REGISTER changed, for the engine to write to storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new binding.
    Added(Binding),
    /// An existing binding renewed (expiry, source, CSeq may all have changed).
    Refreshed(Binding),
    /// A binding removed (expires=0, `*`, or found lapsed).
    Removed(Binding),
}

/// The outcome of an accepted REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterResult {
    /// Every live binding of the user afterwards: the Contact list of the 200.
    pub bindings_now: Vec<Binding>,
    /// What changed.
    pub changes: Vec<Change>,
}

impl RegisterResult {
    /// The Contact header values of the 200 OK (RFC 3261 §10.3 step 8).
    pub fn contact_values(&self, now: u64) -> Vec<String> {
        self.bindings_now
            .iter()
            .map(|b| b.contact_value(now))
            .collect()
    }
}

/// The binding table: users to their contacts.
#[derive(Debug, Clone, Default)]
pub struct Registrar {
    config: RegistrarConfig,
    by_user: HashMap<String, Vec<Binding>>,
}

/// One Contact of the request, checked.
struct Wanted {
    key: String,
    contact: String,
    expires: u32,
    q: u16,
}

impl Registrar {
    /// An empty table.
    pub fn new(config: RegistrarConfig) -> Registrar {
        Registrar {
            config,
            by_user: HashMap::new(),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> RegistrarConfig {
        self.config
    }

    /// Applies a REGISTER for `aor_user` (already authenticated and authorised for it) that
    /// came from `source` over `transport`. All or nothing: on error nothing changes.
    /// Without Contact it is a query and only reports the current bindings.
    pub fn register(
        &mut self,
        now: u64,
        aor_user: &str,
        req: &Request,
        source: SocketAddr,
        transport: Transport,
    ) -> Result<RegisterResult, RegisterError> {
        let call_id = req
            .call_id()
            .map_err(|e| RegisterError::BadRequest(e.to_string()))?
            .to_string();
        let cseq = req
            .cseq()
            .map_err(|e| RegisterError::BadRequest(e.to_string()))?
            .seq;
        let values = req.headers.values("Contact");
        let mut changes = Vec::new();
        let mut list: Vec<Binding> = Vec::new();
        for b in self.by_user.get(aor_user).into_iter().flatten() {
            if b.is_live(now) {
                list.push(b.clone());
            } else {
                changes.push(Change::Removed(b.clone()));
            }
        }
        if values.contains(&"*") {
            if values.len() != 1 || req.expires() != Some(0) {
                return Err(RegisterError::BadRequest(
                    "`Contact: *` must stand alone, with `Expires: 0`".into(),
                ));
            }
            for b in &list {
                check_order(b, &call_id, cseq)?;
            }
            changes.extend(list.drain(..).map(Change::Removed));
        } else {
            for w in self.wanted(req, &values)? {
                let existing = list.iter().position(|b| contact_key(&b.contact) == w.key);
                match existing.and_then(|i| list.get(i).map(|b| (i, b))) {
                    Some((i, b)) => {
                        check_order(b, &call_id, cseq)?;
                        if w.expires == 0 {
                            changes.push(Change::Removed(list.remove(i)));
                        } else if let Some(b) = list.get_mut(i) {
                            b.contact = w.contact;
                            b.source = source;
                            b.transport = transport;
                            b.expires_at = now.saturating_add(u64::from(w.expires));
                            b.call_id.clone_from(&call_id);
                            b.cseq = cseq;
                            b.q = w.q;
                            changes.push(Change::Refreshed(b.clone()));
                        }
                    }
                    None if w.expires == 0 => {}
                    None => {
                        let b = Binding {
                            user: aor_user.to_string(),
                            contact: w.contact,
                            source,
                            transport,
                            expires_at: now.saturating_add(u64::from(w.expires)),
                            call_id: call_id.clone(),
                            cseq,
                            q: w.q,
                        };
                        list.push(b.clone());
                        changes.push(Change::Added(b));
                    }
                }
            }
            if list.len() > self.config.max_contacts {
                return Err(RegisterError::TooManyContacts {
                    max: self.config.max_contacts,
                });
            }
        }
        if list.is_empty() {
            self.by_user.remove(aor_user);
        } else {
            self.by_user.insert(aor_user.to_string(), list.clone());
        }
        Ok(RegisterResult {
            bindings_now: list,
            changes,
        })
    }

    /// The request's contacts with their expiry settled; a contact named twice counts once
    /// (the last one).
    fn wanted(&self, req: &Request, values: &[&str]) -> Result<Vec<Wanted>, RegisterError> {
        let cfg = self.config;
        let header_expires = req.expires();
        let mut out: Vec<Wanted> = Vec::with_capacity(values.len());
        for v in values {
            let na = NameAddr::parse(v)
                .map_err(|e| RegisterError::BadRequest(format!("Contact `{v}`: {e}")))?;
            if !na.uri.is_sip() {
                return Err(RegisterError::BadRequest(format!(
                    "Contact `{v}` is not a sip/sips URI"
                )));
            }
            let param_expires = na
                .param("expires")
                .flatten()
                .filter(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
                .map(|e| e.parse::<u32>().unwrap_or(u32::MAX));
            let expires = param_expires
                .or(header_expires)
                .unwrap_or(cfg.default_expires);
            if expires != 0 && expires < cfg.min_expires {
                return Err(RegisterError::IntervalTooBrief {
                    min_expires: cfg.min_expires,
                });
            }
            let q = match na.param("q").flatten() {
                None => 1000,
                Some(q) => {
                    parse_q(q).ok_or_else(|| RegisterError::BadRequest(format!("bad q `{q}`")))?
                }
            };
            let contact = na.uri.to_string();
            let key = contact_key(&contact);
            out.retain(|w| w.key != key);
            out.push(Wanted {
                key,
                contact,
                expires: expires.min(cfg.max_expires),
                q,
            });
        }
        Ok(out)
    }

    /// Removes lapsed bindings and returns them (for the engine to delete from storage).
    pub fn expire(&mut self, now: u64) -> Vec<Binding> {
        let mut gone = Vec::new();
        self.by_user.retain(|_, list| {
            list.retain(|b| {
                let live = b.is_live(now);
                if !live {
                    gone.push(b.clone());
                }
                live
            });
            !list.is_empty()
        });
        gone
    }

    /// The live contacts of a user, most preferred (highest q) first: the targets to fork to.
    pub fn contacts(&self, user: &str, now: u64) -> Vec<&Binding> {
        let mut v: Vec<&Binding> = self
            .by_user
            .get(user)
            .into_iter()
            .flatten()
            .filter(|b| b.is_live(now))
            .collect();
        v.sort_by_key(|b| std::cmp::Reverse(b.q));
        v
    }

    /// Puts back a binding loaded from storage after a restart (replacing one with the same
    /// contact). Lapsed ones are skipped; returns whether it was kept.
    pub fn restore(&mut self, binding: Binding, now: u64) -> bool {
        if !binding.is_live(now) {
            return false;
        }
        let list = self.by_user.entry(binding.user.clone()).or_default();
        let key = contact_key(&binding.contact);
        list.retain(|b| contact_key(&b.contact) != key);
        list.push(binding);
        true
    }

    /// Every binding held, lapsed or not.
    pub fn iter(&self) -> impl Iterator<Item = &Binding> {
        self.by_user.values().flatten()
    }

    /// Number of bindings held.
    pub fn len(&self) -> usize {
        self.by_user.values().map(Vec::len).sum()
    }

    /// Whether no binding is held.
    pub fn is_empty(&self) -> bool {
        self.by_user.is_empty()
    }
}

/// §10.3 step 7: within one Call-ID the CSeq must rise.
fn check_order(b: &Binding, call_id: &str, cseq: u32) -> Result<(), RegisterError> {
    if b.call_id == call_id && cseq <= b.cseq {
        return Err(RegisterError::OutOfOrder {
            got: cseq,
            stored: b.cseq,
        });
    }
    Ok(())
}
