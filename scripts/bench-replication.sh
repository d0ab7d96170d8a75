#!/usr/bin/env bash
# Replication benchmark: a local three-region cluster on scratch ports; replbench writes to
# us-east-1 and reads eu-west-1's applied vector, at 1,000 and 10,000 ops/s, first with
# delta groups (deltas of a key joined per batch), then without; then the gateway topology
# with two nodes per region, writing to us-east-2 and reading eu-west-2 (three hops:
# us-east-2 -> us-east-1 -> eu-west-1 -> eu-west-2). Prints one table with latency
# percentiles and cross-region bytes per op (sent by the us-east node(s) that stream to
# other regions: us-east-1 in both layouts).
# Usage: scripts/bench-replication.sh [seconds per run, default 5] [keys, default 100]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
keys=${2:-100}
export GDS_BIN=${GDS_BIN:-$PWD/build/bin}
export GDS_BASE_DIR=$(mktemp -d)
export GDS_PORT_OFFSET=${GDS_PORT_OFFSET:-21000}
trap 'bash scripts/cluster.sh stop >/dev/null 2>&1 || true; rm -rf "$GDS_BASE_DIR"' EXIT
rest_a=$((8080 + GDS_PORT_OFFSET))

# Bytes us-east-1 sent to linked peers in other regions.
bytes_sent() { curl -s "localhost:$rest_a/admin/replication/lag" | python3 -c 'import json,sys; print(sum(p["bytes_sent"] for p in json.load(sys.stdin)["peers"] if p["via"] == "" and not p["region"].startswith("us-east")))'; }
peers_up() { curl -s "localhost:$rest_a/admin/status" | python3 -c 'import json,sys; p=json.load(sys.stdin)["peers"]; sys.exit(0 if p and all(x["state"]=="up" for x in p) else 1)'; }

printf "%-22s %8s %10s %9s %9s %9s %10s\n" "setup" "rate" "achieved" "p50_ms" "p99_ms" "max_ms" "bytes/op"
for setup in mesh-groups mesh-nogroups gateway-groups; do
  case $setup in
    mesh-groups) yaml="replication: {delta_groups: true}"; n=1; a=0; b=1 ;;
    mesh-nogroups) yaml="replication: {delta_groups: false}"; n=1; a=0; b=1 ;;
    gateway-groups) yaml="replication: {delta_groups: true, topology: gateway}"; n=2; a=1; b=3 ;;
  esac
  grpc_a=$((9090 + a + GDS_PORT_OFFSET)); grpc_b=$((9090 + b + GDS_PORT_OFFSET))
  GDS_EXTRA_YAML="$yaml" NODES_PER_REGION=$n bash scripts/cluster.sh start >/dev/null
  for _ in $(seq 1 300); do peers_up && break; sleep 0.05; done
  for rate in 1000 10000; do
    batch=$([ "$rate" -ge 10000 ] && echo 50 || echo 10)
    before=$(bytes_sent)
    out=$("$GDS_BIN/replbench" --a "127.0.0.1:$grpc_a" --b "127.0.0.1:$grpc_b" --rate "$rate" --seconds "$seconds" \
          --batch "$batch" --keys "$keys" | tail -1) || true
    after=$(bytes_sent)
    read -r _ achieved ops p50 p99 max _ _ <<<"$out"
    printf "%-22s %8s %10s %9s %9s %9s %10.1f\n" "$setup" "$rate" "$achieved" "$p50" "$p99" "$max" \
      "$(python3 -c "print(($after - $before) / max($ops, 1))")"
  done
  bash scripts/cluster.sh stop >/dev/null
done
