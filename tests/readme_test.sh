#!/usr/bin/env bash
# Runs the README's quick start exactly as written, on free ports: every command must
# succeed and print what the README implies.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$1  # the build's bin directory
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work" /tmp/geodatastore-snapshot-$$' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=$(free_port); grpc=$(free_port)

# The README's first three sh blocks (the quick start), with ports, paths and the snapshot directory made private to this run.
extract() { awk '/^```sh$/{n++; on=1; next} /^```$/{on=0} on && n>=1 && n<=3' "$repo/README.md"; }
script=$(extract | sed -e "s/8080/$http/g" -e "s/9090/$grpc/g" \
  -e "s#build/bin/geoctl#build/bin/geoctl --addr 127.0.0.1:$grpc#" \
  -e "s#/tmp/geodatastore-snapshot#/tmp/geodatastore-snapshot-$$#" \
  -e "s#build/bin/#$bin/#g" -e "s#config/examples/single-node.yaml#$work/node.yaml#" \
  -e "s#^make build\$#true#" -e "s#^kill %1.*#kill %1; wait %1#")
sed -e "s#127.0.0.1:8080#127.0.0.1:$http#" -e "s#127.0.0.1:9090#127.0.0.1:$grpc#" \
  -e "s#127.0.0.1:6380#127.0.0.1:0#" -e "s#./data/us-east-1#$work/data#" \
  "$repo/config/examples/single-node.yaml" > "$work/node.yaml"

cd "$work"
# Wait for the node before the first request: poll readiness with a deadline.
script=$(echo "$script" | awk -v port="$http" '
  /geods --config/ {print; print "for i in $(seq 1 300); do curl -sf localhost:" port "/readyz >/dev/null && break; sleep 0.05; done"; next} {print}')
[ -n "${DEBUG:-}" ] && echo "$script"
out=$(bash -euo pipefail -c "$script" 2>&1) || { echo "$out"; echo "README quick start failed"; exit 1; }
echo "$out"
for expected in '"value":5' '"elements":["blue","red"]' '"paths":[["a","b"]]' 'visits (pn_counter) = 7' \
                '"blue"' 'greeting (lww_register) = hello' 'a -> b' 'checkpoint written to' 'geodatastore_keys{type="pn_counter"} 1'; do
  grep -qF -- "$expected" <<<"$out" || { echo "README quick start: missing '$expected' in the output"; exit 1; }
done
echo "README quick start: 1 passed, 0 failed"
