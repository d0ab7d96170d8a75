#!/usr/bin/env bash
# Runs scripts/cluster.sh start / status / stop for real, in a private directory
# (GDS_BASE_DIR) on shifted free ports (GDS_PORT_OFFSET), so it never touches a cluster the
# user runs from the repository. Usage: tests/cluster_test.sh BIN_DIR (the build's bin/).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 1 ] || { echo "usage: $0 BIN_DIR" >&2; exit 2; }
bin=$(cd "$1" && pwd)
[ -x "$bin/geods" ] || { echo "cluster test: no geods in $bin" >&2; exit 2; }
cluster="$repo/scripts/cluster.sh"
work=$(mktemp -d)
listener=""

export GDS_BIN=$bin GDS_BASE_DIR=$work NODES_PER_REGION=1 GDS_READY_TIMEOUT=30 GDS_STOP_TIMEOUT=10
ids=(us-east-1 eu-west-1 ap-south-1)
regions=(us-east eu-west ap-south)

# Alive and not a zombie (exited nodes whose parent does not reap them stay as zombies).
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
# Pids of live processes whose command line mentions this test's directory.
our_processes() {
  local d pid
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [ "$pid" != "$$" ] || continue
    tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -qF -- "$work/" || continue
    alive "$pid" && echo "$pid"
  done
  return 0
}

cleanup() {
  local rc=$? pid
  bash "$cluster" stop >/dev/null 2>&1 || true
  [ -z "$listener" ] || kill "$listener" 2>/dev/null || true
  for pid in $(our_processes); do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$work"
  if [ "$rc" -ne 0 ]; then
    echo "cluster test: 0 passed, 1 failed"
  fi
  exit "$rc"
}
trap cleanup EXIT
fail() {
  echo "cluster test: FAILED: $*"
  exit 1
}
cd "$work"

# An offset that leaves all nine ports free (and below the usual ephemeral range).
offset=$(python3 - <<'EOF'
import random, socket
def free(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port)); return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(200):
    o = random.randrange(8000, 22000)
    if all(free(base + o + i) for base in (8080, 9090, 6380, 7070) for i in range(3)):
        print(o); break
else:
    raise SystemExit("no free port offset found")
EOF
)
export GDS_PORT_OFFSET=$offset
rest() { echo $((8080 + offset + $1)); }
echo "cluster test: base dir $work, port offset $offset (REST $(rest 0)..$(rest 2))"

# 1. A taken port: start refuses with the port named, exits non-zero, and leaves nothing running.
busy=$((9090 + offset + 2))
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
open(sys.argv[2], "w").close(); time.sleep(120)' "$busy" "$work/listening" &
listener=$!
for _ in $(seq 1 100); do [ -e "$work/listening" ] && break; sleep 0.05; done
[ -e "$work/listening" ] || fail "the test's own listener on port $busy did not start"
if out=$(bash "$cluster" start 2>&1); then
  echo "$out"
  fail "start succeeded although port $busy was taken"
fi
grep -qF "port 127.0.0.1:$busy of ap-south-1 is already in use" <<<"$out" ||
  { echo "$out"; fail "start did not name the taken port $busy"; }
[ -z "$(our_processes | grep -v "^$listener\$" || true)" ] || fail "a node runs after the failed start"
kill "$listener"
wait "$listener" 2>/dev/null || true
listener=""
echo "ok: start refuses a taken port and exits non-zero"

# 2. Start: every node answers /admin/status with its id, region and two peers.
out=$(bash "$cluster" start 2>&1) || { echo "$out"; fail "start exited non-zero"; }
echo "$out"
for i in 0 1 2; do
  status=$(curl -sf --max-time 5 "http://127.0.0.1:$(rest "$i")/admin/status") ||
    fail "${ids[i]}: GET /admin/status on port $(rest "$i") failed"
  python3 -c 'import json, sys
st = json.loads(sys.argv[1])
assert st["node_id"] == sys.argv[2], "node_id %r" % st["node_id"]
assert st["region"] == sys.argv[3], "region %r" % st["region"]
assert len(st["peers"]) == 2, "peers %r" % st["peers"]' "$status" "${ids[i]}" "${regions[i]}" ||
    fail "${ids[i]}: unexpected /admin/status: $status"
  [ -f "$work/deploy/local/${ids[i]}.yaml" ] || fail "no config $work/deploy/local/${ids[i]}.yaml"
  [ -d "$work/data/${ids[i]}" ] || fail "no data directory $work/data/${ids[i]}"
  [ -f "$work/logs/${ids[i]}.log" ] || fail "no log $work/logs/${ids[i]}.log"
done
echo "ok: three nodes up with the right node_id and region"

# 3. A counter written on us-east-1 reads back there.
answer=$(curl -sf --max-time 5 -X POST "http://127.0.0.1:$(rest 0)/crdt/counters/x/increment" -d '{"value": 1}') ||
  fail "POST /crdt/counters/x/increment failed"
grep -qF '"value":1' <<<"$answer" || fail "increment answered $answer"
answer=$(curl -sf --max-time 5 "http://127.0.0.1:$(rest 0)/crdt/counters/x") || fail "GET /crdt/counters/x failed"
grep -qF '"value":1' <<<"$answer" || fail "GET /crdt/counters/x answered $answer"
echo "ok: counter x = 1 on us-east-1"
# Node-to-node links are mutual TLS: the write reaches the other regions through them.
for i in 1 2; do
  for _ in $(seq 1 200); do
    curl -sf --max-time 2 "http://127.0.0.1:$(rest "$i")/crdt/counters/x" | grep -qF '"value":1' && break
    sleep 0.05
  done
  curl -sf --max-time 2 "http://127.0.0.1:$(rest "$i")/crdt/counters/x" | grep -qF '"value":1' ||
    fail "counter x did not replicate to ${ids[i]} over mutual TLS"
done
grep -q "peers mutual TLS" "$work/logs/us-east-1.log" || fail "us-east-1 does not run node-to-node mutual TLS"
[ -s "$work/deploy/local/tls/ca.pem" ] && [ -s "$work/deploy/local/admin.password" ] ||
  fail "start made no CA or admin password"
echo "ok: x replicated to eu-west-1 and ap-south-1 over mutual TLS"

# 4. A second start starts no second copy.
pids=$(cat "$work"/data/*.pid | sort)
out=$(bash "$cluster" start 2>&1) || { echo "$out"; fail "second start exited non-zero"; }
for id in "${ids[@]}"; do
  grep -qF "$id is already running" <<<"$out" || { echo "$out"; fail "second start did not say $id runs"; }
done
[ "$(cat "$work"/data/*.pid | sort)" == "$pids" ] || fail "second start changed the pids"
[ "$(our_processes | wc -l)" -eq 3 ] || fail "expected 3 node processes, found: $(our_processes | tr '\n' ' ')"
echo "ok: a second start leaves the three nodes alone"

# 5. Status: one table, every node up.
out=$(bash "$cluster" status 2>&1) || { echo "$out"; fail "status exited non-zero"; }
echo "$out"
for i in 0 1 2; do
  awk -v id="${ids[i]}" -v region="${regions[i]}" '$1 == id && $2 == region && $3 == "up" {found = 1} END {exit !found}' <<<"$out" ||
    fail "status does not show ${ids[i]} as up"
done
awk '$1 == "us-east-1" && $5 == "1" {found = 1} END {exit !found}' <<<"$out" || fail "status does not show 1 key on us-east-1"
echo "ok: status shows the three nodes up"

# 6. Stop: every node exits, pid files go, nothing of ours runs; a second stop is fine.
out=$(bash "$cluster" stop 2>&1) || { echo "$out"; fail "stop exited non-zero"; }
echo "$out"
for pid in $pids; do
  alive "$pid" && fail "node pid $pid still runs after stop"
done
compgen -G "$work/data/*.pid" >/dev/null && fail "pid files left after stop: $(ls "$work"/data/*.pid)"
[ -z "$(our_processes)" ] || fail "processes left after stop: $(our_processes | tr '\n' ' ')"
out=$(bash "$cluster" stop 2>&1) || { echo "$out"; fail "a second stop exited non-zero"; }
out=$(bash "$cluster" status 2>&1) || { echo "$out"; fail "status with the cluster stopped exited non-zero"; }
[ "$(awk '$3 == "down"' <<<"$out" | wc -l)" -eq 3 ] || { echo "$out"; fail "status after stop does not show three nodes down"; }
echo "ok: stop ends every node; stop again and status still exit 0"

# 7. SECURE=1: clients on TLS with users; the admin password start wrote opens them.
out=$(SECURE=1 bash "$cluster" start 2>&1) || { echo "$out"; fail "SECURE=1 start failed"; }
ca="$work/deploy/local/tls/ca.pem"
pw=$(cat "$work/deploy/local/admin.password")
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" "https://127.0.0.1:$(rest 0)/admin/status")
[ "$code" == 401 ] || fail "SECURE=1: /admin/status without credentials answered $code, not 401"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" -u "admin:$pw" "https://127.0.0.1:$(rest 0)/admin/status")
[ "$code" == 200 ] || fail "SECURE=1: /admin/status as admin answered $code, not 200"
out=$(bash "$cluster" status 2>&1) || { echo "$out"; fail "SECURE=1 status exited non-zero"; }
[ "$(awk '$3 == "up"' <<<"$out" | wc -l)" -eq 3 ] || { echo "$out"; fail "SECURE=1 status does not show three nodes up"; }
bash "$cluster" stop >/dev/null 2>&1 || fail "SECURE=1 stop failed"
echo "ok: SECURE=1 needs credentials, status uses the admin password"

echo "cluster test: 1 passed, 0 failed"
