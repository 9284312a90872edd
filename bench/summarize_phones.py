"""Medians over runs of the issue 4 (phones) bench results as Markdown tables: the media
relay (relay-bench.sh), registrations (register-rate.sh), call setup (setup-latency.sh).

usage: summarize_phones.py RESULTS.jsonl [...]
"""

import json
import os
import sys
from collections import defaultdict

from summarize import fmt, med, table


def relay(rows):
    groups = defaultdict(list)
    for r in rows:
        mode = "direct" if r["mode"] == "direct" else ("relay, half PCMU<->PCMA" if r.get("mixed") else "relay, PCMU")
        # Runs before the relay had io_uring have no relay_io: their path is epoll, unnamed.
        if r["mode"] != "direct" and r.get("relay_io"):
            mode += f" ({r['relay_io']})"
        groups[(r["calls"], mode)].append(r)
    out = []
    for n in sorted({k[0] for k in groups}):
        gen = groups.get((n, "direct"))
        # The generator sends and receives each packet once, as the relay receives and sends it.
        gen_us = med(gen, "gen_cpu_us_per_pkt") if gen else None
        modes = ["direct"] + [f"relay, {m}{io}" for m in ("PCMU", "half PCMU<->PCMA")
                              for io in ("", " (epoll)", " (io_uring)")]
        for mode in modes:
            g = groups.get((n, mode))
            if not g:
                continue
            direct = mode == "direct"
            relay_us = None if direct else med(g, "relay_cpu_us_per_pkt")
            ratio = f"{relay_us / gen_us:.2f}" if relay_us and gen_us else ""
            out.append([str(n), f"{2 * n:,} + {2 * n:,}", mode, f"{len(g)}", 100 * n, med(g, "send_pps"), med(g, "lost"),
                        med(g, "jitter_p50_us"), med(g, "jitter_p99_us"), med(g, "jitter_p999_us"), med(g, "jitter_max_us"),
                        "-" if direct else med(g, "relay_cpu_pct"), "-" if direct else relay_us,
                        med(g, "gen_cpu_pct"), med(g, "gen_cpu_us_per_pkt"), ratio,
                        med(g, "process_cpu_pct"), med(g, "send_late_p99_us"), med(g, "loadavg1")])
    return table(["calls", "streams in + out", "path", "runs", "offered pkts/s", "pkts/s sent", "lost",
                  "added jitter p50 us", "p99 us", "p99.9 us", "max us", "relay CPU % (of 1 core)", "relay CPU us/pkt",
                  "generator CPU %", "generator CPU us/pkt", "relay / generator CPU per pkt", "process CPU %",
                  "sender late p99 us", "load avg (1 min)"], out)


def register(rows):
    groups = defaultdict(list)
    for r in rows:
        groups[(r["users"], r["rate"], r["target"])].append(r)
    out = []
    for (users, rate) in sorted({k[:2] for k in groups}):
        ms = {}
        for target in ("vaxel", "kamailio"):
            g = groups.get((users, rate, target))
            if not g:
                continue
            ms[target] = med(g, "server_cpu_ms_per_1000")
            gauge = "-"
            if target == "vaxel":
                oks = sum(1 for r in g if r.get("gauge_ok"))
                gauge = f"{oks}/{len(g)} = {users:,} (after {med(g, 'gauge_wait_s')} s; {fmt(med(g, 'gauge_at_end'))} at once)"
            died = sum(1 for r in g if r.get("server_died") is not None)
            out.append([f"{users:,}", str(rate), target + (f" ({died} died)" if died else ""), f"{len(g)}",
                        med(g, "successful"), med(g, "failed"), med(g, "retransmissions"), med(g, "achieved_rps"),
                        med(g, "server_cpu_ms_per_1000"), med(g, "server_cpu_pct"), med(g, "sipp_cpu_pct"),
                        gauge, med(g, "loadavg1"), ""])
        if ms.get("vaxel") and ms.get("kamailio"):
            out[-1][-1] = f"{ms['vaxel'] / ms['kamailio']:.2f}"
    return table(["phones", "offered REGISTER/s", "target", "runs", "registered", "failed", "SIPp retrans",
                  "achieved/s", "server CPU ms / 1000 reg", "server CPU %", "SIPp CPU %", "vaxel_registrations",
                  "load avg (1 min)", "vaxel/kamailio CPU"], out)


def setup(rows):
    groups = defaultdict(list)
    for r in rows:
        groups[(r["rate"], r["secs"], r.get("extra_users", 0))].append(r)
    out = []
    for (rate, secs, extra) in sorted(groups):
        g = groups[(rate, secs, extra)]
        out.append([f"{rate:g}", f"{secs:g}", f"{extra:,}", f"{len(g)}", med(g, "calls"), med(g, "completed"), med(g, "failed"),
                    med(g, "lat_p50_us"), med(g, "lat_p90_us"), med(g, "lat_p99_us"), med(g, "lat_max_us"),
                    med(g, "lat_over_2ms"), med(g, "vaxel_cpu_pct"), med(g, "vaxel_cpu_ms_per_call"),
                    med(g, "driver_cpu_pct"),
                    f"{fmt(med(g, 'calls_active_after'))} / {fmt(med(g, 'transactions_after'))} (after {fmt(med(g, 'settle_s'))} s)",
                    med(g, "loadavg1")])
    return table(["calls/s", "secs", "other users", "runs", "calls", "completed", "failed", "INVITE->INVITE p50 us",
                  "p90 us", "p99 us", "max us", "calls > 2 ms", "vaxel CPU %", "vaxel CPU ms / call", "driver CPU %",
                  "calls_active / transactions after", "load avg (1 min)"], out)


def main():
    rows = []
    for path in sys.argv[1:]:
        if not os.path.exists(path):
            print(f"(no results in {path})", file=sys.stderr)
            continue
        with open(path) as f:
            rows += [json.loads(l) for l in f if l.strip()]
    parts = [("relay", "media relay (medians)", relay), ("register", "registrations (medians)", register),
             ("setup-latency", "call setup through the B2BUA (medians)", setup)]
    for kind, title, fn in parts:
        sel = [r for r in rows if r.get("bench") == kind]
        if sel:
            print(f"### {title}\n")
            print(fn(sel))
            print()


if __name__ == "__main__":
    main()
