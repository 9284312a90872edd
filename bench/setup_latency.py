"""Call setup through the B2BUA: INVITE in (from a trunk) -> INVITE out (to a registered
phone), timed at 500 calls/s. One Python process (stdlib only) plays both ends:

- the trunk caller, a UDP socket on 127.0.0.9 (in the trunk's `allow`, so no
  authentication), sends INVITEs to a DID routed to `user:bench` at a fixed rate, each with
  its own caller number in From; ACKs the 200, hangs up with BYE after --hold seconds;
- the phone, a UDP socket on 127.0.0.3, registers as `bench` first (MD5 digest answered
  here), then answers every INVITE from vaxel with 180 and 200 with SDP, takes the ACK and
  the BYE, and answers OPTIONS (vaxel's qualify).

Latency of one call = kernel receive time of vaxel's INVITE at the phone socket
(SO_TIMESTAMPNS, CLOCK_REALTIME) - CLOCK_REALTIME read just before our INVITE's sendto.
vaxel copies the caller's number into the From user of the INVITE it sends, which ties the
two together. After the run: vaxel_calls_active and vaxel_sip_transactions must return to 0
(non-INVITE transactions linger 32 s by RFC 3261 Timer J/K), and the RTP ports must all be
free again.

usage: setup_latency.py [--rate 500] [--secs 20] [--hold 1.0] [--extra-users 0] [--run K] [--out FILE]
"""

import argparse
import gc
import heapq
import os
import re
import resource
import selectors
import socket
import struct
import time

import benchlib as b
import phoneslib as pl

DID = "4610100200"
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length", "c": "content-type"}
FROM_USER = re.compile(r"sip:([^@;>]+)@")


def now_ns():
    return time.clock_gettime_ns(time.CLOCK_REALTIME)


def parse(data):
    """(first line, {lower name: [values]}, body) of one SIP datagram; None if it is not one."""
    try:
        text = data.decode("utf-8", "replace")
    except Exception:
        return None
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name = name.strip().lower()
        name = COMPACT.get(name, name)
        hdrs.setdefault(name, []).append(value.strip())
    return lines[0], hdrs, body


def h1(hdrs, name, default=""):
    v = hdrs.get(name)
    return v[0] if v else default


def tag_of(value):
    m = re.search(r";\s*tag=([^;>\s]+)", value)
    return m.group(1) if m else None


def uri_of(value):
    m = re.search(r"<([^>]+)>", value)
    return m.group(1) if m else value.split(";")[0].strip()


def sdp(ip, port, sess):
    return (f"v=0\r\no=bench {sess} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n")


def response(hdrs, status, reason, to_tag=None, extra="", body=""):
    lines = [f"SIP/2.0 {status} {reason}"]
    lines += [f"Via: {v}" for v in hdrs.get("via", [])]
    lines.append(f"From: {h1(hdrs, 'from')}")
    to = h1(hdrs, "to")
    if to_tag and tag_of(to) is None:
        to = f"{to};tag={to_tag}"
    lines.append(f"To: {to}")
    lines.append(f"Call-ID: {h1(hdrs, 'call-id')}")
    lines.append(f"CSeq: {h1(hdrs, 'cseq')}")
    if extra:
        lines.append(extra.rstrip("\r\n"))
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


class Bench:
    def __init__(self, a, vaxel_addr):
        self.a = a
        self.vaxel = vaxel_addr
        self.sel = selectors.DefaultSelector()
        self.phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.phone.bind(("127.0.0.3", 0))
        self.phone.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.caller.bind(("127.0.0.9", 0))
        for s in (self.phone, self.caller):
            for opt in (getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF):
                try:
                    s.setsockopt(socket.SOL_SOCKET, opt, 32 << 20)
                    break
                except OSError:
                    continue
            s.setblocking(False)
        self.sel.register(self.phone, selectors.EVENT_READ, "phone")
        self.sel.register(self.caller, selectors.EVENT_READ, "caller")
        self.pport = self.phone.getsockname()[1]
        self.cport = self.caller.getsockname()[1]
        self.timers = []  # (at monotonic, seq, fn, args)
        self.tseq = 0
        # Caller side, per call index.
        self.sent_ns = {}
        self.calls = {}
        # Phone side, per vaxel Call-ID.
        self.legs = {}
        self.lat_ns = {}
        self.by_cid = {}
        self.stats = dict(invites_sent=0, invite_retrans=0, answered=0, completed=0, failed=0, bye_retrans=0,
                          bye_failed=0, vaxel_bye_to_caller=0, vaxel_bye_to_phone=0, phone_invites=0,
                          phone_invite_retrans=0, phone_uncorrelated=0, options=0, cancels=0, ok200_retrans=0,
                          caller_200_retrans=0, unexpected=0)
        self.fail_status = {}

    # --- plumbing -------------------------------------------------------------------------
    def at(self, when, fn, *args):
        self.tseq += 1
        heapq.heappush(self.timers, (when, self.tseq, fn, args))

    def send_caller(self, data):
        self.caller.sendto(data, self.vaxel)

    def send_phone(self, data, addr):
        self.phone.sendto(data, addr)

    def poll(self, until):
        """Handles input and timers until monotonic time `until`."""
        while True:
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, fn, args = heapq.heappop(self.timers)
                fn(*args)
                now = time.monotonic()
            if now >= until:
                return
            nxt = min(until, self.timers[0][0]) if self.timers else until
            for key, _ in self.sel.select(max(0.0, nxt - now)):
                self.drain(key.fileobj, key.data)

    def drain(self, sock, who):
        for _ in range(256):
            try:
                if who == "phone":
                    data, anc, _flags, addr = sock.recvmsg(65535, 256)
                else:
                    data, addr = sock.recvfrom(65535)
                    anc = ()
            except BlockingIOError:
                return
            ts = None
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(cdata) >= 16:
                    sec, nsec = struct.unpack("qq", cdata[:16])
                    ts = sec * 1_000_000_000 + nsec
            msg = parse(data)
            if msg is None:
                continue
            if who == "phone":
                self.on_phone(msg, addr, ts if ts is not None else now_ns())
            else:
                self.on_caller(msg)

    # --- registration ---------------------------------------------------------------------
    def register(self):
        uri = f"sip:{self.vaxel[0]}:{self.vaxel[1]}"
        aor = f"<sip:bench@{self.vaxel[0]}>"
        cid = f"reg-{os.getpid()}@bench"

        def req(cseq, auth=None):
            lines = [f"REGISTER {uri} SIP/2.0", f"Via: SIP/2.0/UDP 127.0.0.3:{self.pport};branch=z9hG4bKreg{cseq}{os.getpid()};rport",
                     "Max-Forwards: 70", f"From: {aor};tag=r{os.getpid()}", f"To: {aor}", f"Call-ID: {cid}",
                     f"CSeq: {cseq} REGISTER", f"Contact: <sip:bench@127.0.0.3:{self.pport}>", "Expires: 3600"]
            if auth:
                lines.append(f"Authorization: {auth}")
            lines.append("Content-Length: 0")
            return ("\r\n".join(lines) + "\r\n\r\n").encode()

        def wait_status(deadline):
            self.phone.setblocking(True)
            try:
                while time.monotonic() < deadline:
                    self.phone.settimeout(max(0.01, deadline - time.monotonic()))
                    try:
                        data, _ = self.phone.recvfrom(65535)
                    except (socket.timeout, BlockingIOError):
                        return None
                    m = parse(data)
                    if m and m[0].startswith("SIP/2.0") and h1(m[1], "call-id") == cid:
                        return m
                return None
            finally:
                self.phone.setblocking(False)

        for attempt in range(5):
            self.send_phone(req(1 + 2 * attempt), self.vaxel)
            m = wait_status(time.monotonic() + 2)
            if m is None:
                continue
            status = int(m[0].split()[1])
            if status == 200:
                return
            if status != 401:
                raise RuntimeError(f"REGISTER got {m[0]}")
            ch = pl.parse_challenge(next(v for v in m[1].get("www-authenticate", [])))
            auth = pl.digest_authorization(ch, "REGISTER", uri, "bench", pl.password("bench"))
            self.send_phone(req(2 + 2 * attempt, auth), self.vaxel)
            m = wait_status(time.monotonic() + 2)
            if m and m[0].split()[1] == "200":
                return
            raise RuntimeError(f"authenticated REGISTER got {m[0] if m else 'nothing'}")
        raise RuntimeError("vaxel did not answer REGISTER")

    # --- caller (trunk) side --------------------------------------------------------------
    def invite(self, i):
        a = self.a
        number = f"+4670{i:07d}"
        c = {"number": number, "branch": f"z9hG4bK{a.run}x{i}x{os.getpid()}", "cid": f"{i}-{a.run}-{os.getpid()}@bench.caller",
             "tag": f"c{i}", "state": "calling", "to_tag": None, "contact": None, "tries": 0, "bye_tries": 0}
        body = sdp("127.0.0.9", 20000 + 2 * (i % 10000), i)
        c["req"] = ("\r\n".join([
            f"INVITE sip:{DID}@{self.vaxel[0]}:{self.vaxel[1]} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.9:{self.cport};branch={c['branch']};rport",
            "Max-Forwards: 70",
            f"From: <sip:{number}@127.0.0.9>;tag={c['tag']}",
            f"To: <sip:{DID}@{self.vaxel[0]}:{self.vaxel[1]}>",
            f"Call-ID: {c['cid']}",
            "CSeq: 1 INVITE",
            f"Contact: <sip:op@127.0.0.9:{self.cport}>",
            "Content-Type: application/sdp",
            f"Content-Length: {len(body)}",
        ]) + "\r\n\r\n" + body).encode()
        self.calls[i] = c
        self.by_cid[c["cid"]] = i
        self.sent_ns[i] = now_ns()
        self.send_caller(c["req"])
        self.stats["invites_sent"] += 1
        self.at(time.monotonic() + 0.5, self.invite_retrans, i, 0.5)

    def invite_retrans(self, i, interval):
        c = self.calls[i]
        if c["state"] != "calling" or c["tries"] >= 6:
            if c["state"] == "calling":
                self.fail(i, "timeout")
            return
        c["tries"] += 1
        self.stats["invite_retrans"] += 1
        self.send_caller(c["req"])
        self.at(time.monotonic() + min(interval * 2, 4), self.invite_retrans, i, min(interval * 2, 4))

    def fail(self, i, why):
        c = self.calls[i]
        if c["state"] in ("failed", "done"):
            return
        c["state"] = "failed"
        self.stats["failed"] += 1
        self.fail_status[str(why)] = self.fail_status.get(str(why), 0) + 1

    def ack(self, c, for_2xx):
        to = f"<sip:{DID}@{self.vaxel[0]}:{self.vaxel[1]}>;tag={c['to_tag']}"
        target = c["contact"] if for_2xx and c["contact"] else f"sip:{DID}@{self.vaxel[0]}:{self.vaxel[1]}"
        branch = f"{c['branch']}a" if for_2xx else c["branch"]
        self.send_caller(("\r\n".join([
            f"ACK {target} SIP/2.0", f"Via: SIP/2.0/UDP 127.0.0.9:{self.cport};branch={branch};rport",
            "Max-Forwards: 70", f"From: <sip:{c['number']}@127.0.0.9>;tag={c['tag']}", f"To: {to}",
            f"Call-ID: {c['cid']}", "CSeq: 1 ACK", "Content-Length: 0"]) + "\r\n\r\n").encode())

    def bye(self, i, interval=0.5):
        c = self.calls[i]
        if c["state"] != "up":
            return
        if c["bye_tries"] > 0:
            self.stats["bye_retrans"] += 1
        if c["bye_tries"] >= 7:
            c["state"] = "failed"
            self.stats["bye_failed"] += 1
            return
        c["bye_tries"] += 1
        target = c["contact"] or f"sip:{DID}@{self.vaxel[0]}:{self.vaxel[1]}"
        self.send_caller(("\r\n".join([
            f"BYE {target} SIP/2.0", f"Via: SIP/2.0/UDP 127.0.0.9:{self.cport};branch={c['branch']}b;rport",
            "Max-Forwards: 70", f"From: <sip:{c['number']}@127.0.0.9>;tag={c['tag']}",
            f"To: <sip:{DID}@{self.vaxel[0]}:{self.vaxel[1]}>;tag={c['to_tag']}", f"Call-ID: {c['cid']}",
            "CSeq: 2 BYE", "Content-Length: 0"]) + "\r\n\r\n").encode())
        self.at(time.monotonic() + interval, self.bye, i, min(interval * 2, 4))

    def on_caller(self, msg):
        first, hdrs, _body = msg
        i = self.by_cid.get(h1(hdrs, "call-id"))
        if i is None:
            self.stats["unexpected"] += 1
            return
        c = self.calls[i]
        if not first.startswith("SIP/2.0"):
            method = first.split(" ", 1)[0]
            if method == "BYE":
                self.stats["vaxel_bye_to_caller"] += 1
                self.send_caller(response(hdrs, 200, "OK"))
                if c["state"] == "up":
                    self.fail(i, "bye-from-vaxel")
            else:
                self.send_caller(response(hdrs, 200 if method in ("OPTIONS", "UPDATE", "INFO") else 501, "OK"))
            return
        status = int(first.split()[1])
        cseq = h1(hdrs, "cseq")
        if cseq.endswith("BYE"):
            if status >= 200 and c["state"] == "up":
                c["state"] = "done"
                if status == 200:
                    self.stats["completed"] += 1
                else:
                    self.fail(i, f"bye-{status}")
            return
        if status < 200:
            if c["state"] == "calling":
                c["state"] = "proceeding"
            return
        c["to_tag"] = tag_of(h1(hdrs, "to"))
        if 200 <= status < 300:
            c["contact"] = uri_of(h1(hdrs, "contact")) if hdrs.get("contact") else None
            self.ack(c, True)
            if c["state"] in ("calling", "proceeding"):
                c["state"] = "up"
                self.stats["answered"] += 1
                self.at(time.monotonic() + self.a.hold, self.bye, i)
            else:
                self.stats["caller_200_retrans"] += 1
        else:
            self.ack(c, False)
            if c["state"] in ("calling", "proceeding"):
                self.fail(i, status)

    # --- phone side -----------------------------------------------------------------------
    def on_phone(self, msg, addr, ts):
        first, hdrs, _body = msg
        if first.startswith("SIP/2.0"):
            return  # answers to our REGISTER retransmissions
        method = first.split(" ", 1)[0]
        cid = h1(hdrs, "call-id")
        if method == "OPTIONS":
            self.stats["options"] += 1
            self.send_phone(response(hdrs, 200, "OK"), addr)
            return
        leg = self.legs.get(cid)
        if method == "INVITE":
            if leg is not None:
                # A retransmission (or a re-INVITE): answer as before.
                self.stats["phone_invite_retrans"] += 1
                if leg.get("last"):
                    self.send_phone(leg["last"], addr)
                return
            self.stats["phone_invites"] += 1
            m = FROM_USER.search(h1(hdrs, "from"))
            i = None
            if m and m.group(1).lstrip("+").startswith("4670"):
                try:
                    i = int(m.group(1).lstrip("+")[4:])
                except ValueError:
                    i = None
            if i is not None and i in self.sent_ns and i not in self.lat_ns:
                self.lat_ns[i] = ts - self.sent_ns[i]
            else:
                self.stats["phone_uncorrelated"] += 1
            tag = f"p{len(self.legs)}"
            leg = {"addr": addr, "acked": False, "last": None}
            self.legs[cid] = leg
            self.send_phone(response(hdrs, 180, "Ringing", tag, f"Contact: <sip:bench@127.0.0.3:{self.pport}>"), addr)
            body = sdp("127.0.0.3", 30000 + 2 * (len(self.legs) % 10000), len(self.legs))
            ok = response(hdrs, 200, "OK", tag, f"Contact: <sip:bench@127.0.0.3:{self.pport}>\r\nContent-Type: application/sdp", body)
            leg["last"] = ok
            self.send_phone(ok, addr)
            self.at(time.monotonic() + 0.5, self.ok_retrans, cid, 0.5)
            return
        if method == "ACK":
            if leg is not None:
                leg["acked"] = True
            return
        if method == "BYE":
            self.stats["vaxel_bye_to_phone"] += 1
            self.send_phone(response(hdrs, 200, "OK"), addr)
            if leg is not None:
                leg["acked"] = True
            return
        if method == "CANCEL":
            self.stats["cancels"] += 1
            self.send_phone(response(hdrs, 200, "OK"), addr)
            return
        self.send_phone(response(hdrs, 501, "Not Implemented"), addr)

    def ok_retrans(self, cid, interval):
        leg = self.legs.get(cid)
        if leg is None or leg["acked"] or interval > 4:
            return
        self.stats["ok200_retrans"] += 1
        self.send_phone(leg["last"], leg["addr"])
        self.at(time.monotonic() + interval * 2, self.ok_retrans, cid, interval * 2)

    # --- the run --------------------------------------------------------------------------
    def run(self):
        a = self.a
        # A collection between reading the clock and sendto would show up as latency.
        gc.collect()
        gc.freeze()
        gc.disable()
        total = int(a.rate * a.secs)
        t0 = time.monotonic() + 0.2
        for i in range(total):
            self.at(t0 + i / a.rate, self.invite, i)
        end = t0 + a.secs + a.hold + 20
        while time.monotonic() < end:
            self.poll(min(end, time.monotonic() + 0.5))
            if len(self.calls) == total and all(c["state"] in ("done", "failed") for c in self.calls.values()):
                break
        # Answer stragglers (vaxel's BYE retransmissions, OPTIONS) a little longer.
        self.poll(time.monotonic() + 0.5)
        return total, time.monotonic() - t0


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, round((len(sorted_vals) - 1) * p)))
    return sorted_vals[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--secs", type=float, default=20)
    ap.add_argument("--hold", type=float, default=1.0)
    ap.add_argument("--extra-users", type=int, default=0, help="also configure this many other users (u00000...)")
    ap.add_argument("--settle", type=float, default=40.0, help="max seconds to wait for calls/transactions to reach 0")
    ap.add_argument("--run", type=int, default=1)
    ap.add_argument("--out")
    a = ap.parse_args()

    def config(d):
        return (pl.server_section(d) + f"""
[[trunk]]
id = "operator"
allow = ["127.0.0.9/32"]
uri = "sip:127.0.0.9:5060"

[[user]]
id = "bench"
name = "Bench Phone"
extension = "1000"
password = "{pl.password('bench')}"

[[did]]
number = "{DID}"
route = "user:bench"
""" + ("\n" + pl.users_section(a.extra_users) if a.extra_users else ""))

    v = pl.VaxelWith(config, prefix="vaxel-setup-")
    extra = {}
    try:
        bench = Bench(a, ("127.0.0.1", pl.VAXEL_SIP))
        bench.register()
        time.sleep(0.3)
        m0 = pl.metrics()
        rss0 = b.rss_kib(v.pid)
        threads0 = pl.thread_cpu(v.pid)
        cpu0 = b.cpu_seconds([v.pid])
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        w0 = time.time()
        total, wall = bench.run()
        w1 = time.time()
        cpu1 = b.cpu_seconds([v.pid])
        extra["threads_cpu_s"] = pl.thread_cpu_delta(threads0, pl.thread_cpu(v.pid))
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        if v.died() is not None:
            extra["vaxel_died"] = v.died()
        else:
            m1 = pl.metrics()
            extra["calls_active_at_end"] = m1.get("vaxel_calls_active")
            extra["transactions_at_end"] = m1.get("vaxel_sip_transactions")
            # Keep answering vaxel (BYE retransmissions, qualify) while waiting for the gauges.
            t = time.time()
            until = t + a.settle
            settled = None
            while time.time() < until:
                bench.poll(time.monotonic() + 0.5)
                m2 = pl.metrics()
                if m2.get("vaxel_calls_active") == 0 and m2.get("vaxel_sip_transactions") == 0:
                    settled = round(time.time() - t, 1)
                    break
            m2 = pl.metrics()
            extra.update({
                "rss_kib_before": rss0, "rss_kib_after": b.rss_kib(v.pid),
                "calls_active_after": m2.get("vaxel_calls_active"), "transactions_after": m2.get("vaxel_sip_transactions"),
                "settle_s": settled, "rtp_ports_free_before": m0.get("vaxel_rtp_ports_free"),
                "rtp_ports_free_after": m2.get("vaxel_rtp_ports_free"),
                "vaxel_calls_total": m2.get("vaxel_calls_total", 0) - m0.get("vaxel_calls_total", 0),
                "vaxel_calls_answered": m2.get("vaxel_calls_answered_total", 0) - m0.get("vaxel_calls_answered_total", 0),
                "vaxel_sip_dropped": m2.get("vaxel_sip_dropped_total"),
                "registrations": m2.get("vaxel_registrations"),
            })
    finally:
        rc = v.stop()
    lat = sorted(bench.lat_ns.values())
    sends = sorted(bench.sent_ns.values())
    achieved = round((len(sends) - 1) / ((sends[-1] - sends[0]) / 1e9), 1) if len(sends) > 1 else None
    us = lambda x: None if x is None else round(x / 1000, 1)
    cpu = cpu1 - cpu0
    st = bench.stats
    res = {
        "bench": "setup-latency", "rate": a.rate, "secs": a.secs, "hold": a.hold, "run": a.run,
        "extra_users": a.extra_users, "calls": total, "measured": len(lat),
        "lat_p50_us": us(pct(lat, 0.5)), "lat_p90_us": us(pct(lat, 0.9)), "lat_p99_us": us(pct(lat, 0.99)),
        "lat_p999_us": us(pct(lat, 0.999)), "lat_max_us": us(lat[-1] if lat else None),
        "lat_over_2ms": sum(1 for x in lat if x > 2_000_000),
        "achieved_cps": achieved,
        # The slowest calls: (index, ms), to tell a warm-up from a steady tail; and every call
        # over 2 ms in call order (bursts of consecutive calls are stalls of vaxel's switch).
        "slowest": sorted(((i, round(x / 1e6, 2)) for i, x in bench.lat_ns.items()), key=lambda t: -t[1])[:10],
        "slow_calls": [(i, round(x / 1e6, 2)) for i, x in sorted(bench.lat_ns.items()) if x > 2_000_000],
        "failed_by": bench.fail_status,
        "vaxel_cpu_s": round(cpu, 2), "vaxel_cpu_pct": round(100 * cpu / (w1 - w0), 1),
        "vaxel_cpu_ms_per_call": round(cpu * 1000 / max(st["answered"], 1), 3),
        "driver_cpu_pct": round(100 * ((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)) / (w1 - w0), 1),
        "loadavg1": b.loadavg1(), "nice": os.nice(0), "vaxel_exit": rc, "dir": v.dir,
    }
    res.update(st)
    res.update(extra)
    b.emit(res, a.out)


if __name__ == "__main__":
    main()
