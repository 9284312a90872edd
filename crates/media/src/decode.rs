//! Decode an audio file (WAV, FLAC, MP3, Ogg Vorbis) to mono f32 with symphonia.

use std::fs::File;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::MediaError;

/// Decoded audio: channels already averaged to mono, samples in [-1, 1].
pub(crate) struct MonoAudio {
    pub samples: Vec<f32>,
    pub rate: u32,
}

/// How many consecutive corrupt packets we skip before giving up on a file.
const MAX_BAD_PACKETS: usize = 32;

/// Decode the first audio track of `path` and downmix it to mono.
pub(crate) fn decode_mono(path: &Path) -> Result<MonoAudio, MediaError> {
    let file = File::open(path)?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| unsupported_or(e, path))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| MediaError::Unsupported(format!("{}: no audio track", path.display())))?;
    let track_id = track.id;
    let mut rate = track.codec_params.sample_rate;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| unsupported_or(e, path))?;

    let mut samples: Vec<f32> = Vec::new();
    let mut buf: Option<SampleBuffer<f32>> = None;
    let mut bad_packets = 0;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => return Err(decode_err(e, path)),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            Err(SymError::DecodeError(_)) if bad_packets < MAX_BAD_PACKETS => {
                bad_packets += 1;
                continue;
            }
            Err(e) => return Err(decode_err(e, path)),
        };
        bad_packets = 0;
        let spec = *decoded.spec();
        rate = Some(spec.rate);
        let channels = spec.channels.count().max(1);
        let frames = decoded.frames();
        let needed = decoded.capacity() as u64;
        let sb = match &mut buf {
            Some(sb) if sb.capacity() as u64 >= needed * channels as u64 => sb,
            _ => buf.insert(SampleBuffer::new(needed, spec)),
        };
        sb.copy_interleaved_ref(decoded);
        let interleaved = sb.samples();
        samples.reserve(frames);
        if channels == 1 {
            samples.extend_from_slice(interleaved);
        } else {
            let scale = 1.0 / channels as f32;
            samples.extend(
                interleaved
                    .chunks_exact(channels)
                    .map(|frame| frame.iter().sum::<f32>() * scale),
            );
        }
    }
    let rate = rate
        .filter(|r| *r > 0)
        .ok_or_else(|| MediaError::Decode(format!("{}: unknown sample rate", path.display())))?;
    if samples.is_empty() {
        return Err(MediaError::Empty);
    }
    Ok(MonoAudio { samples, rate })
}

/// Probe/codec failures mean "not a format we know"; real I/O errors stay I/O errors.
fn unsupported_or(e: SymError, path: &Path) -> MediaError {
    match e {
        SymError::IoError(io) if io.kind() != std::io::ErrorKind::UnexpectedEof => {
            MediaError::Io(io)
        }
        other => MediaError::Unsupported(format!("{}: {other}", path.display())),
    }
}

fn decode_err(e: SymError, path: &Path) -> MediaError {
    match e {
        SymError::IoError(io) => MediaError::Io(io),
        SymError::Unsupported(what) => {
            MediaError::Unsupported(format!("{}: {what}", path.display()))
        }
        other => MediaError::Decode(format!("{}: {other}", path.display())),
    }
}
