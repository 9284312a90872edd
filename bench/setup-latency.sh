#!/usr/bin/env bash
# Call setup through the B2BUA: a trunk caller's INVITE in -> vaxel's INVITE out to a
# registered phone, at RATE calls/s for SECS s, each call hung up after HOLD s (BYE).
#   bash bench/setup-latency.sh            # 500 calls/s for 20 s, 3 runs
# env: RATE=500 SECS=20 HOLD=1 EXTRA_USERS=0 RUNS=3 OUT=file.jsonl
source "$(dirname "$0")/common.sh"
# The measured processes run at nice BENCH_NICE (default -10 when root): the machine is shared,
# and other tenants' compilers would otherwise decide the figures. 0 turns it off.
BENCH_NICE="${BENCH_NICE:-$([ "$(id -u)" = 0 ] && echo -10 || echo 0)}"
niced() { if [ "$BENCH_NICE" != 0 ]; then nice -n "$BENCH_NICE" "$@"; else "$@"; fi; }
RATE="${RATE:-500}"
SECS="${SECS:-20}"
HOLD="${HOLD:-1}"
EXTRA_USERS="${EXTRA_USERS:-0}"
RUNS="${RUNS:-3}"
OUT="${OUT:-$RESULTS/setup-latency-$(date +%Y%m%d-%H%M%S).jsonl}"
[ "${NO_BUILD:-0}" = 1 ] || need_vaxel  # NO_BUILD=1: measure the binary already built
echo "setup-latency: $RATE calls/s for ${SECS}s, hold ${HOLD}s, $EXTRA_USERS extra users, $RUNS runs, nice $BENCH_NICE -> $OUT" >&2
for run in $(seq 1 "$RUNS"); do
  niced timeout "$((SECS + 120))" python3 "$BENCH/setup_latency.py" --rate "$RATE" --secs "$SECS" --hold "$HOLD" \
    --extra-users "$EXTRA_USERS" --run "$run" --out "$OUT" >&2 || echo "setup-latency: run $run failed" >&2
done
python3 "$BENCH/summarize_phones.py" "$OUT"
