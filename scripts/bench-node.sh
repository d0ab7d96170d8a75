#!/usr/bin/env bash
# Starts one geods on free loopback ports with a scratch data dir, runs geobench over every
# transport at 1, 16 and 128 clients, prints one table, and stops the node.
# Usage: scripts/bench-node.sh [seconds per run, default 5] [ops, default "increment"]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
ops=${2:-increment}
bin=build/bin
work=$(mktemp -d)
node_pid=""
trap 'kill $node_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
. scripts/single-node.sh
start_single_node "$work"
http=$node_http
grpc=$node_grpc
header=""
status=0
for op in $ops; do
  for transport in echo grpc grpc-batch rest; do
    [ "$transport" = echo ] && [ "$op" != "$(echo $ops | cut -d' ' -f1)" ] && continue
    for clients in 1 16 128; do
      "$bin/geobench" --grpc "127.0.0.1:$grpc" --http-port "$http" --transport "$transport" --op "$op" \
        --clients "$clients" --seconds "$seconds" --keys 100000 $header || status=1
      header="--no-header"
    done
  done
done
exit $status
