//! The bridge on a simulated clock: every transition of docs/b2bua.md, event by event.

mod after_end;
mod answer;
mod early_media;
mod forking;
mod outcome;
mod random;
mod session_timer;
mod sim;
