//! The engine: the tokio layer that gives vaxel's sans-IO crates their sockets, timers and
//! threads. Transport tasks parse SIP and feed one switch task, which owns the transaction
//! table (`vaxel-txn`), the calls and their walk through the dial plan (`vaxel-plan`), and
//! gives RTP orders to the per-core scheduler threads (`vaxel-media` frames). Around it:
//! the HTTP port (`/health`, `/metrics`), the SQLite call records, and signals (SIGHUP
//! reloads, SIGTERM/SIGINT stop).

mod call;
pub mod clock;
pub mod db;
mod http;
pub mod limits;
pub mod load;
pub mod metrics;
pub mod overrides;
mod ports;
pub mod priority;
mod registry;
pub mod relay;
mod rtp_in;
mod scheduler;
mod switch;
mod transport;
pub mod trunk;
#[cfg(target_os = "linux")]
mod uring;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{error, info, warn};
use vaxel_plan::Diagnostic;

pub use clock::Clock;
pub use load::{PromptLoader, load_plan};

/// Why the engine could not run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The config does not compile.
    #[error("{}", render(.0))]
    Config(Vec<Diagnostic>),
    /// A socket, thread or signal handler could not be set up.
    #[error("{what}: {source}")]
    Io {
        /// What was being set up.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error(transparent)]
    Db(#[from] db::DbError),
}

fn render(d: &[Diagnostic]) -> String {
    d.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EngineError {
    let what = what.into();
    move |source| EngineError::Io { what, source }
}

/// What `vaxel run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The config file.
    pub config: PathBuf,
    /// The wall clock's starting instant, when not now (`--now`).
    pub now: Option<jiff::Timestamp>,
}

/// How long calls get to end after SIGTERM before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

enum Control {
    Reload,
    Shutdown,
}

/// Runs the switchboard until SIGTERM or SIGINT.
pub async fn run(opts: RunOptions) -> Result<(), EngineError> {
    let mut loader = PromptLoader::default();
    let started = Instant::now();
    let plan = Arc::new(load_plan(&opts.config, &mut loader).map_err(EngineError::Config)?);
    info!(summary = %plan.summary(), elapsed_ms = started.elapsed().as_millis() as u64, "dial plan compiled");
    let clock = opts
        .now
        .map(Clock::starting_at)
        .unwrap_or_else(Clock::system);

    let conn = db::open(&plan.server.data_dir)?;
    let cdr = db::CdrWriter::start(conn).map_err(io("cdr writer thread"))?;
    let metrics = Arc::new(metrics::Metrics::default());

    let (media_tx, mut media_rx) = mpsc::unbounded_channel();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    limits::check_open_files(plan.server.rtp_ports);
    priority::set_wanted(plan.server.media_realtime);
    let scheduler = scheduler::Scheduler::start(cores, media_tx.clone(), metrics.clone())
        .map_err(io("rtp scheduler threads"))?;
    let relay = relay::Relay::new(cores, metrics.clone()).map_err(io("rtp relay threads"))?;

    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    for l in &plan.server.sip {
        match l.transport {
            vaxel_plan::Transport::Udp => udp.push(l.addr),
            vaxel_plan::Transport::Tcp => tcp.push(l.addr),
            vaxel_plan::Transport::Tls => {
                warn!(addr = %l.addr, "tls:// listeners are not served yet; skipped")
            }
        }
    }
    let (transports, listeners) =
        transport::Transports::bind(&udp, &tcp, plan.server.media_address, metrics.clone())
            .await
            .map_err(io("binding SIP listen addresses"))?;
    let (in_tx, mut in_rx) = mpsc::channel(8192);
    transports.spawn_readers(listeners, in_tx);
    let tz = jiff::tz::TimeZone::get(&plan.server.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let today = clock.now().to_zoned(tz).date();
    let overrides = Arc::new(overrides::OverrideStore::open(
        &plan.server.data_dir,
        today,
    )?);
    let shared_plan = Arc::new(std::sync::RwLock::new(plan.clone()));
    let http_state = http::HttpState {
        metrics: metrics.clone(),
        plan: shared_plan.clone(),
        overrides: overrides.clone(),
        clock,
    };
    let http = http::serve(plan.server.http, http_state)
        .await
        .map_err(io(format!("binding http {}", plan.server.http)))?;

    let (ctl_tx, mut ctl_rx) = mpsc::channel(8);
    spawn_signals(ctl_tx).map_err(io("signal handlers"))?;

    let parts = switch::Parts {
        scheduler: scheduler.clone(),
        transports,
        metrics: metrics.clone(),
        cdr,
        clock,
        media_events: media_tx,
        overrides,
        registry: registry::Registry::open(
            &plan.server.data_dir,
            &plan.server.digest,
            clock.now().as_second().max(0) as u64,
        )?,
        relay,
    };
    let mut switch = switch::Switch::new(plan, parts);
    info!(sip = ?udp.iter().chain(tcp.iter()).collect::<Vec<_>>(), "vaxel is taking calls");

    let mut stop_by: Option<Instant> = None;
    loop {
        let timer = switch.poll_timeout();
        let deadline = match (timer, stop_by) {
            (Some(t), Some(s)) => Some(t.min(s)),
            (t, s) => t.or(s),
        };
        tokio::select! {
            Some(first) = in_rx.recv() => {
                let now = Instant::now();
                switch.handle_inbound(now, first);
                // Take what else is queued in one go before looking at timers again.
                for _ in 0..256 {
                    match in_rx.try_recv() {
                        Ok(m) => switch.handle_inbound(now, m),
                        Err(_) => break,
                    }
                }
            }
            Some(ev) = media_rx.recv() => switch.handle_media(Instant::now(), ev),
            Some(ctl) = ctl_rx.recv() => match ctl {
                Control::Reload => {
                    let path = opts.config.clone();
                    let (l, result) = tokio::task::spawn_blocking(move || {
                        let r = load_plan(&path, &mut loader);
                        (loader, r)
                    })
                    .await
                    .map_err(|e| EngineError::Io { what: "reload task".into(), source: std::io::Error::other(e) })?;
                    loader = l;
                    match result {
                        Ok(p) => {
                            metrics.reloads_ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            info!(summary = %p.summary(), "config reloaded");
                            let p = Arc::new(p);
                            if let Ok(mut slot) = shared_plan.write() {
                                *slot = p.clone();
                            }
                            switch.reload(p);
                        }
                        Err(diags) => {
                            metrics.reloads_failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            error!("config reload refused; the old config keeps serving:\n{}", render(&diags));
                        }
                    }
                }
                Control::Shutdown => {
                    if stop_by.is_none() {
                        switch.shutdown(Instant::now());
                        stop_by = Some(Instant::now() + SHUTDOWN_GRACE);
                    }
                }
            },
            _ = sleep_until(deadline), if deadline.is_some() => switch.handle_timeout(Instant::now()),
        }
        if let Some(s) = stop_by {
            let byes_pending = switch.has_pending_byes();
            if (!byes_pending && switch.active_calls() == 0) || Instant::now() >= s {
                break;
            }
        }
    }
    scheduler.send(scheduler::Command::Shutdown);
    http.abort();
    switch.finish();
    info!("vaxel stopped");
    Ok(())
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(d) = deadline {
        tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await;
    }
}

fn spawn_signals(tx: mpsc::Sender<Control>) -> std::io::Result<()> {
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        loop {
            let ctl = tokio::select! {
                Some(()) = hup.recv() => Control::Reload,
                Some(()) = term.recv() => Control::Shutdown,
                Some(()) = int.recv() => Control::Shutdown,
                else => break,
            };
            if tx.send(ctl).await.is_err() {
                break;
            }
        }
    });
    Ok(())
}
