//! Band-limited sinc resampling to the 8 kHz telephone rate with rubato.

use rubato::{
    Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType, WindowFunction,
    calculate_cutoff,
};

use crate::MediaError;

/// The one rate RTP G.711 runs at.
pub const TELEPHONE_RATE: u32 = 8000;

/// Input frames handed to rubato per call; large chunks amortise per-call overhead.
const CHUNK: usize = 4096;
/// Sinc filter length: long enough for > 90 dB stop-band with Blackman-Harris.
const SINC_LEN: usize = 256;

/// Resample mono `input` at `rate` Hz to 8000 Hz.
///
/// Uses a windowed-sinc low-pass at just below 4 kHz, so content above the new Nyquist
/// frequency is removed rather than folded back (no sample dropping). The filter delay is
/// compensated: output sample `i` lines up with input time `i / 8000` s.
pub fn resample_to_8k(input: &[f32], rate: u32) -> Result<Vec<f32>, MediaError> {
    if rate == 0 {
        return Err(MediaError::Resample("sample rate 0".into()));
    }
    if rate == TELEPHONE_RATE {
        return Ok(input.to_vec());
    }
    let ratio = f64::from(TELEPHONE_RATE) / f64::from(rate);
    let window = WindowFunction::BlackmanHarris2;
    let params = SincInterpolationParameters {
        sinc_len: SINC_LEN,
        f_cutoff: calculate_cutoff(SINC_LEN, window),
        oversampling_factor: 256,
        interpolation: SincInterpolationType::Cubic,
        window,
    };
    let mut rs = SincFixedIn::<f32>::new(ratio, 1.0, params, CHUNK, 1)
        .map_err(|e| MediaError::Resample(e.to_string()))?;
    let expected = (input.len() as f64 * ratio).ceil() as usize;
    let delay = rs.output_delay();
    let mut out: Vec<f32> = Vec::with_capacity(expected + delay + CHUNK);
    let mut outbuf = rs.output_buffer_allocate(true);

    let mut pos = 0;
    while input.len() - pos >= CHUNK {
        let chunk = [&input[pos..pos + CHUNK]];
        let (used, written) = rs
            .process_into_buffer(&chunk, &mut outbuf, None)
            .map_err(|e| MediaError::Resample(e.to_string()))?;
        pos += used;
        out.extend_from_slice(outbuf.first().map_or(&[][..], |c| &c[..written]));
    }
    // The tail, then zeros until the filter delay has been flushed out.
    let mut tail: Option<&[f32]> = Some(&input[pos..]);
    while out.len() < expected + delay {
        let chunk = tail.take().map(|t| [t]);
        let (_, written) = rs
            .process_partial_into_buffer(chunk.as_ref().map(|c| &c[..]), &mut outbuf, None)
            .map_err(|e| MediaError::Resample(e.to_string()))?;
        if written == 0 {
            break;
        }
        out.extend_from_slice(outbuf.first().map_or(&[][..], |c| &c[..written]));
    }
    let end = (delay + expected).min(out.len());
    Ok(out.get(delay..end).map(<[f32]>::to_vec).unwrap_or_default())
}

/// Convert [-1, 1] floats to i16 with rounding and clamping (no wrap-around on overs).
pub fn to_i16(samples: &[f32]) -> Vec<i16> {
    samples
        .iter()
        .map(|&s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}
