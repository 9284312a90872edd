//! Shared test helpers: a sound loader over the fixture directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use vaxel_plan::{Diagnostic, Plan, SoundLoader, compile};

/// The fixture directory; configs compiled as `example.toml` or `v.toml` resolve
/// `sounds_dir = "sounds"` against it through this loader.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Checks the sound file exists under the fixtures (placeholders); `broken*` fails to decode.
#[derive(Default)]
pub struct FixtureLoader {
    pub loaded: Vec<PathBuf>,
}

impl SoundLoader for FixtureLoader {
    type Sound = PathBuf;

    fn load(&mut self, path: &Path) -> Result<PathBuf, String> {
        let full = fixtures().join(path);
        if !full.is_file() {
            return Err("no such file".into());
        }
        if full
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("broken"))
        {
            return Err("not a WAV, FLAC, MP3 or Ogg file".into());
        }
        self.loaded.push(path.to_path_buf());
        Ok(path.to_path_buf())
    }
}

pub fn example_source() -> String {
    std::fs::read_to_string(fixtures().join("example.toml")).unwrap()
}

pub fn example() -> Plan<PathBuf> {
    compile(
        &example_source(),
        Path::new("example.toml"),
        &mut FixtureLoader::default(),
    )
    .unwrap_or_else(|e| panic!("{}", render(&e)))
}

pub fn compile_ok(src: &str) -> Plan<PathBuf> {
    compile(src, Path::new("v.toml"), &mut FixtureLoader::default())
        .unwrap_or_else(|e| panic!("{}", render(&e)))
}

/// Every diagnostic, rendered as `vaxel check` prints it.
pub fn errors(src: &str) -> Vec<String> {
    match compile(src, Path::new("v.toml"), &mut FixtureLoader::default()) {
        Ok(_) => panic!("expected errors, config compiled"),
        Err(d) => d.iter().map(ToString::to_string).collect(),
    }
}

pub fn render(d: &[Diagnostic]) -> String {
    d.iter().map(|d| format!("{d}\n")).collect()
}
