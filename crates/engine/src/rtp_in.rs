//! What the caller sends on a call's RTP port: DTMF, as RFC 4733 telephone-events or, for
//! callers that offered none, as in-band tones in the G.711 audio. Everything else is counted
//! and dropped (bridging comes with the B2BUA).

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc::UnboundedSender;
use vaxel_media::dtmf::{EventReceiver, InbandDetector};
use vaxel_media::{Codec, g711, parse_rtp};

use crate::metrics::Metrics;
use crate::scheduler::{MediaEvent, StreamId};

/// How DTMF reaches us on this call.
#[derive(Debug, Clone, Copy)]
pub struct DtmfMode {
    /// The negotiated telephone-event payload type, if any.
    pub telephone_event: Option<u8>,
    /// The audio codec (for in-band detection when there is no telephone-event).
    pub codec: Codec,
    /// Its payload type.
    pub audio_pt: u8,
}

/// Receive buffer of a socket nobody reads (bytes as given to SO_RCVBUF; the kernel doubles
/// it): a few packets. A caller keeps sending RTP while a message plays; unread, it would
/// fill the default ~200 KB per call (a gigabyte of kernel memory at 5,000 calls).
const PARKED_RCVBUF: usize = 2048;
/// Receive buffer while something reads the socket: the kernel's usual default.
const READ_RCVBUF: usize = 106_496;

/// Leaves a call's RTP socket unread (no digits wanted yet): nothing waits on it, so the
/// prompts sent from it wake no one, and what the caller sends is dropped by the kernel
/// after a few packets.
pub fn park(socket: &UdpSocket) {
    let _ = socket2::SockRef::from(socket).set_recv_buffer_size(PARKED_RCVBUF);
}

/// Gives a parked socket its usual receive buffer back, before a reader or the relay uses it.
pub fn unpark(socket: &UdpSocket) {
    let _ = socket2::SockRef::from(socket).set_recv_buffer_size(READ_RCVBUF);
}

/// Starts the reader task of one call's RTP socket. Only while keys mean something (an IVR
/// menu): a socket in the runtime's epoll set is woken by every packet *sent* from it too
/// (the kernel's write-space wake-up walks its wait queue), ~0.5 us per prompt packet.
pub fn spawn(
    id: StreamId,
    socket: Arc<UdpSocket>,
    mode: DtmfMode,
    events: UnboundedSender<MediaEvent>,
    metrics: Arc<Metrics>,
) -> tokio::task::JoinHandle<()> {
    unpark(&socket);
    // What waited in the parked socket was sent before keys meant anything (a key pressed
    // during a welcome message): dropped, so it cannot answer the menu that starts now.
    let mut stale = [0u8; 2048];
    let mut dropped = 0;
    while dropped < 64 && socket.recv(&mut stale).is_ok() {
        dropped += 1;
    }
    let clone = socket.try_clone();
    tokio::spawn(async move {
        let Ok(std_sock) = clone else { return };
        // Readable interest only: registered for writability too (as tokio's UdpSocket is),
        // every packet the scheduler sends on this socket would wake the runtime's epoll
        // when the kernel frees it.
        // SAFETY: the AsyncFd owns `std_sock`, an open UDP socket whose fd stays the same
        // and open until the AsyncFd is dropped.
        let registered = unsafe { AsyncFd::register_with_interest(std_sock, Interest::READABLE) };
        let Ok(sock) = registered else {
            return;
        };
        let mut events_rx = EventReceiver::new();
        let mut inband = mode.telephone_event.is_none().then(InbandDetector::new);
        let mut pcm = Vec::with_capacity(160);
        let mut buf = [0u8; 2048];
        loop {
            let Ok(mut ready) = sock.readable().await else {
                return;
            };
            let n = match ready.try_io(|s| s.get_ref().recv_from(&mut buf)) {
                Ok(Ok((n, _))) => n,
                // As before: a socket error ends the reader.
                Ok(Err(_)) => return,
                Err(_would_block) => continue,
            };
            let Some(Ok(pkt)) = buf.get(..n).map(parse_rtp) else {
                continue;
            };
            metrics.rtp_packets_received.fetch_add(1, Ordering::Relaxed);
            let digits = if Some(pkt.payload_type) == mode.telephone_event {
                events_rx
                    .on_packet(pkt.timestamp, pkt.marker, pkt.payload)
                    .into_iter()
                    .collect()
            } else if let (Some(det), true) = (inband.as_mut(), pkt.payload_type == mode.audio_pt) {
                pcm.clear();
                g711::decode(mode.codec, pkt.payload, &mut pcm);
                det.push(&pcm)
            } else {
                Vec::new()
            };
            for d in digits {
                if events.send(MediaEvent::Digit(id, d)).is_err() {
                    return;
                }
            }
        }
    })
}
