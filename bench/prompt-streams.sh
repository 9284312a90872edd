#!/usr/bin/env bash
# N concurrent answered-message calls: RTP loss and pacing at the sink, vaxel CPU in the
# steady state, vaxel RSS idle vs with N calls (memory per call).
#   bash bench/prompt-streams.sh           # N = 500 1000 2000 5000, prompt played twice (~42 s calls), 3 runs
#   QUICK=1 bash bench/prompt-streams.sh   # prompt played once (~21 s calls)
#   HOSTS=2 bash bench/prompt-streams.sh   # vaxel and its peers as two hosts (bench/two-hosts.sh)
# env: NS="500 1000 2000 5000" REPEAT=1 SETUP_RATE=500 RUNS=3 OUT=file.jsonl HOSTS=1|2
source "$(dirname "$0")/common.sh"
QUICK="${QUICK:-0}"
NS="${NS:-500 1000 2000 5000}"
REPEAT="${REPEAT:-$([ "$QUICK" = 1 ] && echo 0 || echo 1)}"
SETUP_RATE="${SETUP_RATE:-500}"
RUNS="${RUNS:-3}"
OUT="${OUT:-$RESULTS/prompt-streams-$(date +%Y%m%d-%H%M%S).jsonl}"
need_vaxel
need_sink
PEER=()
if [ "${HOSTS:-1}" = 2 ]; then
  bash "$BENCH/two-hosts.sh" up
  PEER=(ip netns exec vxb-peer taskset -c 1)
fi
echo "prompt-streams: hosts ${HOSTS:-1}, N [$NS], repeat $REPEAT, setup $SETUP_RATE calls/s, $RUNS runs -> $OUT" >&2
for run in $(seq 1 "$RUNS"); do
  for n in $NS; do
    "${PEER[@]}" python3 "$BENCH/prompt_streams.py" --n "$n" --repeat "$REPEAT" --setup-rate "$SETUP_RATE" --run "$run" --out "$OUT" >&2 \
      || echo "prompt-streams: N=$n failed (run $run)" >&2
  done
done
python3 "$BENCH/summarize.py" "$OUT"
