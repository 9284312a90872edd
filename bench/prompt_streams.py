"""One prompt-stream measurement: N concurrent answered-message calls (SIPp, INVITE with SDP
pointing at the RTP sink), the RTP checked by the sink (loss, |gap - 20 ms|), vaxel's CPU
in the steady state (all N calls up), and vaxel's RSS idle vs with N calls (memory per call).

usage: prompt_streams.py --n N [--repeat R] [--setup-rate CPS] [--run K] [--out results.jsonl]
"""

import argparse
import json
import math
import os
import subprocess
import time

import benchlib as b

# closed.wav: 166981 samples at 8 kHz -> 1044 frames of 20 ms (the last one padded).
PROMPT_FRAMES = math.ceil(166981 / 160)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--setup-rate", type=int, default=500)
    ap.add_argument("--run", type=int, default=1)
    ap.add_argument("--out")
    a = ap.parse_args()

    expect = PROMPT_FRAMES * (a.repeat + 1)
    call_s = expect * 0.020
    ramp_s = a.n / a.setup_rate
    bound = int(ramp_s + call_s + 40)

    v = b.Vaxel(repeat=a.repeat)
    sink = sipp = None
    try:
        time.sleep(1.0)
        rss0 = b.rss_kib(v.pid)
        sink_json = os.path.join(v.dir, "sink.json")
        sink = subprocess.Popen([b.SINK, "--addr", b.PEER_ADDR, "--port", str(b.SINK_PORT), "--expect", str(expect), "--max-secs", str(bound),
                                 "--idle-secs", "3", "--out", sink_json])
        time.sleep(0.3)
        if sink.poll() is not None:
            raise RuntimeError(f"sink exited {sink.returncode} (port {b.SINK_PORT} taken?)")
        cmd = ["sipp", "-sf", os.path.join(b.HERE, "prompt_call.xml"), "-s", b.DID_PROMPT, f"{b.SW_ADDR}:{b.VAXEL_SIP}",
               "-i", b.PEER_ADDR, "-p", str(b.SIPP_PORT + 1), "-key", "sinkport", str(b.SINK_PORT),
               "-r", str(a.setup_rate), "-rp", "1000", "-m", str(a.n), "-l", str(a.n), "-timeout", f"{bound}s",
               "-buff_size", "4194304", "-max_socket", "100", "-trace_stat", "-stf", os.path.join(v.dir, "sipp-stat.csv"),
               "-fd", "1", "-nostdin", "-trace_err", "-error_file", os.path.join(v.dir, "sipp-err.log")]
        sipp_out = open(os.path.join(v.dir, "sipp.out"), "w")
        t_first = time.time()
        sipp = subprocess.Popen(cmd, stdout=sipp_out, stderr=sipp_out, cwd=v.dir)

        # Wait until every call is up (or the ramp plus slack has passed).
        active = 0
        while time.time() < t_first + ramp_s + 15:
            active = b.metrics().get("vaxel_calls_active", 0)
            if active >= a.n or sipp.poll() is not None:
                break
            time.sleep(0.2)
        time.sleep(0.5)
        # Steady state: all calls up, none ended yet (the first ends at t_first + call_s).
        t0 = time.time()
        cpu0, h0 = b.cpu_seconds([v.pid]), b.host_cpu()
        sink_cpu0, sipp_cpu0 = b.cpu_seconds([sink.pid]), b.cpu_seconds([sipp.pid])
        m0 = b.metrics()
        window_end = t_first + call_s - 1.5
        rss_max, active_min = 0, a.n
        while time.time() < window_end:
            rss_max = max(rss_max, b.rss_kib(v.pid))
            active_min = min(active_min, b.metrics().get("vaxel_calls_active", 0))
            time.sleep(min(1.0, max(0.05, window_end - time.time())))
        t1 = time.time()
        cpu1, h1 = b.cpu_seconds([v.pid]), b.host_cpu()
        sink_cpu1, sipp_cpu1 = b.cpu_seconds([sink.pid]), b.cpu_seconds([sipp.pid])
        m1 = b.metrics()
        window = t1 - t0

        sipp.wait(timeout=bound + 10)
        sipp_out.close()
        sink.wait(timeout=bound + 10)
        with open(sink_json) as f:
            s = json.load(f)
        st = b.sipp_final_stats(os.path.join(v.dir, "sipp-stat.csv"))
    finally:
        for p in (sipp, sink):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        v.stop()

    cpu = cpu1 - cpu0
    sent = m1.get("vaxel_rtp_packets_sent_total", 0) - m0.get("vaxel_rtp_packets_sent_total", 0)
    lost = s["seq_gap_lost"] + s["tail_short"]
    res = {
        "bench": "prompt-streams", "n": a.n, "repeat": a.repeat, "run": a.run, "setup_rate": a.setup_rate,
        "calls_ok": int(st["SuccessfulCall(C)"]), "calls_failed": int(st["FailedCall(C)"]),
        "active_in_window": int(active_min), "window_s": round(window, 1),
        "vaxel_cpu_pct": round(100 * cpu / window, 1) if window > 0 else None,
        "vaxel_cpu_us_per_packet": round(cpu * 1e6 / sent, 2) if sent else None,
        "vaxel_pps_in_window": round(sent / window) if window > 0 else None,
        "sink_cpu_pct": round(100 * (sink_cpu1 - sink_cpu0) / window, 1) if window > 0 else None,
        "sipp_cpu_pct": round(100 * (sipp_cpu1 - sipp_cpu0) / window, 1) if window > 0 else None,
        "host_busy_pct": b.host_busy_pct(h0, h1), "loadavg1": b.loadavg1(), "media_realtime": b.MEDIA_REALTIME == "true", "hosts": 2 if b.TWO_HOSTS else 1,
        "rss0_kib": rss0, "rssN_kib": rss_max,
        "kib_per_call": round((rss_max - rss0) / a.n, 1),
        "streams": s["streams"], "packets": s["packets"], "expected": s["expected_total"],
        "lost": lost, "loss_pct": round(100 * lost / s["expected_total"], 4) if s["expected_total"] else None,
        "streams_with_loss": s["streams_with_loss"], "sink_rcvbuf_drops": s["kernel_rcvbuf_drops"],
        "dev_p50_us": s["dev_p50_us"], "dev_p99_us": s["dev_p99_us"], "dev_p999_us": s["dev_p999_us"],
        "dev_max_us": s["dev_max_us"], "gaps_over_40ms": s["gaps_over_40ms"], "late_by_sec": s.get("late_by_sec"), "peak_pps": s["peak_pps"],
        "dir": v.dir,
    }
    b.emit(res, a.out)


if __name__ == "__main__":
    main()
