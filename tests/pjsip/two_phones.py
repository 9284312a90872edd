#!/usr/bin/env python3
"""Two PJSIP phones call each other through vaxel and each must hear the other.

Anna (extension 1001, on 127.0.0.2) and Bertil (1002, on 127.0.0.3; see --anna-ip and
--bertil-ip) register with digest (SHA-256: pjsip 2.15 answers vaxel's first challenge, so the
test needs no `[server] digest` setting), Anna calls 1002 (answering vaxel's 407), Bertil
answers. Each plays its own tone into the call (Anna 440 Hz, Bertil 1000 Hz) and records what
it receives; after about 3 s of talk Anna hangs up. The recordings are then checked with a
Goertzel filter (pure Python): Anna must hear 1000 Hz and not 440 Hz, Bertil 440 Hz and not
1000 Hz.

    two_phones.py --registrar 127.0.0.1:5060 --anna-password P1 --bertil-password P2 \
        --dir /tmp/out [--transcode]

Without --transcode both phones live in one process (one pjsua2 Endpoint, two transports,
two accounts) with pjsip's default codec list. With --transcode Anna offers only PCMU and
Bertil accepts only PCMA, so vaxel must transcode; codec priorities are per Endpoint, so
Bertil then runs in a child process of this script (--role callee), which says "READY" on
stdout once registered and its summary as the last line when the call is over.

Prints one JSON summary on stdout (the last line) and exits 0 only if everything held.
The audio device is pjsip's null device; pjsip's own log goes to DIR/pjsip*.log. The event loop is
ep.libHandleEvents() on the main thread (no pjsip worker threads); a plain Python watchdog
thread ends the process if the whole run exceeds --timeout.
"""

import argparse
import json
import math
import os
import queue
import struct
import subprocess
import sys
import threading
import time
import wave

import pjsua2 as pj

ANNA_TONE = 440.0
BERTIL_TONE = 1000.0
TALK_SECONDS = 3.0
# 100 ms analysis blocks: 10 Hz bins, a tone has to fill at least this much of a block's
# energy to count as heard, and the other tone at most LEAK of it.
BLOCK_SECONDS = 0.1
HEARD = 0.5
LEAK = 0.05
# Of the ~3 s of talk, at least this much must carry the right tone.
MIN_HEARD_SECONDS = 1.5


# Our stdout (the JSON, READY); main() points fd 1 at stderr for pjlib's early console lines.
OUT = sys.stdout


def say(text):
    OUT.write(text + "\n")
    OUT.flush()


def log(msg):
    print(f"two_phones[{os.getpid()}]: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Tones and their analysis, in pure Python.


def write_tone(path, freq, seconds=4.0, rate=8000, amplitude=0.3):
    """A 16-bit mono WAV of one sine tone."""
    n = int(seconds * rate)
    frames = b"".join(
        struct.pack("<h", int(amplitude * 32767 * math.sin(2 * math.pi * freq * i / rate)))
        for i in range(n)
    )
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def read_wav(path):
    """(samples, rate) of a 16-bit mono WAV; ([], 0) if missing or empty."""
    try:
        with wave.open(path, "rb") as w:
            rate = w.getframerate()
            width = w.getsampwidth()
            channels = w.getnchannels()
            raw = w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error) as e:
        log(f"cannot read {path}: {e}")
        return [], 0
    if width != 2:
        log(f"{path}: {width}-byte samples, expected 2")
        return [], rate
    samples = struct.unpack(f"<{len(raw) // 2}h", raw)
    return list(samples[::channels]), rate


def goertzel_fraction(block, rate, freq):
    """Share of the block's energy at `freq` (1.0 for a pure tone at exactly that frequency)."""
    n = len(block)
    energy = sum(x * x for x in block)
    if n == 0 or energy == 0:
        return 0.0
    k = round(freq * n / rate)
    coeff = 2 * math.cos(2 * math.pi * k / n)
    s1 = s2 = 0.0
    for x in block:
        s0 = x + coeff * s1 - s2
        s2 = s1
        s1 = s0
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return min(1.0, 2 * power / (n * energy))


def analyse(path, expect, other):
    """How much of the recording carries `expect` and not `other`."""
    samples, rate = read_wav(path)
    out = {
        "file": path,
        "rate": rate,
        "seconds": round(len(samples) / rate, 2) if rate else 0.0,
    }
    if not rate or not samples:
        out.update(heard_seconds=0.0, leak_seconds=0.0, ok=False)
        return out
    size = int(rate * BLOCK_SECONDS)
    heard = leak = loud = 0
    sum_expect = sum_other = 0.0
    for start in range(0, len(samples) - size + 1, size):
        block = samples[start : start + size]
        rms = math.sqrt(sum(x * x for x in block) / size)
        if rms < 100:  # silence (about -50 dBFS): before media, after hang-up
            continue
        loud += 1
        fe = goertzel_fraction(block, rate, expect)
        fo = goertzel_fraction(block, rate, other)
        sum_expect += fe
        sum_other += fo
        if fe >= HEARD and fo <= LEAK:
            heard += 1
        if fo > LEAK:
            leak += 1
    out.update(
        loud_seconds=round(loud * BLOCK_SECONDS, 2),
        heard_seconds=round(heard * BLOCK_SECONDS, 2),
        leak_seconds=round(leak * BLOCK_SECONDS, 2),
        energy_share={
            f"{expect:g}Hz": round(sum_expect / loud, 3) if loud else 0.0,
            f"{other:g}Hz": round(sum_other / loud, 3) if loud else 0.0,
        },
    )
    out["ok"] = heard * BLOCK_SECONDS >= MIN_HEARD_SECONDS and leak == 0
    return out


# ---------------------------------------------------------------------------------------
# pjsua2 plumbing.


def make_endpoint(log_file, only_codec=None):
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.userAgent = "vaxel-test-pjsua2"
    # pjsip's console log would go to stdout, which carries our JSON: a file instead.
    cfg.logConfig.level = int(os.environ.get("PJSIP_LOG_LEVEL", "4"))
    cfg.logConfig.consoleLevel = 0
    cfg.logConfig.filename = log_file
    cfg.medConfig.noVad = True  # keep sending while the tone is quiet
    cfg.medConfig.ecTailLen = 0  # no echo canceller between our player and recorder
    ep.libInit(cfg)
    ep.audDevManager().setNullDev()
    if only_codec:
        for c in ep.codecEnum2():
            prio = 255 if c.codecId.startswith(only_codec + "/") else 0
            ep.codecSetPriority(c.codecId, prio)
    ep.libStart()
    return ep


def add_transport(ep, ip):
    tc = pj.TransportConfig()
    tc.boundAddress = ip
    tc.publicAddress = ip
    tc.port = 0
    tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
    info = ep.transportGetInfo(tid)
    log(f"SIP transport {tid} on {info.localName}")
    return tid


class PhoneCall(pj.Call):
    def __init__(self, phone, call_id=pj.PJSUA_INVALID_ID):
        pj.Call.__init__(self, phone, call_id)
        self.phone = phone

    def onCallState(self, prm):
        ci = self.getInfo()
        self.phone.on_state(self, ci)

    def onCallMediaState(self, prm):
        self.phone.on_media(self)


class Phone(pj.Account):
    """One phone: an account, its tone, its recording, and what happened to it."""

    def __init__(self, ep, name, ext, password, registrar, transport, ip, tone, recording):
        pj.Account.__init__(self)
        self.ep = ep
        self.name = name
        self.ext = ext
        self.registrar = registrar
        self.tone = tone
        self.recording = recording
        self.call = None
        self.player = None
        self.recorder = None
        self.reg_code = None
        self.reg_ok = False
        self.confirmed_at = None
        self.disconnected_at = None
        self.last_status = None
        self.last_reason = ""
        self.media_active = False
        self.codec = None
        self.remote_rtp = None
        self.stats = {}
        self.stats_at = 0.0
        cfg = pj.AccountConfig()
        cfg.idUri = f'"{name.capitalize()}" <sip:{ext}@{registrar}>'
        cfg.regConfig.registrarUri = f"sip:{registrar}"
        cfg.regConfig.timeoutSec = 300
        cfg.regConfig.retryIntervalSec = 0  # a failed registration is an answer, not a retry
        cfg.sipConfig.transportId = transport
        cfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", ext, 0, password))
        cfg.natConfig.contactRewriteUse = 0
        cfg.natConfig.viaRewriteUse = 0
        cfg.natConfig.sdpNatRewriteUse = 0
        cfg.mediaConfig.transportConfig.boundAddress = ip
        cfg.mediaConfig.transportConfig.publicAddress = ip
        self.create(cfg)

    # --- callbacks

    def onRegState(self, prm):
        self.reg_code = prm.code
        if prm.code // 100 == 2 and prm.expiration > 0:
            self.reg_ok = True
        log(f"{self.name}: registration {prm.code} {prm.reason} expires={prm.expiration}")

    def onIncomingCall(self, prm):
        call = PhoneCall(self, prm.callId)
        if self.call is not None:
            log(f"{self.name}: second incoming call, refused")
            op = pj.CallOpParam()
            op.statusCode = 486
            call.hangup(op)
            return
        self.call = call
        ci = call.getInfo()
        log(f"{self.name}: incoming call from {ci.remoteUri}, answering")
        op = pj.CallOpParam()
        op.statusCode = 200
        call.answer(op)

    def on_state(self, call, ci):
        log(f"{self.name}: call {ci.stateText} ({ci.lastStatusCode} {ci.lastReason})")
        self.last_status = ci.lastStatusCode
        self.last_reason = ci.lastReason
        if ci.state == pj.PJSIP_INV_STATE_CONFIRMED and self.confirmed_at is None:
            self.confirmed_at = time.monotonic()
        if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected_at = time.monotonic()
            self.stop_media()

    def on_media(self, call):
        ci = call.getInfo()
        for i, mi in enumerate(ci.media):
            if mi.type != pj.PJMEDIA_TYPE_AUDIO or mi.status != pj.PJSUA_CALL_MEDIA_ACTIVE:
                continue
            am = call.getAudioMedia(i)
            si = call.getStreamInfo(i)
            self.codec = f"{si.codecName}/{si.codecClockRate}"
            self.remote_rtp = si.remoteRtpAddress
            log(f"{self.name}: media active, {self.codec}, sending to {self.remote_rtp}")
            if self.player is None:
                self.player = pj.AudioMediaPlayer()
                self.player.createPlayer(self.tone)
                self.recorder = pj.AudioMediaRecorder()
                self.recorder.createRecorder(self.recording)
            self.player.startTransmit(am)
            am.startTransmit(self.recorder)
            self.media_active = True

    # --- actions

    def tick(self):
        """Called by the loop: keep the RTP counters of a running call (gone once it ends)."""
        now = time.monotonic()
        if now - self.stats_at >= 0.25:
            self.stats_at = now
            self.take_stats()

    def take_stats(self):
        if self.call is None or not self.media_active or self.disconnected_at:
            return
        try:
            st = self.call.getStreamStat(0)
            self.stats = {
                "rx_packets": st.rtcp.rxStat.pkt,
                "tx_packets": st.rtcp.txStat.pkt,
                "rx_lost": st.rtcp.rxStat.loss,
            }
        except pj.Error as e:
            log(f"{self.name}: no stream stats: {e.info()}")

    def stop_media(self):
        # Deleting the recorder closes the WAV file and writes its header.
        self.player = None
        self.recorder = None

    def dial(self, ext):
        self.call = PhoneCall(self)
        op = pj.CallOpParam(True)
        self.call.makeCall(f"sip:{ext}@{self.registrar}", op)

    def hang_up(self):
        self.take_stats()
        op = pj.CallOpParam()
        op.statusCode = 200
        try:
            self.call.hangup(op)
        except pj.Error as e:
            log(f"{self.name}: hang-up failed: {e.info()}")

    def summary(self):
        talk = None
        if self.confirmed_at and self.disconnected_at:
            talk = round(self.disconnected_at - self.confirmed_at, 2)
        return {
            "registered": self.reg_ok,
            "register_status": self.reg_code,
            "call_confirmed": self.confirmed_at is not None,
            "call_ended": self.disconnected_at is not None,
            "end_status": self.last_status,
            "end_reason": self.last_reason,
            "talk_seconds": talk,
            "codec": self.codec,
            "remote_rtp": self.remote_rtp,
            "rtp": self.stats,
        }


class Loop:
    """Drives pjsip's events until a condition holds or the deadline passes."""

    def __init__(self, ep, deadline, phones):
        self.ep = ep
        self.deadline = deadline
        self.phones = phones

    def step(self):
        self.ep.libHandleEvents(20)
        for p in self.phones:
            p.tick()

    def until(self, what, cond, limit=None):
        end = self.deadline if limit is None else min(self.deadline, time.monotonic() + limit)
        while not cond():
            if time.monotonic() >= end:
                log(f"timed out waiting for {what}")
                return False
            self.step()
        return True

    def run_for(self, seconds):
        end = min(self.deadline, time.monotonic() + seconds)
        while time.monotonic() < end:
            self.step()


def watchdog(seconds):
    def fire():
        time.sleep(seconds)
        say(json.dumps({"verdict": "fail", "errors": [f"hard timeout of {seconds:g} s"]}))
        os._exit(3)

    threading.Thread(target=fire, daemon=True).start()


def finish(ep, phones, loop):
    """Unregister and shut pjsip down, without hanging."""
    for p in phones:
        try:
            p.shutdown()
        except pj.Error:
            pass
    loop.run_for(0.3)
    del phones[:]
    try:
        ep.libDestroy()
    except pj.Error:
        pass


# ---------------------------------------------------------------------------------------
# Roles.


def tones(d):
    anna = os.path.join(d, "anna-440.wav")
    bertil = os.path.join(d, "bertil-1000.wav")
    write_tone(anna, ANNA_TONE)
    write_tone(bertil, BERTIL_TONE)
    return anna, bertil


def anna_phone(ep, args, wav):
    tid = add_transport(ep, args.anna_ip)
    return Phone(ep, "anna", "1001", args.anna_password, args.registrar, tid, args.anna_ip,
                 wav, os.path.join(args.dir, "anna-heard.wav"))


def bertil_phone(ep, args, wav):
    tid = add_transport(ep, args.bertil_ip)
    return Phone(ep, "bertil", "1002", args.bertil_password, args.registrar, tid, args.bertil_ip,
                 wav, os.path.join(args.dir, "bertil-heard.wav"))


def talk(loop, anna, bertil):
    """Anna calls Bertil, they talk, Anna hangs up. Returns an error text or None."""
    anna.dial(bertil.ext)
    if not loop.until("both calls confirmed", lambda: anna.confirmed_at and bertil.confirmed_at):
        return "call not confirmed on both sides"
    if not loop.until("media on both sides", lambda: anna.media_active and bertil.media_active, 5):
        return "media not active on both sides"
    loop.run_for(TALK_SECONDS)
    if anna.disconnected_at or bertil.disconnected_at:
        return "call ended before anna hung up"
    anna.hang_up()
    if not loop.until("both ends", lambda: anna.disconnected_at and bertil.disconnected_at, 10):
        return "call not ended on both sides after anna's BYE"
    return None


def verdict(result, errors):
    result["errors"] = errors
    result["verdict"] = "pass" if not errors else "fail"
    say(json.dumps(result))
    return 0 if not errors else 1


def one_process(args):
    anna_wav, bertil_wav = tones(args.dir)
    deadline = time.monotonic() + args.timeout - 3
    ep = make_endpoint(os.path.join(args.dir, "pjsip.log"))
    anna = anna_phone(ep, args, anna_wav)
    bertil = bertil_phone(ep, args, bertil_wav)
    loop = Loop(ep, deadline, [anna, bertil])
    errors = []
    if not loop.until("registrations", lambda: anna.reg_code and bertil.reg_code, 10) or not (
        anna.reg_ok and bertil.reg_ok
    ):
        errors.append("registration failed")
    else:
        err = talk(loop, anna, bertil)
        if err:
            errors.append(err)
    result = {"mode": "same-process", "anna": anna.summary(), "bertil": bertil.summary()}
    if anna.call and not anna.disconnected_at:
        anna.hang_up()
        loop.until("hang-up", lambda: anna.disconnected_at, 3)
    anna.stop_media()
    bertil.stop_media()
    finish(ep, [anna, bertil], loop)
    result["anna"]["heard"] = analyse(anna.recording, BERTIL_TONE, ANNA_TONE)
    result["bertil"]["heard"] = analyse(bertil.recording, ANNA_TONE, BERTIL_TONE)
    check_heard(result, errors)
    return verdict(result, errors)


def check_heard(result, errors):
    for who, other in (("anna", "bertil"), ("bertil", "anna")):
        h = result.get(who, {}).get("heard", {})
        if not h.get("ok"):
            errors.append(
                f"{who} did not clearly hear {other}'s tone "
                f"(heard {h.get('heard_seconds', 0)} s, "
                f"own tone leaked in {h.get('leak_seconds', 0)} s)"
            )


def callee(args):
    """Bertil alone, PCMA only: READY once registered, the summary after the call."""
    _, bertil_wav = tones(args.dir)
    deadline = time.monotonic() + args.timeout - 3
    ep = make_endpoint(os.path.join(args.dir, "pjsip-bertil.log"), "PCMA")
    bertil = bertil_phone(ep, args, bertil_wav)
    loop = Loop(ep, deadline, [bertil])
    errors = []
    if not loop.until("registration", lambda: bertil.reg_code, 10) or not bertil.reg_ok:
        errors.append("bertil's registration failed")
    else:
        say("READY")
        if not loop.until("the call", lambda: bertil.disconnected_at):
            errors.append("bertil's call did not end")
    bertil.stop_media()
    result = {"bertil": bertil.summary()}
    finish(ep, [bertil], loop)
    result["bertil"]["heard"] = analyse(bertil.recording, ANNA_TONE, BERTIL_TONE)
    result["errors"] = errors
    say(json.dumps(result))
    return 0


def caller_with_callee_process(args):
    """Anna here with PCMU only, Bertil in a child process with PCMA only."""
    anna_wav, _ = tones(args.dir)
    deadline = time.monotonic() + args.timeout - 3
    child = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--role", "callee",
         "--registrar", args.registrar, "--bertil-password", args.bertil_password,
         "--anna-password", args.anna_password, "--dir", args.dir,
         "--anna-ip", args.anna_ip, "--bertil-ip", args.bertil_ip,
         "--timeout", str(max(5.0, args.timeout - 2))],
        stdout=subprocess.PIPE, text=True,
    )
    lines = queue.Queue()

    def read():
        for line in child.stdout:
            lines.put(line.strip())
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    seen = []

    def child_said(word):
        while True:
            try:
                line = lines.get_nowait()
            except queue.Empty:
                return False
            seen.append(line)
            if line == word or line is None:
                return True

    ep = make_endpoint(os.path.join(args.dir, "pjsip-anna.log"), "PCMU")
    anna = anna_phone(ep, args, anna_wav)
    loop = Loop(ep, deadline, [anna])
    errors = []
    ok = loop.until("anna's registration", lambda: anna.reg_code, 10) and anna.reg_ok
    ready = loop.until("bertil's READY", lambda: child_said("READY"), 10) and "READY" in seen
    if not ok:
        errors.append("anna's registration failed")
    elif not ready:
        errors.append("bertil (child process) did not register")
    else:
        anna.dial("1002")
        if not loop.until("anna's call confirmed", lambda: anna.confirmed_at):
            errors.append("anna's call not confirmed")
        elif not loop.until("anna's media", lambda: anna.media_active, 5):
            errors.append("anna's media not active")
        else:
            loop.run_for(TALK_SECONDS)
            if anna.disconnected_at:
                errors.append("call ended before anna hung up")
            else:
                anna.hang_up()
                if not loop.until("anna's call ended", lambda: anna.disconnected_at, 10):
                    errors.append("anna's call did not end after her BYE")
    result = {"mode": "transcode", "anna": anna.summary()}
    if anna.call and not anna.disconnected_at:
        anna.hang_up()
        loop.until("hang-up", lambda: anna.disconnected_at, 3)
    anna.stop_media()
    finish(ep, [anna], loop)
    # Bertil's process ends once his call has ended (or his own timeout).
    try:
        child.wait(timeout=max(1.0, deadline - time.monotonic() + 2))
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        errors.append("bertil's process did not end")
    reader.join(timeout=2)
    while child_said("\0"):
        pass
    child_summary = None
    for line in reversed(seen):
        if line and line.startswith("{"):
            child_summary = json.loads(line)
            break
    if child_summary is None:
        errors.append(f"no summary from bertil's process (exit {child.returncode})")
        result["bertil"] = {}
    else:
        result["bertil"] = child_summary.get("bertil", {})
        errors.extend(child_summary.get("errors", []))
        if result["anna"]["call_ended"] and not result["bertil"].get("call_ended"):
            errors.append("bertil's call did not end after anna's BYE")
    result["anna"]["heard"] = analyse(anna.recording, BERTIL_TONE, ANNA_TONE)
    for who, codec in (("anna", "PCMU/8000"), ("bertil", "PCMA/8000")):
        got = result[who].get("codec")
        if got is not None and got != codec:
            errors.append(f"{who}'s codec is {got}, expected {codec}")
    check_heard(result, errors)
    return verdict(result, errors)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--registrar", required=True, help="vaxel's SIP address, host:port")
    ap.add_argument("--anna-password", required=True)
    ap.add_argument("--bertil-password", required=True)
    ap.add_argument("--dir", required=True, help="where the tones and recordings go")
    ap.add_argument("--anna-ip", default="127.0.0.2", help="anna's SIP and RTP address")
    ap.add_argument("--bertil-ip", default="127.0.0.3", help="bertil's SIP and RTP address")
    ap.add_argument("--transcode", action="store_true", help="Anna PCMU only, Bertil PCMA only")
    ap.add_argument("--role", choices=["callee"], help=argparse.SUPPRESS)
    ap.add_argument("--timeout", type=float, default=30.0, help="hard limit for the whole run, s")
    args = ap.parse_args()
    global OUT
    OUT = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    os.makedirs(args.dir, exist_ok=True)
    watchdog(args.timeout)
    role = callee if args.role == "callee" else (
        caller_with_callee_process if args.transcode else one_process
    )
    try:
        code = role(args)
    except Exception as e:  # a pjsua2 call that raised: still one JSON line, still a failure
        log(f"{type(e).__name__}: {e}")
        say(json.dumps({"verdict": "fail", "errors": [f"{type(e).__name__}: {e}"]}))
        code = 2
    sys.stdout.flush()
    sys.stderr.flush()
    # pjsua2's Python objects do not always survive interpreter teardown after libDestroy.
    os._exit(code)


if __name__ == "__main__":
    main()
