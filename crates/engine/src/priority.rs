//! Real-time scheduling for the media threads (`[server] media_realtime`).
//!
//! RTP is paced on 20 ms deadlines; a media thread that waits behind a compiler, a log
//! shipper or the other half of a busy host delivers its packets late, and the phone hears
//! it as jitter. With `media_realtime = true` the RTP scheduler and relay threads run under
//! `SCHED_FIFO` at a low real-time priority: they preempt ordinary work the moment their
//! deadline comes, and since each wakes for at most a millisecond of work per phase they
//! cannot starve the rest (the kernel's real-time throttling caps them at 95 % anyway).
//! Needs `CAP_SYS_NICE` or an `RLIMIT_RTPRIO` of at least [`PRIORITY`]; without it the
//! threads keep normal scheduling and one warning says so.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

/// The `SCHED_FIFO` priority asked for: low, so kernel threads and anything an operator
/// set up as real-time on purpose still come first.
pub const PRIORITY: i32 = 10;

static WANTED: AtomicBool = AtomicBool::new(false);

/// Chooses, before the media threads start, whether they ask for real-time scheduling.
pub fn set_wanted(realtime: bool) {
    WANTED.store(realtime, Ordering::Relaxed);
}

/// Called by each media thread as it starts: applies the choice to the calling thread.
pub fn apply_to_this_thread() {
    if !WANTED.load(Ordering::Relaxed) {
        return;
    }
    static WARNED: Once = Once::new();
    if let Err(e) = set_fifo() {
        WARNED.call_once(|| {
            tracing::warn!(
                "media_realtime: cannot use SCHED_FIFO ({e}); media threads keep normal \
                 scheduling (needs CAP_SYS_NICE or RLIMIT_RTPRIO >= {PRIORITY})"
            )
        });
    }
}

#[cfg(target_os = "linux")]
fn set_fifo() -> std::io::Result<()> {
    let param = libc::sched_param {
        sched_priority: PRIORITY,
    };
    // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param for the call.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn set_fifo() -> std::io::Result<()> {
    Err(std::io::Error::other("only on Linux"))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A thread that asks gets SCHED_FIFO unless the kernel refuses it (no CAP_SYS_NICE),
    /// and the refusal leaves the thread running with its old policy.
    #[test]
    fn a_thread_that_asks_is_real_time_unless_refused() {
        set_wanted(true);
        let (policy, retry) = std::thread::spawn(|| {
            apply_to_this_thread();
            // SAFETY: pid 0 is the calling thread.
            let policy = unsafe { libc::sched_getscheduler(0) };
            let retry = (policy != libc::SCHED_FIFO).then(set_fifo);
            (policy, retry)
        })
        .join()
        .expect("thread");
        set_wanted(false);
        match retry {
            None => assert_eq!(policy, libc::SCHED_FIFO),
            Some(r) => {
                assert_eq!(policy, libc::SCHED_OTHER);
                let e = r.expect_err("set_fifo works, so apply_to_this_thread should have used it");
                assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
            }
        }
        // SAFETY: as above.
        let here = unsafe { libc::sched_getscheduler(0) };
        assert_eq!(
            here,
            libc::SCHED_OTHER,
            "only the thread that asked changes"
        );
    }
}
