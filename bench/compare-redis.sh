#!/usr/bin/env bash
# Side by side with Redis, with Redis's own benchmark tool: starts redis-server (appendonly yes,
# appendfsync everysec) and one geods, each on its own free loopback port, and runs
#   redis-benchmark -t incr,set,get,sadd -r 100000 -c 50 -n 200000        (and with -P 16)
# alternately against both, test by test. Prints one table: requests/s, p50 and p99 of each,
# and the ratio geods/Redis. Usage: bench/compare-redis.sh [requests, default 200000]
# (needs `make build`; installs redis-server from Debian if it is missing and we are root).
# SADD_REQUESTS=n runs the sadd rows with n requests instead (redis-benchmark's SADD adds
# random members to one set). TESTS=incr,get picks tests.
# A run that takes over 10 minutes is stopped and reported as such.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-200000}
tests=${TESTS:-incr,set,get,sadd}
bin=build/bin
[ -x "$bin/geods" ] || { echo "build first: make build" >&2; exit 1; }
if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null
  else
    echo "redis-server is missing (apt-get install redis-server)" >&2
    exit 1
  fi
fi
work=$(mktemp -d)
redis_pid="" node_pid=""
cleanup() {
  for p in $redis_pid $node_pid; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$work" --appendonly yes \
  --appendfsync everysec --save '' --daemonize no > "$work/redis.log" 2>&1 &
redis_pid=$!
. scripts/single-node.sh
start_single_node "$work"
geods_port=$node_resp
for port in "$redis_port" "$geods_port"; do
  for _ in $(seq 1 400); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
  redis-cli -p "$port" ping | grep -q PONG || { echo "nothing answers on port $port" >&2; exit 1; }
done

# One run: prints "rps p50 p99" of the single test ("timeout - -" if it took too long). A
# server that died meanwhile stops the comparison (redis-benchmark would retry until the
# timeout).
run() {  # port test pipeline
  local n=$requests
  [ "$2" = sadd ] && n=${SADD_REQUESTS:-$requests}
  local out
  timeout 600 redis-benchmark -h 127.0.0.1 -p "$1" -t "$2" -r 100000 -c 50 -n "$n" -P "$3" \
    --csv > "$work/run.csv" 2>/dev/null &
  local bench=$!
  while kill -0 "$bench" 2>/dev/null; do
    for p in $redis_pid $node_pid; do
      if ! kill -0 "$p" 2>/dev/null; then
        kill "$bench" 2>/dev/null || true
        echo "a server died during '$2' (pipeline $3); geods log:" >&2
        tail -5 "$work/geods.log" >&2
        echo "died - -"
        return
      fi
    done
    sleep 0.2
  done
  out=$(awk -F'","' 'NR == 2 { print $2, $5, $7 }' "$work/run.csv") || true
  echo "${out:-timeout - -}"
}

printf '| test | pipeline | Redis req/s | geods req/s | geods/Redis | Redis p50 ms | geods p50 ms | Redis p99 ms | geods p99 ms |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for pipeline in 1 16; do
  for t in ${tests//,/ }; do
    read -r r_rps r_p50 r_p99 <<< "$(run "$redis_port" "$t" "$pipeline")"
    read -r g_rps g_p50 g_p99 <<< "$(run "$geods_port" "$t" "$pipeline")"
    [ "$r_rps" = died ] || [ "$g_rps" = died ] && exit 1
    ratio=$(awk -v g="$g_rps" -v r="$r_rps" 'BEGIN { printf "%.2f", (r > 0 ? g / r : 0) }')
    label=$t
    [ "$t" = sadd ] && [ -n "${SADD_REQUESTS:-}" ] && label="sadd (-n $SADD_REQUESTS)"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$pipeline" "${r_rps%.*}" \
      "${g_rps%.*}" "$ratio" "$r_p50" "$g_p50" "$r_p99" "$g_p99"
  done
done
