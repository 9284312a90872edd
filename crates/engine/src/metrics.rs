//! Counters for Prometheus, kept in atomics so every task can bump them without locks.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Every counter and gauge vaxel exports.
#[derive(Debug, Default)]
pub struct Metrics {
    /// SIP messages received (parsed or not).
    pub sip_received: AtomicU64,
    /// SIP messages sent, retransmissions included.
    pub sip_sent: AtomicU64,
    /// Messages that did not parse.
    pub sip_parse_errors: AtomicU64,
    /// Messages dropped because the engine was overloaded.
    pub sip_dropped: AtomicU64,
    /// INVITEs refused because their source is in no trunk's allow list.
    pub sip_forbidden: AtomicU64,
    /// Calls (INVITEs that started a call attempt).
    pub calls_total: AtomicU64,
    /// Calls answered with 200.
    pub calls_answered: AtomicU64,
    /// Calls rejected with a final error response, by the plan or a check.
    pub calls_rejected: AtomicU64,
    /// Calls in progress.
    pub calls_active: AtomicI64,
    /// RTP packets sent.
    pub rtp_packets_sent: AtomicU64,
    /// RTP send errors.
    pub rtp_send_errors: AtomicU64,
    /// RTP packets received (and for now dropped).
    pub rtp_packets_received: AtomicU64,
    /// RTP packets relayed between the legs of bridged calls (transcoded ones included).
    pub rtp_relayed: AtomicU64,
    /// Of those, the ones transcoded between µ-law and A-law.
    pub rtp_transcoded: AtomicU64,
    /// Packets to a bridged call's port from a source other than the latched one (strict
    /// RTP: a third party trying to inject or steal media). A port connected to its latched
    /// SDP address has the kernel drop such packets, uncounted.
    pub rtp_dropped_strict: AtomicU64,
    /// Packets to a bridged call's port that were not relayed for another reason: not RTP,
    /// comfort noise, a payload type not negotiated, or an event the other leg cannot take.
    pub rtp_relay_dropped: AtomicU64,
    /// Packets not relayed because the receiving leg is on hold (expected, not loss).
    pub rtp_relay_held: AtomicU64,
    /// Live SIP transactions.
    pub transactions: AtomicI64,
    /// Config reloads that took effect.
    pub reloads_ok: AtomicU64,
    /// Config reloads refused.
    pub reloads_failed: AtomicU64,
    /// RTP ports currently free.
    pub rtp_ports_free: AtomicI64,
    /// Registered phone contacts in force.
    pub registrations: AtomicI64,
    /// Of those, the ones that did not answer their last OPTIONS.
    pub registrations_unreachable: AtomicI64,
}

impl Metrics {
    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let counters: [(&str, &str, &AtomicU64); 18] = [
            (
                "vaxel_sip_messages_received_total",
                "SIP messages received",
                &self.sip_received,
            ),
            (
                "vaxel_sip_messages_sent_total",
                "SIP messages sent, retransmissions included",
                &self.sip_sent,
            ),
            (
                "vaxel_sip_parse_errors_total",
                "SIP messages that did not parse",
                &self.sip_parse_errors,
            ),
            (
                "vaxel_sip_dropped_total",
                "SIP messages dropped under overload",
                &self.sip_dropped,
            ),
            (
                "vaxel_sip_forbidden_total",
                "INVITEs from outside every trunk's allow list",
                &self.sip_forbidden,
            ),
            ("vaxel_calls_total", "Call attempts", &self.calls_total),
            (
                "vaxel_calls_answered_total",
                "Calls answered",
                &self.calls_answered,
            ),
            (
                "vaxel_calls_rejected_total",
                "Calls given a final error response",
                &self.calls_rejected,
            ),
            (
                "vaxel_rtp_packets_sent_total",
                "RTP packets sent",
                &self.rtp_packets_sent,
            ),
            (
                "vaxel_rtp_send_errors_total",
                "RTP packets that could not be sent",
                &self.rtp_send_errors,
            ),
            (
                "vaxel_rtp_packets_received_total",
                "RTP packets received",
                &self.rtp_packets_received,
            ),
            (
                "vaxel_rtp_relayed_total",
                "RTP packets relayed between bridged legs",
                &self.rtp_relayed,
            ),
            (
                "vaxel_rtp_transcoded_total",
                "Relayed RTP packets transcoded between PCMU and PCMA",
                &self.rtp_transcoded,
            ),
            (
                "vaxel_rtp_dropped_strict_total",
                "RTP packets from a source other than the latched one",
                &self.rtp_dropped_strict,
            ),
            (
                "vaxel_rtp_relay_dropped_total",
                "Packets on bridged ports not relayed: not RTP, CN, unknown payload type",
                &self.rtp_relay_dropped,
            ),
            (
                "vaxel_rtp_relay_held_total",
                "RTP packets not relayed because the receiving leg is on hold",
                &self.rtp_relay_held,
            ),
            (
                "vaxel_reloads_total",
                "Config reloads that took effect",
                &self.reloads_ok,
            ),
            (
                "vaxel_reloads_failed_total",
                "Config reloads refused",
                &self.reloads_failed,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        let gauges: [(&str, &str, &AtomicI64); 5] = [
            (
                "vaxel_calls_active",
                "Calls in progress",
                &self.calls_active,
            ),
            (
                "vaxel_sip_transactions",
                "Live SIP transactions",
                &self.transactions,
            ),
            (
                "vaxel_rtp_ports_free",
                "RTP ports free",
                &self.rtp_ports_free,
            ),
            (
                "vaxel_registrations",
                "Registered phone contacts",
                &self.registrations,
            ),
            (
                "vaxel_registrations_unreachable",
                "Registered contacts not answering OPTIONS",
                &self.registrations_unreachable,
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        out
    }
}
