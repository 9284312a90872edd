//! Every file in the repository's `sounds/` directory loads as a prompt.

use std::path::PathBuf;

use vaxel_media::Prompt;

#[test]
fn all_bundled_sounds_load() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sounds");
    let mut loaded = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        if !["wav", "flac", "mp3", "ogg"].contains(&ext) {
            continue;
        }
        let p = Prompt::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let secs = p.duration().as_secs_f64();
        assert!((1.0..=30.0).contains(&secs), "{}: {secs} s", path.display());
        let peak = p.samples().iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak > 8000, "{}: too quiet ({peak})", path.display());
        loaded.push(path.file_name().unwrap().to_string_lossy().to_string());
    }
    for required in [
        "closed.wav",
        "high-load.wav",
        "main-menu.wav",
        "welcome.wav",
        "invalid.wav",
        "voicemail-greeting.wav",
        "hold-music.wav",
        "welcome.flac",
        "welcome.mp3",
        "welcome.ogg",
    ] {
        assert!(loaded.iter().any(|l| l == required), "missing {required}");
    }
}

#[test]
fn format_variants_decode_to_the_same_audio_length() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sounds");
    let wav = Prompt::load(&dir.join("welcome.wav")).unwrap();
    for ext in ["flac", "ogg", "mp3"] {
        let other = Prompt::load(&dir.join(format!("welcome.{ext}"))).unwrap();
        let diff = (other.samples().len() as i64 - wav.samples().len() as i64).abs();
        // MP3 carries encoder delay and frame padding (~100 ms at most).
        assert!(diff < 1000, "welcome.{ext}: {diff} samples off");
    }
}
