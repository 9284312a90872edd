#!/usr/bin/env bash
# Two hosts on one machine for HOSTS=2 benches: network namespaces vxb-sw (the switchboard,
# 10.77.0.1, core 0) and vxb-peer (SIPp and the RTP sink, 10.77.0.2, core 1) joined by a
# veth pair. RPS steers what each side receives to that side's core, so each host's kernel
# receive work is charged to that host, as on a real network (on loopback the sender's
# CPU also delivers into the receiver's socket). Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN).
#   bash bench/two-hosts.sh up     # idempotent
#   bash bench/two-hosts.sh down
set -euo pipefail
SW=vxb-sw PEER=vxb-peer
case "${1:-up}" in
  up)
    if ip netns exec "$SW" ip addr show vxb0 2>/dev/null | grep -q 10.77.0.1; then exit 0; fi
    # Whatever a set-up that failed halfway left behind goes first.
    ip netns del "$SW" 2>/dev/null || true
    ip netns del "$PEER" 2>/dev/null || true
    ip netns add "$SW"
    ip netns add "$PEER"
    ip link add vxb0 netns "$SW" type veth peer name vxb1 netns "$PEER"
    ip -n "$SW" addr add 10.77.0.1/24 dev vxb0
    ip -n "$PEER" addr add 10.77.0.2/24 dev vxb1
    for ns in "$SW" "$PEER"; do ip -n "$ns" link set lo up; done
    ip -n "$SW" link set vxb0 up
    ip -n "$PEER" link set vxb1 up
    # `ip netns exec` mounts the namespace's own /sys: these are the veth ends' rx queues.
    ip netns exec "$SW" sh -c 'echo 1 > /sys/class/net/vxb0/queues/rx-0/rps_cpus'
    ip netns exec "$PEER" sh -c 'echo 2 > /sys/class/net/vxb1/queues/rx-0/rps_cpus'
    # A 5,000-stream tick is 5,000 packets within a millisecond: a deep backlog (a global sysctl).
    sysctl -q -w net.core.netdev_max_backlog=65536 || true
    ;;
  down)
    ip netns del "$SW" 2>/dev/null || true
    ip netns del "$PEER" 2>/dev/null || true
    ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
