//! The open-files limit. Every call holds one RTP socket (two when bridged), so a switchboard
//! sized for thousands of calls needs thousands of descriptors, while most systems start a
//! process with a soft limit of 1,024. As Go's runtime and most servers do, vaxel raises its
//! soft limit to the hard one at start, and says so when even that cannot hold the RTP port
//! range (calls beyond it would get 503 when their socket cannot be opened).

/// Descriptors kept for everything that is not an RTP socket: SIP listeners and TCP
/// connections, SQLite, HTTP, io_uring rings, logs.
const HEADROOM: u64 = 256;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns (before, after), or None where
/// the limit cannot be read.
#[cfg(unix)]
pub fn raise_open_files() -> Option<(u64, u64)> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return None;
        }
        let before = r.rlim_cur;
        if r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
                return Some((before, before));
            }
        }
        Some((before, r.rlim_cur))
    }
}

#[cfg(not(unix))]
pub fn raise_open_files() -> Option<(u64, u64)> {
    None
}

/// Raises the limit and logs what an operator needs to know about it for `rtp_ports`
/// (two ports per socket: RTP takes the even one).
pub fn check_open_files(rtp_ports: (u16, u16)) {
    let Some((before, after)) = raise_open_files() else {
        return;
    };
    let sockets = (u64::from(rtp_ports.1.saturating_sub(rtp_ports.0)) + 1).div_ceil(2);
    if after != before {
        tracing::info!(before, after, "open files limit raised");
    }
    if after < sockets + HEADROOM {
        tracing::warn!(
            limit = after,
            rtp_sockets = sockets,
            "the open files limit is below what the RTP port range can use: raise it (ulimit -n, \
             LimitNOFILE= in systemd) or calls past ~{} at once get 503",
            after.saturating_sub(HEADROOM)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_limit_ends_at_the_hard_limit() {
        let (before, after) = raise_open_files().expect("readable limit");
        assert!(after >= before);
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit with a valid struct.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
        assert_eq!(r.rlim_cur, r.rlim_max);
        assert_eq!(after, r.rlim_cur);
    }
}
