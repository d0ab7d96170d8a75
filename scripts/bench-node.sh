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
trap 'kill $node 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/node.yaml" <<YAML
node: {id: bench-1, region: bench, data_dir: $work/data}
listen: {http: "127.0.0.1:0", grpc: "127.0.0.1:0", resp: "127.0.0.1:0"}
YAML
"$bin/geods" --config "$work/node.yaml" --ports-file "$work/ports.json" > "$work/geods.log" 2>&1 &
node=$!
for _ in $(seq 1 400); do [ -s "$work/ports.json" ] && break; sleep 0.05; done
http=$(sed -E 's/.*"http": ([0-9]+).*/\1/' "$work/ports.json")
grpc=$(sed -E 's/.*"grpc": ([0-9]+).*/\1/' "$work/ports.json")
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
