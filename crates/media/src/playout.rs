//! The playout cursor of one call: which frame goes out next.

use std::collections::VecDeque;

use crate::{Codec, Prompt};

/// How often an item plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// This many more times, including the one in progress (always >= 1).
    Times(u32),
    /// Until the queue is cleared (hold music).
    Forever,
}

#[derive(Debug)]
struct Item {
    prompt: Prompt,
    repeat: Repeat,
}

/// A queue of prompts for one call, consumed one 20 ms frame at a time.
///
/// The cursor crosses item boundaries and repeats with no gap: the frame after the last
/// frame of one item is the first frame of the next. Timing lives elsewhere (see
/// [`crate::Pacer`]); this only says *what* to send.
#[derive(Debug, Default)]
pub struct Playout {
    queue: VecDeque<Item>,
    /// Next frame index within the front item.
    cursor: usize,
}

impl Playout {
    /// An idle playout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queue `prompt` to play `times` times after everything already queued.
    /// `times == 0` and prompts without frames are ignored.
    pub fn push(&mut self, prompt: Prompt, times: u32) {
        if times > 0 && prompt.frame_count() > 0 {
            self.queue.push_back(Item {
                prompt,
                repeat: Repeat::Times(times),
            });
        }
    }

    /// Queue `prompt` to repeat until [`Playout::clear`] (e.g. music on hold).
    pub fn push_looped(&mut self, prompt: Prompt) {
        if prompt.frame_count() > 0 {
            self.queue.push_back(Item {
                prompt,
                repeat: Repeat::Forever,
            });
        }
    }

    /// The next 160-byte frame, or `None` once everything queued has played.
    pub fn next_frame(&mut self, codec: Codec) -> Option<&[u8]> {
        loop {
            let item = self.queue.front_mut()?;
            if self.cursor < item.prompt.frame_count() {
                break;
            }
            self.cursor = 0;
            match item.repeat {
                Repeat::Forever => {}
                Repeat::Times(n) if n > 1 => item.repeat = Repeat::Times(n - 1),
                Repeat::Times(_) => {
                    self.queue.pop_front();
                }
            }
        }
        let index = self.cursor;
        self.cursor += 1;
        self.queue
            .front()
            .and_then(|item| item.prompt.frame(codec, index))
    }

    /// Stop: drop everything queued (barge-in on DTMF, transfer, hang-up).
    pub fn clear(&mut self) {
        self.queue.clear();
        self.cursor = 0;
    }

    /// True when nothing is left to play.
    pub fn is_idle(&self) -> bool {
        match self.queue.len() {
            0 => true,
            1 => self.queue.front().is_some_and(|item| {
                item.repeat == Repeat::Times(1) && self.cursor >= item.prompt.frame_count()
            }),
            _ => false,
        }
    }

    /// Frames left to play, or `None` if a looped item makes it endless.
    pub fn frames_remaining(&self) -> Option<u64> {
        let mut total: u64 = 0;
        for (i, item) in self.queue.iter().enumerate() {
            let per = item.prompt.frame_count() as u64;
            let Repeat::Times(n) = item.repeat else {
                return None;
            };
            total = total.saturating_add(per.saturating_mul(u64::from(n)));
            if i == 0 {
                total = total.saturating_sub(self.cursor as u64);
            }
        }
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A prompt whose every sample is `v`, `frames` frames long.
    fn flat(v: i16, samples: usize) -> Prompt {
        Prompt::from_samples_8k(vec![v; samples])
    }

    fn drain(p: &mut Playout, codec: Codec) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(f) = p.next_frame(codec) {
            out.push(f.to_vec());
            assert!(out.len() < 10_000, "runaway playout");
        }
        out
    }

    #[test]
    fn plays_items_in_order_with_repeats_and_no_gaps() {
        let a = flat(1000, 320); // 2 frames
        let b = flat(-1000, 200); // 2 frames, second padded
        let mut p = Playout::new();
        assert!(p.is_idle());
        p.push(a.clone(), 2);
        p.push(b.clone(), 1);
        p.push(a.clone(), 0); // ignored
        assert!(!p.is_idle());
        assert_eq!(p.frames_remaining(), Some(6));
        let frames = drain(&mut p, Codec::Pcmu);
        let expected: Vec<Vec<u8>> = [(&a, 0), (&a, 1), (&a, 0), (&a, 1), (&b, 0), (&b, 1)]
            .iter()
            .map(|(pr, i)| pr.frame(Codec::Pcmu, *i).unwrap().to_vec())
            .collect();
        assert_eq!(frames, expected);
        assert!(p.is_idle());
        assert_eq!(p.frames_remaining(), Some(0));
        assert!(p.next_frame(Codec::Pcmu).is_none());
    }

    #[test]
    fn is_idle_turns_true_exactly_after_last_frame() {
        let mut p = Playout::new();
        p.push(flat(5, 160), 1);
        assert!(!p.is_idle());
        assert!(p.next_frame(Codec::Pcma).is_some());
        assert!(p.is_idle());
        assert!(p.next_frame(Codec::Pcma).is_none());
    }

    #[test]
    fn looped_item_repeats_until_cleared() {
        let mut p = Playout::new();
        p.push_looped(flat(7, 160));
        assert_eq!(p.frames_remaining(), None);
        for _ in 0..1000 {
            assert_eq!(p.next_frame(Codec::Pcma).map(<[u8]>::len), Some(160));
        }
        assert!(!p.is_idle());
        p.clear();
        assert!(p.is_idle());
        assert!(p.next_frame(Codec::Pcma).is_none());
    }

    #[test]
    fn clear_then_push_restarts_at_first_frame() {
        let a = Prompt::from_samples_8k((0..480).map(|i| i as i16 * 50).collect());
        let mut p = Playout::new();
        p.push(a.clone(), 1);
        p.next_frame(Codec::Pcmu);
        p.clear();
        p.push(a.clone(), 1);
        assert_eq!(p.next_frame(Codec::Pcmu), a.frame(Codec::Pcmu, 0));
    }

    #[test]
    fn empty_prompts_are_skipped() {
        let mut p = Playout::new();
        p.push(flat(0, 0), 5);
        p.push_looped(flat(0, 0));
        assert!(p.is_idle());
        assert!(p.next_frame(Codec::Pcmu).is_none());
    }
}
