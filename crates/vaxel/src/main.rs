//! `vaxel`: the switchboard's command line. Everything here is argument handling and exit
//! codes; the work happens in `vaxel-engine` and `vaxel-plan`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use vaxel_engine::{PromptLoader, RunOptions, load_plan};

mod api;

/// mimalloc: a SIP message is dozens of small strings, and glibc's malloc/free were a fifth
/// of the switch's instructions on the busy route (callgrind, docs/decisions.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// vaxel: a SIP call-routing engine for business switchboards.
#[derive(Parser)]
#[command(name = "vaxel", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the switchboard until SIGINT/SIGTERM (SIGHUP reloads the config).
    Run {
        /// The config file.
        #[arg(long)]
        config: PathBuf,
        /// Start the wall clock at this instant (RFC 3339), for tests and demos.
        #[arg(long)]
        now: Option<String>,
    },
    /// Compile the dial plan and report every error as FILE:LINE:COL.
    Check {
        /// The config file.
        file: PathBuf,
    },
    /// Print the path a call to NUMBER would take through the dial plan.
    Trace {
        /// The config file.
        #[arg(long)]
        config: PathBuf,
        /// The number dialled.
        #[arg(long)]
        did: String,
        /// The instant to walk the plan at (RFC 3339); schedules use it.
        #[arg(long)]
        at: Option<String>,
        /// Digits the caller presses in menus.
        #[arg(long)]
        digits: Option<String>,
    },
    /// Set, remove or list one-day schedule overrides on the running switchboard.
    Override {
        /// The config file (for the switchboard's HTTP address).
        #[arg(long)]
        config: PathBuf,
        /// Remove the override of SCHEDULE on DATE.
        #[arg(long, conflicts_with = "list")]
        remove: bool,
        /// List every override.
        #[arg(long)]
        list: bool,
        /// Schedule id.
        schedule: Option<String>,
        /// Date, YYYY-MM-DD.
        date: Option<String>,
        /// HH:MM-HH:MM, or `closed` for the whole day.
        hours: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config, now } => run(config, now),
        Command::Check { file } => check(&file),
        Command::Trace {
            config,
            did,
            at,
            digits,
        } => trace(&config, &did, at.as_deref(), digits.as_deref()),
        Command::Override {
            config,
            remove,
            list,
            schedule,
            date,
            hours,
        } => match override_cmd(&config, remove, list, schedule, date, hours) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vaxel override: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run(config: PathBuf, now: Option<String>) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                EnvFilter::new("info,symphonia=warn,symphonia_format_ogg=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = (|| -> anyhow::Result<()> {
        let now = match now {
            Some(s) => Some(
                s.parse::<jiff::Timestamp>()
                    .with_context(|| format!("--now {s}: not an RFC 3339 instant"))?,
            ),
            None => None,
        };
        let rt = // One thread for all signalling tasks: the SIP readers hand every message to the
        // switch task, and on one thread that hand-off costs no cross-thread wake-up (about
        // 12% less CPU per call on the busy route, bench/README.md). RTP pacing and the
        // database writers have threads of their own.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("tokio runtime")?;
        rt.block_on(vaxel_engine::run(RunOptions { config, now }))?;
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vaxel: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(file: &std::path::Path) -> ExitCode {
    match load_plan(file, &mut PromptLoader::default()) {
        Ok(plan) => {
            println!("{}", plan.summary());
            ExitCode::SUCCESS
        }
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            eprintln!("{}: {} error(s)", file.display(), diags.len());
            ExitCode::FAILURE
        }
    }
}

fn trace(
    config: &std::path::Path,
    number: &str,
    at: Option<&str>,
    digits: Option<&str>,
) -> ExitCode {
    let plan = match load_plan(config, &mut PromptLoader::default()) {
        Ok(p) => p,
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            return ExitCode::FAILURE;
        }
    };
    let tz = jiff::tz::TimeZone::get(&plan.server.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let at = match at {
        None => jiff::Timestamp::now(),
        Some(text) => match parse_instant(text, &tz) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("vaxel trace: --at {text}: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    // The overrides the running switchboard keeps, read from its database.
    let today = at.to_zoned(tz.clone()).date();
    let store = vaxel_engine::overrides::OverrideStore::open(&plan.server.data_dir, today).ok();
    let lookup = |schedule: &str| {
        store
            .as_ref()
            .map(|s| s.for_schedule(schedule))
            .unwrap_or_default()
    };
    println!("at {}", at.to_zoned(tz.clone()));
    let ctx = vaxel_plan::WalkContext {
        at,
        tz: &tz,
        overrides: &lookup,
    };
    for step in plan.trace_with(number, Some(&ctx), digits.unwrap_or("")) {
        println!("{step}");
    }
    ExitCode::SUCCESS
}

/// An RFC 3339 instant, or a wall-clock time (`2026-11-24T10:00`) in the switchboard's zone.
fn parse_instant(text: &str, tz: &jiff::tz::TimeZone) -> anyhow::Result<jiff::Timestamp> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let civil: jiff::civil::DateTime = text
        .parse()
        .context("expected 2026-11-24T10:00:00+01:00 or 2026-11-24T10:00")?;
    Ok(civil.to_zoned(tz.clone())?.timestamp())
}

fn override_cmd(
    config: &std::path::Path,
    remove: bool,
    list: bool,
    schedule: Option<String>,
    date: Option<String>,
    hours: Option<String>,
) -> anyhow::Result<()> {
    let plan = load_plan(config, &mut PromptLoader::default()).map_err(|d| {
        anyhow::anyhow!(
            "{}",
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    let addr = api::reachable(plan.server.http);
    let user = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    let (method, path, body) = match (list, remove, schedule, date, hours) {
        (true, _, None, None, None) => ("GET", "/api/overrides".to_string(), None),
        (false, true, Some(s), Some(d), None) => {
            ("DELETE", format!("/api/overrides/{s}/{d}"), None)
        }
        (false, false, Some(s), Some(d), Some(h)) => (
            "PUT",
            format!("/api/overrides/{s}/{d}"),
            Some(format!("{{\"hours\":{}}}", api::json_string(&h))),
        ),
        _ => anyhow::bail!(
            "usage: vaxel override --config FILE SCHEDULE DATE HH:MM-HH:MM|closed | --remove SCHEDULE DATE | --list"
        ),
    };
    let (status, text) = api::request(addr, method, &path, &user, body.as_deref())
        .with_context(|| format!("is the switchboard running? (HTTP {addr})"))?;
    if !(200..300).contains(&status) {
        anyhow::bail!("HTTP {status}: {text}");
    }
    if method != "DELETE" {
        println!("{}", api::format_list(&text));
    }
    Ok(())
}
