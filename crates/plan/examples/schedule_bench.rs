//! Measures schedule evaluation: `cargo run --release -p vaxel-plan --example schedule_bench`.
//! Target: < 1 µs per evaluation.

use std::hint::black_box;
use std::time::Instant;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use vaxel_plan::{Holidays, NodeId, Override, Schedule, evaluate, parse_override_hours};

fn main() {
    let tz = TimeZone::get("Europe/Stockholm").unwrap_or(TimeZone::UTC);
    let schedule = Schedule {
        id: "main".into(),
        name: "main".into(),
        open: [
            "mon-fri 08:00-12:00",
            "mon-fri 13:00-17:00",
            "sat 10:00-14:00",
            "fri 22:00-02:00",
        ]
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect(),
        holidays: Some(Holidays::Se),
        closed_on: vec![
            jiff::civil::date(2026, 8, 14),
            jiff::civil::date(2026, 12, 28),
        ],
        when_open: NodeId(0),
        when_closed: NodeId(1),
    };
    let overrides = [Override {
        date: jiff::civil::date(2026, 12, 23),
        hours: parse_override_hours("10:00-14:00").ok(),
    }];
    let start: Timestamp = "2026-01-01T00:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    // One instant every 7 minutes 13 s through the year, so every rule is hit.
    let step = SignedDuration::from_secs(433);
    let n = 1_000_000u32;
    let mut t = start;
    let mut open = 0u32;
    let began = Instant::now();
    for _ in 0..n {
        let v = evaluate(black_box(&schedule), &tz, black_box(t), &overrides);
        open += u32::from(v.open);
        t = t.checked_add(step).unwrap_or(start);
    }
    let per = began.elapsed() / n;
    println!("{n} evaluations: {per:?} each ({open} open)");
}
