//! `vaxel`: the switchboard's command line. Everything here is argument handling and exit
//! codes; the work happens in `vaxel-engine` and `vaxel-plan`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use vaxel_engine::{PromptLoader, RunOptions, load_plan};

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config, now } => run(config, now),
        Command::Check { file } => check(&file),
        Command::Trace {
            config,
            did,
            at: _,
            digits: _,
        } => trace(&config, &did),
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
        let rt = tokio::runtime::Builder::new_multi_thread()
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

fn trace(config: &std::path::Path, number: &str) -> ExitCode {
    match load_plan(config, &mut PromptLoader::default()) {
        Ok(plan) => {
            for step in plan.trace(number) {
                println!("{step}");
            }
            ExitCode::SUCCESS
        }
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            ExitCode::FAILURE
        }
    }
}
