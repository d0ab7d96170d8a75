#!/usr/bin/env bash
# What TLS costs, side by side in one run (issue 12's benchmark):
#   1. RESP: redis-benchmark -t incr,set,get -r 100000 -c 50 -n N (plain and -P 16) against
#      redis-server (appendonly, everysec) on its plain port and its TLS port, and against one
#      geods on a plain RESP port and one with security.tls.clients (TLS), alternately.
#   2. The batched gRPC stream (geobench --transport grpc-batch, 16 clients, batches of 100):
#      plaintext against TLS.
#   3. Replication latency (scripts/bench-replication.sh's mesh row at 1,000 and 10,000
#      ops/s): node-to-node plaintext (GDS_PEER_TLS=0) against mutual TLS.
# Usage: bench/compare-tls.sh [requests, default 200000] [seconds per gRPC/replication run, 5]
# Needs `make build`, redis-server (TLS built in: Debian's is) and openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-200000}
seconds=${2:-5}
bin=build/bin
[ -x "$bin/geods" ] || { echo "build first: make build" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A CA and one certificate (CN bench-1, names localhost and 127.0.0.1) for both servers.
key="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $key -days 2 -subj /CN=bench-ca -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req $key -subj /CN=bench-1 -keyout "$work/node.key" -out "$work/node.csr" 2>/dev/null
openssl x509 -req -in "$work/node.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
  -days 2 -out "$work/node.pem" \
  -extfile <(printf 'subjectAltName=DNS:bench-1,DNS:localhost,IP:127.0.0.1\n') 2>/dev/null

redis_plain=$(free_port) redis_tls=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_plain" --tls-port "$redis_tls" \
  --tls-cert-file "$work/node.pem" --tls-key-file "$work/node.key" --tls-ca-cert-file "$work/ca.pem" \
  --tls-auth-clients no --dir "$work" --appendonly yes --appendfsync everysec --save '' \
  --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
redis_pid=$!

# geods: one node with plaintext clients, one with TLS clients (same machine, one at a time
# under load: the other idles).
start_geods() { # name tls(true|false)
  mkdir -p "$work/$1"
  cat >"$work/$1/node.yaml" <<YAML
node: {id: bench-1, region: bench, data_dir: $work/$1/data}
listen: {http: "127.0.0.1:0", grpc: "127.0.0.1:0", resp: "127.0.0.1:0"}
security:
  tls: {ca_file: $work/ca.pem, cert_file: $work/node.pem, key_file: $work/node.key, clients: $2}
YAML
  "$bin/geods" --config "$work/$1/node.yaml" --ports-file "$work/$1/ports.json" >"$work/$1/geods.log" 2>&1 &
  pids+=($!)
  echo $! >"$work/$1/pid"
  for _ in $(seq 1 400); do [ -s "$work/$1/ports.json" ] && break; sleep 0.05; done
  [ -s "$work/$1/ports.json" ] || { echo "geods did not start: $(cat "$work/$1/geods.log")" >&2; exit 1; }
}
port_of() { sed -E "s/.*\"$2\": ([0-9]+).*/\\1/" "$work/$1/ports.json"; }
start_geods plain false
start_geods tls true
geods_plain=$(port_of plain resp) geods_tls=$(port_of tls resp)
tls_args="--tls --cacert $work/ca.pem"
for _ in $(seq 1 400); do redis-cli -p "$redis_plain" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done

# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Prints req/s, p99 ms and the server's CPU microseconds per request.
bench() { # server-pid port pipeline test extra-args...
  local pid=$1 port=$2 pipeline=$3 test=$4 before after
  shift 4
  before=$(cpu_ticks "$pid")
  redis-benchmark -h 127.0.0.1 -p "$port" "$@" -t "$test" -r 100000 -c 50 -n "$requests" \
    -P "$pipeline" --csv 2>/dev/null | awk -F'","' 'NR == 2 { printf "%s %s ", $2, $7 }'
  after=$(cpu_ticks "$pid")
  awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
    'BEGIN { printf "%.2f\n", t * 1e6 / hz / n }'
}

echo "## RESP: redis-benchmark -r 100000 -c 50 -n $requests"
echo
echo "Each cell: req/s (p99 ms) [server CPU µs per request]. Client and servers share the 2 cores,"
echo "so req/s under TLS also pays for redis-benchmark's own TLS; the CPU columns are what the"
echo "server itself pays."
echo
printf '| test | pipeline | Redis plain | Redis TLS | Redis TLS/plain req/s | geods plain | geods TLS | geods TLS/plain req/s | geods TLS/plain server CPU per request |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
geods_plain_pid=$(cat "$work/plain/pid") geods_tls_pid=$(cat "$work/tls/pid")
for pipeline in 1 16; do
  for t in incr set get; do
    read -r rp rp99 rpc <<<"$(bench "$redis_pid" "$redis_plain" "$pipeline" "$t")"
    read -r rt rt99 rtc <<<"$(bench "$redis_pid" "$redis_tls" "$pipeline" "$t" $tls_args)"
    read -r gp gp99 gpc <<<"$(bench "$geods_plain_pid" "$geods_plain" "$pipeline" "$t")"
    read -r gt gt99 gtc <<<"$(bench "$geods_tls_pid" "$geods_tls" "$pipeline" "$t" $tls_args)"
    printf '| %s | %s | %s (%s) [%s] | %s (%s) [%s] | %s | %s (%s) [%s] | %s (%s) [%s] | %s | %s |\n' \
      "$t" "$pipeline" "${rp%.*}" "$rp99" "$rpc" "${rt%.*}" "$rt99" "$rtc" "$(ratio "$rt" "$rp")" \
      "${gp%.*}" "$gp99" "$gpc" "${gt%.*}" "$gt99" "$gtc" "$(ratio "$gt" "$gp")" \
      "$(ratio "$gtc" "$gpc")"
  done
done
echo
echo "## gRPC batched stream: geobench --transport grpc-batch --clients 16 --batch 100, ${seconds}s"
echo
echo '```'
"$bin/geobench" --grpc "127.0.0.1:$(port_of plain grpc)" --transport grpc-batch --clients 16 \
  --batch 100 --keys 100000 --seconds "$seconds" | sed 's/^/plain  /'
"$bin/geobench" --grpc "127.0.0.1:$(port_of tls grpc)" --cacert "$work/ca.pem" --tls-name bench-1 \
  --transport grpc-batch --clients 16 --batch 100 --keys 100000 --seconds "$seconds" --no-header |
  sed 's/^/TLS    /'
echo '```'
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()

echo
echo "## Replication latency, mesh, three regions on loopback: node-to-node plaintext, then mutual TLS"
echo
echo '```'
GDS_PEER_TLS=0 bash scripts/bench-replication.sh "$seconds" 2>&1 | sed -n '1p;/^mesh-groups/p' | sed 's/^/plain  /'
GDS_PEER_TLS=1 bash scripts/bench-replication.sh "$seconds" 2>&1 | sed -n '/^mesh-groups/p' | sed 's/^/mTLS   /'
echo '```'
