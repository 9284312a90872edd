//! Loss, jitter and CPU from what the threads saw, as the one JSON line the bench scripts
//! read (`bench/relay-bench.sh`, `bench/summarize_phones.py`).

use std::fmt::Write as _;

use crate::Args;
use crate::recv::RxStream;
use crate::send::SendReport;
use crate::sys::{hist_percentile, loadavg1, percentile};

/// Everything measured in one run.
pub struct Run<'a> {
    pub args: &'a Args,
    pub streams: usize,
    pub rx: Vec<RxStream>,
    pub send: SendReport,
    pub negative: u64,
    pub unknown: u64,
    pub recv_calls: u64,
    pub window_s: f64,
    pub drift_us: f64,
    pub relay_ns: f64,
    pub recv_ns: f64,
    pub all_ns: f64,
    pub relay_io: &'a str,
    pub relayed: u64,
    pub transcoded: u64,
    pub relay_send_errors: u64,
    pub relay_strict_drops: u64,
    pub relay_other_drops: u64,
    pub relay_socket_drops: u64,
    pub phone_socket_drops: u64,
    pub backlog_drops: u64,
}

pub fn json(mut run: Run) -> String {
    let a = run.args;
    let n = a.calls;
    let streams = run.streams;
    let rep = &run.send;
    // Loss and jitter.
    let mut sent_total = 0u64;
    let mut recv_total = 0u64;
    let mut lost = 0u64;
    let mut streams_with_loss = 0u64;
    let mut dups = 0u64;
    let mut corrupt = run.unknown;
    let mut added: Vec<u32> = Vec::new();
    let mut transit_all: Vec<u32> = Vec::new();
    for (r, st) in run.rx.iter_mut().enumerate() {
        let sent = u64::from(rep.sent[r ^ 1]);
        sent_total += sent;
        recv_total += u64::from(st.received);
        let l = sent.saturating_sub(u64::from(st.received));
        lost += l;
        streams_with_loss += u64::from(l > 0);
        dups += u64::from(st.dups);
        corrupt += u64::from(st.corrupt);
        if let Some(&min) = st.transit.iter().min() {
            added.extend(st.transit.iter().map(|t| t - min));
            transit_all.extend_from_slice(&st.transit);
        }
        st.transit = Vec::new();
    }
    added.sort_unstable();
    transit_all.sort_unstable();
    let over = |limit_ns: u32| added.len() - added.partition_point(|&v| v <= limit_ns);

    let send_s = (rep.last_ns.saturating_sub(rep.first_ns)) as f64 / 1e9;
    let send_ns = rep.cpu_ns as f64;
    // CPU % over the time packets were being sent (the 0.1 s before and the drain after
    // cost next to nothing when the relay keeps up; when it does not, it works during them).
    let pct = |ns: f64| ns / 1e9 / send_s.max(1e-3) * 100.0;
    let mut j = String::new();
    let _ = write!(
        j,
        "{{\"bench\":\"relay\",\"mode\":\"{}\",\"mixed\":{},\"label\":\"{}\",\"calls\":{n},\"streams\":{streams},\
         \"secs\":{},\"relay_threads\":{},\"relay_io\":\"{}\",\"receivers\":{},\"phone_sockets\":{},\
         \"warmup_s\":{},\"tick_us\":{},\"rx_tick_us\":{},",
        if a.direct { "direct" } else { "relay" },
        a.mixed,
        a.label,
        a.secs,
        if a.direct { 0 } else { a.threads },
        run.relay_io,
        a.receivers,
        a.phone_sockets,
        a.warmup,
        a.tick_us,
        a.rx_tick_us
    );
    let _ = write!(
        j,
        "\"sent\":{sent_total},\"send_errors\":{},\"received\":{recv_total},\"lost\":{lost},\
         \"streams_with_loss\":{streams_with_loss},\"dups\":{dups},\"corrupt\":{corrupt},\
         \"loss_pct\":{:.4},\"send_pps\":{:.0},\"send_late_p50_us\":{},\"send_late_p99_us\":{},\
         \"send_late_max_us\":{},\"send_calls\":{},\"recv_calls\":{},",
        rep.errors,
        if sent_total > 0 {
            lost as f64 * 100.0 / sent_total as f64
        } else {
            0.0
        },
        sent_total as f64 / send_s.max(1e-9),
        hist_percentile(&rep.late_us, 0.5),
        hist_percentile(&rep.late_us, 0.99),
        rep.late_us.iter().rposition(|&c| c > 0).unwrap_or(0),
        rep.calls,
        run.recv_calls,
    );
    let us = |v: f64| {
        if v < 0.0 {
            v
        } else {
            (v / 100.0).round() / 10.0
        }
    };
    let _ = write!(
        j,
        "\"jitter_packets\":{},\"jitter_p50_us\":{},\"jitter_p90_us\":{},\"jitter_p99_us\":{},\
         \"jitter_p999_us\":{},\"jitter_max_us\":{},\"jitter_over_2ms\":{},\"jitter_over_20ms\":{},\
         \"transit_p50_us\":{},\"transit_p99_us\":{},\"transit_negative\":{},\
         \"clock_drift_us\":{:.1},",
        added.len(),
        us(percentile(&added, 0.5)),
        us(percentile(&added, 0.9)),
        us(percentile(&added, 0.99)),
        us(percentile(&added, 0.999)),
        us(added.last().map_or(-1.0, |&v| f64::from(v))),
        over(2_000_000),
        over(20_000_000),
        us(percentile(&transit_all, 0.5)),
        us(percentile(&transit_all, 0.99)),
        run.negative,
        run.drift_us,
    );
    let _ = write!(
        j,
        "\"window_s\":{:.3},\"send_s\":{:.3},\"relay_cpu_s\":{:.3},\"relay_cpu_pct\":{:.1},\"relay_cpu_us_per_pkt\":{:.2},\
         \"gen_send_cpu_pct\":{:.1},\"gen_recv_cpu_pct\":{:.1},\"gen_cpu_pct\":{:.1},\"process_cpu_pct\":{:.1},\
         \"gen_cpu_us_per_pkt\":{:.2},",
        run.window_s,
        send_s,
        run.relay_ns / 1e9,
        pct(run.relay_ns),
        if run.relayed > 0 {
            run.relay_ns / 1e3 / run.relayed as f64
        } else {
            0.0
        },
        pct(send_ns),
        pct(run.recv_ns),
        pct(send_ns + run.recv_ns),
        pct(run.all_ns),
        (send_ns + run.recv_ns) / 1e3 / (sent_total.max(1) as f64),
    );
    let _ = write!(
        j,
        "\"relayed\":{},\"transcoded\":{},\"relay_send_errors\":{},\"relay_strict_drops\":{},\
         \"relay_other_drops\":{},\"relay_socket_drops\":{},\"phone_socket_drops\":{},\
         \"backlog_drops\":{},\"loadavg1\":{:.2},\"nice\":{}}}",
        run.relayed,
        run.transcoded,
        run.relay_send_errors,
        run.relay_strict_drops,
        run.relay_other_drops,
        run.relay_socket_drops,
        run.phone_socket_drops,
        run.backlog_drops,
        loadavg1(),
        // SAFETY: plain system call about this process.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) },
    );
    j
}
