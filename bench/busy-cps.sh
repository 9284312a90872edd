#!/usr/bin/env bash
# Busy calls per second, vaxel vs Kamailio (stateful 486), SIPp as the UAC.
#   bash bench/busy-cps.sh                 # 30 s per rate, 3 runs
#   QUICK=1 bash bench/busy-cps.sh         # 5 s per rate
# env: RATES="1000 5000 10000" SECS=30 RUNS=3 TARGETS="vaxel kamailio" OUT=file.jsonl
source "$(dirname "$0")/common.sh"
QUICK="${QUICK:-0}"
SECS="${SECS:-$([ "$QUICK" = 1 ] && echo 5 || echo 30)}"
RATES="${RATES:-1000 5000 10000}"
RUNS="${RUNS:-3}"
TARGETS="${TARGETS:-vaxel kamailio}"
OUT="${OUT:-$RESULTS/busy-cps-$(date +%Y%m%d-%H%M%S).jsonl}"
command -v kamailio >/dev/null || TARGETS="${TARGETS//kamailio/}"
need_vaxel
echo "busy-cps: rates [$RATES], ${SECS}s each, $RUNS runs, targets [$TARGETS] -> $OUT" >&2
for run in $(seq 1 "$RUNS"); do
  for rate in $RATES; do
    for target in $TARGETS; do
      python3 "$BENCH/busy_cps.py" --target "$target" --rate "$rate" --secs "$SECS" --run "$run" --out "$OUT" >&2 \
        || echo "busy-cps: $target at $rate cps failed (run $run)" >&2
    done
  done
done
python3 "$BENCH/summarize.py" "$OUT"
