//! The dial plan of vaxel: ops write the switchboard as TOML; this crate reads it into a
//! validated model, compiles it into a graph of [`Node`]s addressed by index, and walks one
//! call through that graph with a sans-IO [`Walk`] (events in, [`Action`]s out).
//!
//! Boundaries: no SIP, RTP, sockets, clocks or tokio here, and no audio decoding: sound files
//! are loaded through a caller-supplied [`SoundLoader`], so the engine decodes each file once
//! with its media crate. Every error in a config is reported at once as a [`Diagnostic`] with
//! `file:line:col` and a hint. Relative `data_dir`/`sounds_dir` are resolved against the
//! directory of the config file, not the working directory.
//!
//! Schedules are decided by [`evaluate`] (Swedish holidays by [`swedish_holiday`]) at an
//! instant the caller passes in, with the one-day [`Override`]s the caller keeps: this crate
//! reads no clock and stores nothing; [`Walk::handle_at`] and [`Plan::trace_at`] take both.
//!
//! IVR menus are walked time-free too: keys come in as [`Event::Digit`], and the menu's
//! timeouts go out as [`Action::SetTimer`] / [`Action::CancelTimer`] that the engine runs and
//! reports back as [`Event::Timer`]. [`Plan::trace_with`] follows menus with given keys.

#![warn(missing_docs)]

mod build;
mod checks;
mod cidr;
mod compile;
mod dest;
mod diag;
mod duration;
mod graph;
mod holidays;
mod listen;
mod menu;
mod model;
mod names;
mod period;
mod plan;
mod queue_ivr;
mod read;
mod route;
mod schedule;
mod schedule_eval;
mod sections;
mod server;
mod trace;
mod trace_menu;
mod walk;
mod walk_at;

use std::path::Path;

pub use cidr::{Cidr, CidrError};
pub use compile::{compile, load_file};
pub use diag::Diagnostic;
pub use duration::{format_duration, parse_duration};
pub use graph::{Node, NodeId, SoundId};
pub use holidays::{easter_sunday, swedish_holiday, swedish_holidays};
pub use listen::{Listen, Transport};
pub use model::{
    Dest, Did, Flow, Forward, Holidays, Ivr, Member, MemberKind, Message, Queue, Role, Schedule,
    ServerConfig, Strategy, Trunk, User,
};
pub use period::{Days, Period, TimeOfDay};
pub use plan::Plan;
pub use route::{Route, RouteKind};
pub use schedule_eval::{Override, Reason, Verdict, evaluate, parse_override_hours};
pub use trace::TraceStep;
pub use walk::{
    Action, Event, NUMBER_RING_TIMEOUT, RingOutcome, RingTarget, USER_RING_TIMEOUT, Walk,
};
pub use walk_at::WalkContext;

/// Loads (decodes) a sound file once, when the plan is compiled; the engine supplies it.
pub trait SoundLoader {
    /// The decoded sound, shared by every call that plays it.
    type Sound: Clone;
    /// Loads `path` (sounds_dir joined with the file named in the config); the error text
    /// becomes a diagnostic at the `sound`/`prompt`/`invalid_prompt`/`music` value.
    fn load(&mut self, path: &Path) -> Result<Self::Sound, String>;
}
