//! The registrar on the wire: REGISTER with digest authentication (401 challenges that look
//! the same for unknown users and wrong passwords), sources blocked after repeated failures
//! (logged once per block), and bindings kept in SQLite so they survive a restart. The
//! protocol logic is `vaxel-registrar`'s; this is its glue to the switch and the database.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc;
use std::thread;

use rusqlite::{Connection, params};
use tracing::{info, warn};
use vaxel_plan::Plan;
use vaxel_registrar::{
    AuthConfig, AuthOutcome, Authenticator, Binding, BindingRow, Change, Credentials,
    FailureConfig, FailureTracker, Registrar, RegistrarConfig, Transport,
};
use vaxel_sip::{Request, Response, SipMessage};

use crate::db::{self, DbError};

enum Write {
    Upsert(BindingRow),
    Delete { user: String, contact: String },
}

/// Registrar state of the switch.
pub struct Registry {
    auth: Authenticator,
    failures: FailureTracker,
    bindings: Registrar,
    writes: mpsc::Sender<Write>,
    /// The binding writer, joined at shutdown so the last changes reach the database.
    writer: thread::JoinHandle<()>,
    /// Bindings whose last OPTIONS qualify went unanswered: (user, contact).
    unreachable: std::collections::HashSet<(String, String)>,
}

/// A binding to qualify with OPTIONS.
pub struct QualifyTarget {
    /// User id.
    pub user: String,
    /// The contact URI as registered.
    pub contact: String,
    /// Where the phone's REGISTER came from (the path through its NAT).
    pub source: SocketAddr,
}

/// Who sent an INVITE from outside the trunks.
pub enum Caller {
    /// An authenticated user (its id).
    User(String),
    /// Answer with this (407 challenge or 403) statelessly and stop.
    Refuse(Response),
}

/// One registered phone to ring.
pub struct RingTarget {
    /// Its Contact URI (the Request-URI of our INVITE).
    pub contact: String,
    /// Where its REGISTER came from: where the INVITE goes (it gets through the phone's NAT).
    pub source: SocketAddr,
    /// Registered over TCP: the INVITE goes down the connection it keeps open.
    pub reliable: bool,
}

/// What to do with a REGISTER.
pub enum Verdict {
    /// Send this response.
    Respond(Response),
    /// The source is blocked: drop without an answer.
    Drop,
}

impl Registry {
    /// Opens the binding table and restores the bindings still in force at `now` (unix s).
    pub fn open(data_dir: &Path, digest: &[String], now: u64) -> Result<Registry, DbError> {
        let conn = db::open(data_dir)?;
        let err = |source| DbError::Sqlite {
            path: data_dir.join("vaxel.db"),
            source,
        };
        let mut bindings = Registrar::new(RegistrarConfig::default());
        let rows = load_rows(&conn).map_err(err)?;
        let mut restored = 0;
        for row in rows {
            if let Ok(b) = Binding::from_row(row) {
                restored += usize::from(bindings.restore(b, now));
            }
        }
        conn.execute(
            "DELETE FROM registration WHERE expires_at <= ?1",
            params![now as i64],
        )
        .map_err(err)?;
        if restored > 0 {
            info!(bindings = restored, "registrations restored");
        }
        let (tx, rx) = mpsc::channel();
        let writer = thread::Builder::new()
            .name("vaxel-bindings".into())
            .spawn(move || write_loop(conn, rx))
            .map_err(|e| DbError::Io {
                path: data_dir.to_path_buf(),
                source: e,
            })?;
        let mut secret = [0u8; 32];
        secret.iter_mut().for_each(|b| *b = fastrand::u8(..));
        Ok(Registry {
            auth: Authenticator::new(secret, auth_config(digest)),
            failures: FailureTracker::new(FailureConfig::default()),
            bindings,
            writes: tx,
            writer,
            unreachable: std::collections::HashSet::new(),
        })
    }

    /// Stores what is queued and stops the writer: a REGISTER answered before SIGTERM is
    /// found again after the restart.
    pub fn finish(self) {
        let Registry { writes, writer, .. } = self;
        drop(writes);
        let _ = writer.join();
    }

    /// Handles one REGISTER that arrived from `source`.
    pub fn register<S>(
        &mut self,
        now: u64,
        req: &Request,
        source: SocketAddr,
        reliable: bool,
        plan: &Plan<S>,
    ) -> Verdict {
        let ip = source.ip();
        if self.failures.is_blocked(ip, now) {
            return Verdict::Drop;
        }
        let realm = plan.server.name.as_str();
        let Some(aor) = req
            .to()
            .ok()
            .filter(|t| t.uri.is_sip())
            .and_then(|t| t.uri.user_unescaped())
        else {
            return Verdict::Respond(Response::for_request(req, 400));
        };
        let lookup = |name: &str| credentials(plan, name);
        match self.auth.verify(now, req, realm, false, &lookup) {
            AuthOutcome::Ok { user } => {
                self.failures.record_success(ip);
                let owner = plan.user_named(&aor);
                if owner.is_none_or(|u| u.id != user) {
                    // Authenticated, but not as the owner of this address of record.
                    return Verdict::Respond(Response::for_request(req, 403));
                }
                let transport = if reliable {
                    Transport::Tcp
                } else {
                    Transport::Udp
                };
                match self.bindings.register(now, &user, req, source, transport) {
                    Ok(result) => {
                        for change in &result.changes {
                            self.persist(change);
                        }
                        let mut resp = Response::for_request(req, 200);
                        for c in result.contact_values(now) {
                            resp.headers.push("Contact", c);
                        }
                        Verdict::Respond(resp)
                    }
                    Err(e) => {
                        let mut resp = Response::for_request(req, e.status());
                        if let vaxel_registrar::RegisterError::IntervalTooBrief { min_expires } = e
                        {
                            resp.headers.push("Min-Expires", min_expires.to_string());
                        }
                        Verdict::Respond(resp)
                    }
                }
            }
            AuthOutcome::Challenge { stale, failed } => {
                if failed {
                    self.note_failure(ip, now);
                }
                let mut resp = Response::for_request(req, 401);
                for (name, value) in self.auth.challenge(now, realm, stale, false) {
                    resp.headers.push(name, value);
                }
                Verdict::Respond(resp)
            }
            AuthOutcome::Forbidden => Verdict::Respond(Response::for_request(req, 403)),
        }
    }

    /// Authenticates an INVITE from a phone (Proxy-Authorization, 407 challenges), with the
    /// same failure blocking as REGISTER.
    pub fn authenticate_invite<S>(
        &mut self,
        now: u64,
        req: &Request,
        source: SocketAddr,
        plan: &Plan<S>,
    ) -> Caller {
        let ip = source.ip();
        if self.failures.is_blocked(ip, now) || !plan.users.iter().any(|u| u.password.is_some()) {
            return Caller::Refuse(Response::for_request(req, 403));
        }
        let realm = plan.server.name.as_str();
        let lookup = |name: &str| credentials(plan, name);
        match self.auth.verify(now, req, realm, true, &lookup) {
            AuthOutcome::Ok { user } => {
                self.failures.record_success(ip);
                Caller::User(user)
            }
            AuthOutcome::Challenge { stale, failed } => {
                if failed {
                    self.note_failure(ip, now);
                }
                let mut resp = Response::for_request(req, 407);
                for (name, value) in self.auth.challenge(now, realm, stale, true) {
                    resp.headers.push(name, value);
                }
                Caller::Refuse(resp)
            }
            AuthOutcome::Forbidden => Caller::Refuse(Response::for_request(req, 403)),
        }
    }

    fn note_failure(&mut self, ip: std::net::IpAddr, now: u64) {
        if let Some(block) = self.failures.record_failure(ip, now) {
            warn!(source = %block.ip, failures = block.failures, until = block.until, "too many failed authentications: source blocked");
        }
    }

    /// The UDP bindings in force, to qualify (RFC 3261 §11: OPTIONS as a keep-alive probe).
    pub fn qualify_targets(&self, now: u64) -> Vec<QualifyTarget> {
        self.bindings
            .iter()
            .filter(|b| b.is_live(now) && b.transport == Transport::Udp)
            .map(|b| QualifyTarget {
                user: b.user.clone(),
                contact: b.contact.clone(),
                source: b.source,
            })
            .collect()
    }

    /// Bindings held (lapsed ones included until the next sweep): a cheap count for the
    /// gauge between qualify rounds, which count exactly.
    pub fn binding_count(&self) -> usize {
        self.bindings.len()
    }

    /// The phones to ring for `user`: its live bindings, less those that stopped answering
    /// their qualify OPTIONS.
    pub fn ring_targets(&self, user: &str, now: u64) -> Vec<RingTarget> {
        self.bindings
            .contacts(user, now)
            .into_iter()
            .filter(|b| {
                !self
                    .unreachable
                    .contains(&(b.user.clone(), b.contact.clone()))
            })
            .map(|b| RingTarget {
                contact: b.contact.clone(),
                source: b.source,
                reliable: b.transport != Transport::Udp,
            })
            .collect()
    }

    /// Records a qualify result; logs only when a phone changes between reachable and not.
    pub fn set_reachable(&mut self, user: &str, contact: &str, reachable: bool) {
        let key = (user.to_string(), contact.to_string());
        let changed = if reachable {
            self.unreachable.remove(&key)
        } else {
            self.unreachable.insert(key)
        };
        if changed {
            if reachable {
                info!(%user, %contact, "phone reachable again");
            } else {
                warn!(%user, %contact, "phone does not answer OPTIONS: marked unavailable");
            }
        }
    }

    /// Live bindings, and how many of them are marked unreachable.
    pub fn counts(&self, now: u64) -> (usize, usize) {
        let live = self.bindings.iter().filter(|b| b.is_live(now)).count();
        (live, self.unreachable.len().min(live))
    }

    /// Drops lapsed bindings (call now and then).
    pub fn expire(&mut self, now: u64) {
        for b in self.bindings.expire(now) {
            self.unreachable
                .remove(&(b.user.clone(), b.contact.clone()));
            self.persist(&Change::Removed(b));
        }
    }

    fn persist(&self, change: &Change) {
        let w = match change {
            Change::Added(b) | Change::Refreshed(b) => Write::Upsert(b.to_row()),
            Change::Removed(b) => Write::Delete {
                user: b.user.clone(),
                contact: b.contact.clone(),
            },
        };
        let _ = self.writes.send(w);
    }
}

/// The digest credentials of a user named by id or extension.
fn credentials<S>(plan: &Plan<S>, name: &str) -> Option<Credentials> {
    let u = plan.user_named(name)?;
    u.password.as_ref().map(|p| Credentials {
        user: u.id.clone(),
        password: p.clone(),
    })
}

fn load_rows(conn: &Connection) -> rusqlite::Result<Vec<BindingRow>> {
    let mut stmt = conn.prepare(
        "SELECT user, contact, source, transport, expires_at, call_id, cseq, q FROM registration",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(BindingRow {
            user: r.get(0)?,
            contact: r.get(1)?,
            source: r.get(2)?,
            transport: r.get(3)?,
            expires_at: r.get(4)?,
            call_id: r.get(5)?,
            cseq: r.get(6)?,
            q: r.get(7)?,
        })
    })?;
    rows.collect()
}

/// Writes binding changes in batches: whatever is queued goes in one transaction, with
/// statements prepared once (a transaction per REGISTER cost ~50 us at 2,000/s).
fn write_loop(mut conn: Connection, rx: mpsc::Receiver<Write>) {
    const MAX_BATCH: usize = 512;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        if let Err(e) = write_batch(&mut conn, batch) {
            tracing::error!(error = %e, "could not store registrations");
        }
    }
}

fn write_batch(conn: &mut Connection, batch: Vec<Write>) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO registration (user, contact, source, transport, expires_at, call_id, cseq, q)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (user, contact) DO UPDATE SET source = ?3, transport = ?4, expires_at = ?5,
             call_id = ?6, cseq = ?7, q = ?8",
        )?;
        let mut delete =
            tx.prepare_cached("DELETE FROM registration WHERE user = ?1 AND contact = ?2")?;
        for w in batch {
            match w {
                Write::Upsert(r) => upsert.execute(params![
                    r.user,
                    r.contact,
                    r.source,
                    r.transport,
                    r.expires_at,
                    r.call_id,
                    r.cseq,
                    r.q
                ])?,
                Write::Delete { user, contact } => delete.execute(params![user, contact])?,
            };
        }
    }
    tx.commit()
}

/// The authenticator's settings from `[server] digest`.
fn auth_config(digest: &[String]) -> AuthConfig {
    let algorithms: Vec<_> = digest
        .iter()
        .filter_map(|name| vaxel_registrar::Algorithm::parse(name))
        .collect();
    let mut config = AuthConfig::default();
    if !algorithms.is_empty() {
        config.algorithms = algorithms;
    }
    config
}
