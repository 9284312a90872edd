//! The SQLite database under `data_dir`: call records now, and the run-time state later
//! issues add (schedule overrides, registrations, agent state), each by a numbered migration.
//!
//! Calls never wait for the disk: records go over a channel to one writer thread that
//! inserts them in batches (what arrives within 100 ms of the first), one
//! transaction per batch.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rusqlite::{Connection, params};

/// Database errors.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite said no.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The data directory could not be made.
    #[error("data_dir {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The schema, one step per entry; `PRAGMA user_version` counts the steps applied.
const MIGRATIONS: &[&str] = &[
    // 1: call records, and one-day schedule overrides (used from the schedules issue on).
    "CREATE TABLE cdr (
        id INTEGER PRIMARY KEY,
        call_id TEXT NOT NULL,
        source TEXT NOT NULL,
        caller TEXT,
        callee TEXT NOT NULL,
        route TEXT,
        started_at TEXT NOT NULL,
        answered_at TEXT,
        ended_at TEXT NOT NULL,
        outcome TEXT NOT NULL,
        status INTEGER,
        end_reason TEXT NOT NULL
     );
     CREATE INDEX cdr_started_at ON cdr(started_at);
     CREATE TABLE schedule_override (
        schedule_id TEXT NOT NULL,
        date TEXT NOT NULL,
        hours TEXT,
        set_by TEXT NOT NULL,
        set_at TEXT NOT NULL,
        PRIMARY KEY (schedule_id, date)
     );",
    // 2: registrations of phones (bindings), so they survive a restart.
    "CREATE TABLE registration (
        user TEXT NOT NULL,
        contact TEXT NOT NULL,
        source TEXT NOT NULL,
        transport TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        call_id TEXT NOT NULL,
        cseq INTEGER NOT NULL,
        q INTEGER NOT NULL,
        PRIMARY KEY (user, contact)
     );",
];

/// Opens (creating if needed) `data_dir/vaxel.db` and brings its schema up to date.
pub fn open(data_dir: &Path) -> Result<Connection, DbError> {
    std::fs::create_dir_all(data_dir).map_err(|source| DbError::Io {
        path: data_dir.to_path_buf(),
        source,
    })?;
    let path = data_dir.join("vaxel.db");
    let err = |source| DbError::Sqlite {
        path: path.clone(),
        source,
    };
    let conn = Connection::open(&path).map_err(err)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(err)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        conn.execute_batch(&format!(
            "BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;",
            i + 1
        ))
        .map_err(err)?;
    }
    Ok(conn)
}

/// One finished call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// SIP Call-ID.
    pub call_id: String,
    /// Transport and address the INVITE came from.
    pub source: String,
    /// The From URI.
    pub caller: Option<String>,
    /// The Request-URI user part dialled.
    pub callee: String,
    /// The destination the number routed to.
    pub route: Option<String>,
    /// RFC 3339 instants on the switchboard's clock.
    pub started_at: String,
    /// When answered, if it was.
    pub answered_at: Option<String>,
    /// When it ended.
    pub ended_at: String,
    /// `answered`, `early-media`, `rejected`, `cancelled`, `failed`.
    pub outcome: &'static str,
    /// The final status we sent, if we sent one.
    pub status: Option<u16>,
    /// Why it ended: `caller-bye`, `plan-hangup`, `cancel`, `no-ack`, `shutdown`, ...
    pub end_reason: String,
}

/// The sending side of the call-record writer.
pub struct CdrWriter {
    tx: Option<mpsc::Sender<CallRecord>>,
    thread: Option<JoinHandle<()>>,
}

impl CdrWriter {
    /// Starts the writer thread on an open connection.
    pub fn start(conn: Connection) -> std::io::Result<CdrWriter> {
        let (tx, rx) = mpsc::channel::<CallRecord>();
        let thread = thread::Builder::new()
            .name("vaxel-cdr".into())
            .spawn(move || write_loop(conn, rx))?;
        Ok(CdrWriter {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues a record; never blocks.
    pub fn record(&self, rec: CallRecord) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(rec);
        }
    }

    /// Writes what is queued and stops the thread.
    pub fn finish(mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How long the first record of a batch waits for company. Every transaction costs file
/// locks, a WAL append and a checksum; at thousands of calls per second, one transaction per
/// wake-up (a handful of records) made this thread a fifth of the process's CPU.
const BATCH_WINDOW: Duration = Duration::from_millis(100);

/// Blocks for the first record of a batch, then sleeps out the window and takes whatever
/// came meanwhile. Sleeping rather than waiting in `recv_timeout` matters: a receiver parked
/// in the channel is woken (a futex call and two context switches) by every record sent, which
/// at 10,000 calls/s was a tenth of the process's CPU; a sleeping one costs the sender nothing.
fn write_loop(mut conn: Connection, rx: mpsc::Receiver<CallRecord>) {
    let mut batch = Vec::new();
    while let Ok(first) = rx.recv() {
        batch.push(first);
        thread::sleep(BATCH_WINDOW);
        let open = loop {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(mpsc::TryRecvError::Empty) => break true,
                // Shutting down: write what is here, then stop.
                Err(mpsc::TryRecvError::Disconnected) => break false,
            }
        };
        if let Err(e) = insert_batch(&mut conn, &batch) {
            tracing::error!(error = %e, lost = batch.len(), "could not write call records");
        }
        batch.clear();
        if !open {
            break;
        }
    }
}

fn insert_batch(conn: &mut Connection, batch: &[CallRecord]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO cdr (call_id, source, caller, callee, route, started_at, answered_at, ended_at, outcome, status, end_reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        for r in batch {
            stmt.execute(params![
                r.call_id,
                r.source,
                r.caller,
                r.callee,
                r.route,
                r.started_at,
                r.answered_at,
                r.ended_at,
                r.outcome,
                r.status,
                r.end_reason
            ])?;
        }
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u32) -> CallRecord {
        CallRecord {
            call_id: format!("c{n}"),
            source: "udp:127.0.0.1:5061".into(),
            caller: Some("sip:a@b".into()),
            callee: "46101022290".into(),
            route: Some("busy".into()),
            started_at: "2026-11-24T09:00:00Z".into(),
            answered_at: None,
            ended_at: "2026-11-24T09:00:01Z".into(),
            outcome: "rejected",
            status: Some(486),
            end_reason: "plan".into(),
        }
    }

    #[test]
    fn records_survive_reopen_and_migrations_are_idempotent() {
        let dir = std::env::temp_dir().join(format!("vaxel-db-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let w = CdrWriter::start(open(&dir).expect("open")).expect("start");
        for n in 0..2500 {
            w.record(record(n));
        }
        w.finish();
        let conn = open(&dir).expect("reopen");
        let n: i64 = conn
            .query_row("SELECT count(*) FROM cdr WHERE status = 486", [], |r| {
                r.get(0)
            })
            .expect("count");
        assert_eq!(n, 2500);
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(v, MIGRATIONS.len() as i64);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
