"""Medians over runs of bench results (JSON lines) as Markdown tables.

usage: summarize.py RESULTS.jsonl [...]
"""

import json
import statistics
import sys
from collections import defaultdict


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    if not vals:
        return None
    m = statistics.median(vals)
    if isinstance(m, float) and m.is_integer():
        return int(m)
    return round(m, 2) if isinstance(m, float) else m


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.2f}"
    return f"{v:,}"


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(fmt(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows]
    return "\n".join(out)


def busy(rows):
    groups = defaultdict(list)
    for r in rows:
        groups[(r["rate"], r["target"])].append(r)
    out = []
    for rate in sorted({k[0] for k in groups}):
        ms = {}
        for target in ("vaxel", "kamailio"):
            g = groups.get((rate, target))
            if not g:
                continue
            ms[target] = med(g, "server_cpu_ms_per_1000")
            died = sum(1 for r in g if r.get("vaxel_died") is not None)
            out.append([str(rate), target + (f" ({died} died)" if died else ""), f"{len(g)}", med(g, "achieved_cps"), med(g, "failed"), med(g, "retransmissions"),
                        med(g, "server_socket_drops"), med(g, "server_cpu_s"), med(g, "server_cpu_ms_per_1000"),
                        med(g, "server_cpu_pct"), med(g, "sipp_cpu_pct"), med(g, "loadavg1"), ""])
        if ms.get("vaxel") and ms.get("kamailio"):
            out[-1][-1] = f"{ms['vaxel'] / ms['kamailio']:.2f}"
    return table(["offered cps", "target", "runs", "achieved cps", "failed calls", "SIPp retrans", "server socket drops",
                  "server CPU s", "CPU ms / 1000 calls", "server CPU %", "SIPp CPU %", "load avg (1 min)",
                  "vaxel/kamailio CPU"], out)


def prompt(rows):
    groups = defaultdict(list)
    for r in rows:
        groups[(r["n"], r["repeat"])].append(r)
    out, mem = [], []
    for (n, rep) in sorted(groups):
        g = groups[(n, rep)]
        out.append([str(n), f"{len(g)}", med(g, "calls_failed"), med(g, "active_in_window"), med(g, "vaxel_pps_in_window"),
                    n * 50, med(g, "vaxel_cpu_pct"), med(g, "vaxel_cpu_us_per_packet"), med(g, "loss_pct"),
                    med(g, "sink_rcvbuf_drops"), med(g, "dev_p50_us"), med(g, "dev_p99_us"), med(g, "dev_max_us"),
                    med(g, "gaps_over_40ms"), med(g, "sink_cpu_pct"), med(g, "loadavg1")])
        mem.append([str(n), f"{len(g)}", med(g, "rss0_kib"), med(g, "rssN_kib"), med(g, "kib_per_call")])
    t1 = table(["N calls", "runs", "failed calls", "active (min)", "vaxel pkts/s sent", "nominal pkts/s", "vaxel CPU %",
                "vaxel CPU us/pkt", "loss %", "sink rcvbuf drops", "|gap-20ms| p50 us", "p99 us", "max us",
                "gaps > 40 ms", "sink CPU %", "load avg (1 min)"], out)
    t2 = table(["N calls", "runs", "RSS idle KiB", "RSS with N KiB", "KiB per call"], mem)
    return t1 + "\n\n" + t2


def main():
    rows = []
    for path in sys.argv[1:]:
        with open(path) as f:
            rows += [json.loads(l) for l in f if l.strip()]
    b = [r for r in rows if r.get("bench") == "busy-cps"]
    p = [r for r in rows if r.get("bench") == "prompt-streams"]
    if b:
        print("### busy-cps (medians)\n")
        print(busy(b))
        print()
    if p:
        print("### prompt-streams and memory (medians)\n")
        print(prompt(p))
        print()


if __name__ == "__main__":
    main()
