//! Decoding every supported container/codec, and typed errors for bad input.

mod common;

use common::{fixture, goertzel_amplitude};
use vaxel_media::{Codec, MediaError, Prompt};

/// Each fixture is a 440 Hz sine at half scale made with sox (see fixtures/README.md).
fn check_tone(name: &str, seconds: f64) {
    let p = Prompt::load(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let n = p.samples().len() as f64;
    // MP3 adds encoder delay/padding; allow a few frames.
    assert!((n - seconds * 8000.0).abs() < 1200.0, "{name}: {n} samples");
    let mid = &p.samples()[400..1600]; // 150 ms in the steady part
    let a440 = goertzel_amplitude(mid, 8000.0, 440.0);
    let a1k = goertzel_amplitude(mid, 8000.0, 1000.0);
    assert!(a440 > 8000.0, "{name}: 440 Hz amplitude {a440}");
    assert!(a1k < a440 / 30.0, "{name}: 1 kHz leakage {a1k}");
    assert_eq!(
        p.frame(Codec::Pcma, p.frame_count() - 1).map(<[u8]>::len),
        Some(160)
    );
}

#[test]
fn wav_44k1_stereo() {
    check_tone("tone-44k-stereo.wav", 0.25);
}

#[test]
fn flac_48k() {
    check_tone("tone-48k.flac", 0.5);
}

#[test]
fn ogg_vorbis_22k() {
    check_tone("tone-22k.ogg", 0.5);
}

#[test]
fn mp3_16k() {
    check_tone("tone-16k.mp3", 0.5);
}

#[test]
fn missing_file_is_io_error() {
    let err = Prompt::load(&fixture("does-not-exist.wav")).unwrap_err();
    assert!(
        matches!(err, MediaError::Io(ref e) if e.kind() == std::io::ErrorKind::NotFound),
        "{err:?}"
    );
}

#[test]
fn text_file_is_unsupported() {
    let err = Prompt::load(&fixture("not-audio.wav")).unwrap_err();
    assert!(matches!(err, MediaError::Unsupported(_)), "{err:?}");
}

#[test]
fn directory_is_an_error_not_a_panic() {
    let err = Prompt::load(&fixture("")).unwrap_err();
    assert!(
        matches!(err, MediaError::Io(_) | MediaError::Unsupported(_)),
        "{err:?}"
    );
}

#[test]
fn header_only_wav_is_empty() {
    let path = common::write_wav("empty.wav", 8000, 1, &[]);
    let err = Prompt::load(&path).unwrap_err();
    std::fs::remove_file(path).unwrap();
    assert!(
        matches!(err, MediaError::Empty | MediaError::Decode(_)),
        "{err:?}"
    );
}

#[test]
fn truncated_flac_does_not_panic() {
    let bytes = std::fs::read(fixture("tone-48k.flac")).unwrap();
    let path = std::env::temp_dir().join(format!("vaxel-media-{}-cut.flac", std::process::id()));
    std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
    // A cut file either yields the audio before the cut or a typed error; never a panic.
    match Prompt::load(&path) {
        Ok(p) => assert!(p.samples().len() < 4000),
        Err(e) => assert!(!matches!(e, MediaError::BadRtp(_)), "{e:?}"),
    }
    std::fs::remove_file(path).unwrap();
}
