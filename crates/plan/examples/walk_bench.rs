//! Measures what the dial plan adds to call setup: from a DID's number to the first action a
//! call needs (route lookup + schedule + menu entry), on the bundled config.
//! `cargo run --release -p vaxel-plan --example walk_bench`. Target: < 0.1 ms per call.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use jiff::tz::TimeZone;
use vaxel_plan::{Event, Override, SoundLoader, Walk, WalkContext};

/// Sounds are not decoded here: only the walk is measured.
struct NoSound;

impl SoundLoader for NoSound {
    type Sound = ();
    fn load(&mut self, path: &Path) -> Result<(), String> {
        if path.exists() {
            Ok(())
        } else {
            Err(format!("{} is missing", path.display()))
        }
    }
}

fn main() {
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/vaxel.toml");
    let plan = match vaxel_plan::load_file(&config, &mut NoSound) {
        Ok(p) => p,
        Err(d) => {
            for d in d {
                eprintln!("{d}");
            }
            std::process::exit(1);
        }
    };
    let tz = TimeZone::get(&plan.server.timezone).unwrap_or(TimeZone::UTC);
    let none = |_: &str| Vec::<Override>::new();
    let at: jiff::Timestamp = "2026-11-24T09:00:00Z"
        .parse()
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let ctx = WalkContext {
        at,
        tz: &tz,
        overrides: &none,
    };
    let n = 200_000u32;
    let mut actions = 0usize;
    let began = Instant::now();
    for _ in 0..n {
        let Some(route) = plan.route_number(black_box("+46101022290")) else {
            continue;
        };
        let mut walk = Walk::new(route.node);
        actions += walk.handle_at(&plan, Event::Start, &ctx).len();
    }
    let per = began.elapsed() / n;
    println!("{n} call setups (route + schedule + menu entry): {per:?} each ({actions} actions)");
}
