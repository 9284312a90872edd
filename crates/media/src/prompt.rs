//! A decoded, telephone-ready prompt shared by every call that plays it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::resample::{TELEPHONE_RATE, resample_to_8k, to_i16};
use crate::{Codec, MediaError, SAMPLES_PER_FRAME, decode, g711};

/// 8 kHz mono audio plus its PCMU and PCMA encodings, ready to be cut into 20 ms frames.
///
/// Everything sits behind `Arc`, so a clone is three reference-count bumps: load a prompt
/// once at start-up and hand clones to every call.
#[derive(Clone)]
pub struct Prompt {
    samples: Arc<[i16]>,
    /// Encoded bytes padded with the codec's silence to a whole number of frames.
    pcmu: Arc<[u8]>,
    pcma: Arc<[u8]>,
}

impl std::fmt::Debug for Prompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prompt")
            .field("samples", &self.samples.len())
            .field("frames", &self.frame_count())
            .finish()
    }
}

impl Prompt {
    /// Decode an audio file (WAV, FLAC, MP3, Ogg Vorbis; any rate, any channel count),
    /// downmix to mono, resample to 8 kHz and pre-encode both G.711 variants.
    pub fn load(path: &Path) -> Result<Prompt, MediaError> {
        let audio = decode::decode_mono(path)?;
        let resampled = resample_to_8k(&audio.samples, audio.rate)?;
        if resampled.is_empty() {
            return Err(MediaError::Empty);
        }
        Ok(Prompt::from_samples_8k(to_i16(&resampled)))
    }

    /// Build a prompt from samples that are already 8 kHz mono (tones, tests, recordings).
    pub fn from_samples_8k(samples: Vec<i16>) -> Prompt {
        let frames = samples.len().div_ceil(SAMPLES_PER_FRAME);
        let padded = frames * SAMPLES_PER_FRAME;
        let encode = |codec: Codec| -> Arc<[u8]> {
            let mut out = Vec::with_capacity(padded);
            g711::encode(codec, &samples, &mut out);
            out.resize(padded, codec.silence_byte());
            out.into()
        };
        let pcmu = encode(Codec::Pcmu);
        let pcma = encode(Codec::Pcma);
        Prompt {
            samples: samples.into(),
            pcmu,
            pcma,
        }
    }

    /// Number of 20 ms frames, the last one possibly padded.
    pub fn frame_count(&self) -> usize {
        self.samples.len().div_ceil(SAMPLES_PER_FRAME)
    }

    /// The encoded payload of frame `index`: exactly 160 bytes, or `None` past the end.
    pub fn frame(&self, codec: Codec, index: usize) -> Option<&[u8]> {
        let bytes = match codec {
            Codec::Pcmu => &self.pcmu,
            Codec::Pcma => &self.pcma,
        };
        let start = index.checked_mul(SAMPLES_PER_FRAME)?;
        bytes.get(start..start.checked_add(SAMPLES_PER_FRAME)?)
    }

    /// The linear 8 kHz samples (unpadded).
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// Play time of the samples (not rounded up to whole frames).
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples.len() as u64 * 1_000_000 / u64::from(TELEPHONE_RATE))
    }

    /// True when both prompts share the same sample storage (a clone of one another).
    pub fn ptr_eq(&self, other: &Prompt) -> bool {
        Arc::ptr_eq(&self.samples, &other.samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_padded_with_codec_silence() {
        let p = Prompt::from_samples_8k(vec![1000; 161]);
        assert_eq!(p.frame_count(), 2);
        assert_eq!(p.duration(), Duration::from_micros(20_125));
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let f0 = p.frame(codec, 0).unwrap();
            let f1 = p.frame(codec, 1).unwrap();
            assert_eq!(f0.len(), 160);
            assert_eq!(f1.len(), 160);
            assert_ne!(f1[0], codec.silence_byte());
            assert!(f1[1..].iter().all(|&b| b == codec.silence_byte()));
            assert!(p.frame(codec, 2).is_none());
            assert!(p.frame(codec, usize::MAX).is_none());
        }
        assert_eq!(p.frame(Codec::Pcmu, 0).unwrap()[0], 0xCE);
        assert_eq!(p.frame(Codec::Pcma, 0).unwrap()[0], 0xFA);
    }

    #[test]
    fn empty_prompt_has_no_frames_and_clones_share() {
        let p = Prompt::from_samples_8k(Vec::new());
        assert_eq!(p.frame_count(), 0);
        assert!(p.frame(Codec::Pcma, 0).is_none());
        let q = p.clone();
        assert!(q.ptr_eq(&p));
        assert!(!Prompt::from_samples_8k(Vec::new()).ptr_eq(&p));
    }
}
