#!/usr/bin/env bash
# The local three-region cluster on loopback (API.md, "Set-up and the local cluster").
#
#   bash scripts/cluster.sh start    # generate configs, start every node, wait until each is ready
#   bash scripts/cluster.sh stop     # SIGTERM every node started here, SIGKILL after a deadline
#   bash scripts/cluster.sh status   # one table built from every node's GET /admin/status
#
# Regions us-east, eu-west, ap-south, in that order, NODES_PER_REGION nodes each; node ids
# are <region>-<n> with n from 1. Node i (0-based: regions in that order, then node number)
# listens on REST 127.0.0.1:8080+i, gRPC 127.0.0.1:9090+i, RESP 127.0.0.1:6380+i, and
# node-to-node gRPC (replication, anti-entropy) 127.0.0.1:7070+i with mutual TLS.
# Security: start makes deploy/local/tls/ (a cluster CA, one certificate per node whose
# DNS subject alternative name, its identity, and common name are the node id) and deploy/local/users.yaml with an `admin` user
# whose password is in deploy/local/admin.password (kept across starts). Client listeners are
# plain on loopback unless SECURE=1: then REST is HTTPS, gRPC and RESP use TLS, and every
# client must authenticate (curl --cacert deploy/local/tls/ca.pem -u admin:$(cat ...)).
# Under the base directory: deploy/local/<node-id>.yaml (generated config),
# deploy/local/nodes.tsv (the layout that was started), data/<node-id>/ (the node's data),
# data/<node-id>.pid, logs/<node-id>.log (appended to, one marker line per start).
#
# Environment:
#   NODES_PER_REGION   nodes per region, 1..100 (default 1); used by start (status and stop
#                      follow what was started)
#   GDS_BIN            directory holding geods (default <repo>/build/bin)
#   GDS_BASE_DIR       directory for deploy/local, data and logs (default the repository root);
#                      nodes run with it as their working directory
#   GDS_PORT_OFFSET    added to every port (default 0), e.g. 10000 gives REST 18080+i,
#                      gRPC 19090+i, RESP 16380+i
#   GDS_READY_TIMEOUT  seconds start waits for each node's /readyz (default 30)
#   GDS_STOP_TIMEOUT   seconds stop waits after SIGTERM before SIGKILL (default 10)
#   GDS_EXTRA_YAML     YAML appended to every node's config, e.g. 'testing: {fault_injection: true}'
#   SECURE             1: client listeners on TLS with authentication too (default 0)
#   GDS_PEER_TLS       0: node-to-node links in plaintext (benchmarks that measure what TLS
#                      costs; default 1)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROG="cluster.sh"
REGIONS=(us-east eu-west ap-south)

die() {
  echo "$PROG: error: $*" >&2
  exit 1
}
usage() {
  echo "usage: $0 start|stop|status   (env: NODES_PER_REGION, GDS_BIN, GDS_BASE_DIR, GDS_PORT_OFFSET)" >&2
  exit 2
}
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

CMD=${1:-}
case "$CMD" in
  start | stop | status) ;;
  *) usage ;;
esac
[ $# -le 1 ] || usage

NODES_PER_REGION=${NODES_PER_REGION:-1}
GDS_PORT_OFFSET=${GDS_PORT_OFFSET:-0}
GDS_READY_TIMEOUT=${GDS_READY_TIMEOUT:-30}
GDS_STOP_TIMEOUT=${GDS_STOP_TIMEOUT:-10}
SECURE=${SECURE:-0}
GDS_PEER_TLS=${GDS_PEER_TLS:-1}
[[ "$GDS_PEER_TLS" == 0 || "$GDS_PEER_TLS" == 1 ]] || die "GDS_PEER_TLS must be 0 or 1, got '$GDS_PEER_TLS'"
[[ "$GDS_PEER_TLS" == 1 || "$SECURE" == 0 ]] || die "SECURE=1 needs GDS_PEER_TLS=1"
[[ "$SECURE" == 0 || "$SECURE" == 1 ]] || die "SECURE must be 0 or 1, got '$SECURE'"
if ! is_uint "$NODES_PER_REGION" || [ "$NODES_PER_REGION" -lt 1 ] || [ "$NODES_PER_REGION" -gt 100 ]; then
  die "NODES_PER_REGION must be a whole number from 1 to 100, got '$NODES_PER_REGION'"
fi
is_uint "$GDS_PORT_OFFSET" || die "GDS_PORT_OFFSET must be a whole number, got '$GDS_PORT_OFFSET'"
if ! is_uint "$GDS_READY_TIMEOUT" || [ "$GDS_READY_TIMEOUT" -lt 1 ]; then
  die "GDS_READY_TIMEOUT must be a whole number of seconds >= 1, got '$GDS_READY_TIMEOUT'"
fi
if ! is_uint "$GDS_STOP_TIMEOUT" || [ "$GDS_STOP_TIMEOUT" -lt 1 ]; then
  die "GDS_STOP_TIMEOUT must be a whole number of seconds >= 1, got '$GDS_STOP_TIMEOUT'"
fi

BASE=${GDS_BASE_DIR:-$REPO}
mkdir -p "$BASE" || die "cannot create GDS_BASE_DIR '$BASE'"
BASE=$(cd "$BASE" && pwd)
BIN=${GDS_BIN:-$REPO/build/bin}
GEODS=$BIN/geods
DEPLOY=$BASE/deploy/local
DATA=$BASE/data
LOGS=$BASE/logs
MANIFEST=$DEPLOY/nodes.tsv
TLS=$DEPLOY/tls

for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (bash scripts/bootstrap.sh installs it)"
done

# ---------------------------------------------------------------------------------------------
# Layout: parallel arrays indexed by the global node index.
IDS=() NODE_REGIONS=() REST=() GRPC=() RESP=() PEER=()
add_node() { # id region index
  IDS+=("$1")
  NODE_REGIONS+=("$2")
  REST+=($((8080 + GDS_PORT_OFFSET + $3)))
  GRPC+=($((9090 + GDS_PORT_OFFSET + $3)))
  RESP+=($((6380 + GDS_PORT_OFFSET + $3)))
  PEER+=($((7070 + GDS_PORT_OFFSET + $3)))
}
plan_layout() {
  local i=0 region n
  for region in "${REGIONS[@]}"; do
    for ((n = 1; n <= NODES_PER_REGION; n++)); do
      add_node "$region-$n" "$region" "$i"
      i=$((i + 1))
    done
  done
  [ $((9090 + GDS_PORT_OFFSET + i - 1)) -le 65535 ] ||
    die "GDS_PORT_OFFSET=$GDS_PORT_OFFSET with $i nodes puts gRPC ports above 65535"
}
# The layout that start wrote (status follows it, whatever NODES_PER_REGION says now).
load_manifest() {
  local id region rest grpc resp peer secure
  while IFS=$'\t' read -r id region rest grpc resp peer secure; do
    case "$id" in '' | '#'*) continue ;; esac
    IDS+=("$id") NODE_REGIONS+=("$region") REST+=("$rest") GRPC+=("$grpc") RESP+=("$resp")
    PEER+=("${peer:-0}")
    SECURE=${secure:-0}
  done <"$MANIFEST"
}

# The cluster CA and one certificate per node (DNS subject alternative name, which peers take
# as its identity, and common name: the node id; also localhost and 127.0.0.1), made once and kept; the admin user's password likewise.
make_security() {
  command -v openssl >/dev/null 2>&1 || die "'openssl' is not installed (bash scripts/bootstrap.sh installs it)"
  mkdir -p "$TLS"
  chmod 700 "$TLS"
  if [ ! -s "$TLS/ca.pem" ] || [ ! -s "$TLS/ca.key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=geodatastore local CA" -keyout "$TLS/ca.key" -out "$TLS/ca.pem" >/dev/null 2>&1 ||
      die "openssl could not make the cluster CA in $TLS"
  fi
  local id
  for id in "${IDS[@]}"; do
    [ -s "$TLS/$id.pem" ] && [ -s "$TLS/$id.key" ] && continue
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$id" \
      -keyout "$TLS/$id.key" -out "$TLS/$id.csr" >/dev/null 2>&1 &&
      openssl x509 -req -in "$TLS/$id.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -CAcreateserial \
        -days 825 -out "$TLS/$id.pem" \
        -extfile <(printf 'subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' "$id") \
        >/dev/null 2>&1 || die "openssl could not make the certificate of $id"
    rm -f "$TLS/$id.csr"
  done
  chmod 600 "$TLS"/*.key
  if [ ! -s "$DEPLOY/admin.password" ]; then
    (umask 077 && openssl rand -hex 16 >"$DEPLOY/admin.password")
  fi
  if [ ! -s "$DEPLOY/users.yaml" ] || [ "$DEPLOY/admin.password" -nt "$DEPLOY/users.yaml" ]; then
    local hash
    hash=$("$GEODS" hash-password <"$DEPLOY/admin.password") || die "geods hash-password failed"
    (umask 077 && printf 'users:\n  - {name: admin, password_hash: "%s", roles: [admin]}\n' "$hash" >"$DEPLOY/users.yaml")
  fi
}

# curl arguments for a node's REST listener (https and the admin user with SECURE=1).
rest_url() { # index path
  if [ "$SECURE" == 1 ]; then echo "https://127.0.0.1:${REST[$1]}$2"; else echo "http://127.0.0.1:${REST[$1]}$2"; fi
}
curl_auth() {
  if [ "$SECURE" == 1 ]; then
    echo "--cacert $TLS/ca.pem -u admin:$(cat "$DEPLOY/admin.password")"
  fi
}

config_path() { echo "$DEPLOY/$1.yaml"; }
pid_path() { echo "$DATA/$1.pid"; }
log_path() { echo "$LOGS/$1.log"; }

render_config() { # index
  local i=$1 j
  echo "# Generated by scripts/cluster.sh start; rewritten on every start, do not edit."
  echo "node: {id: ${IDS[i]}, region: ${NODE_REGIONS[i]}, data_dir: ./data/${IDS[i]}}"
  echo "listen: {http: \"127.0.0.1:${REST[i]}\", grpc: \"127.0.0.1:${GRPC[i]}\", resp: \"127.0.0.1:${RESP[i]}\", peer: \"127.0.0.1:${PEER[i]}\"}"
  echo "cluster:"
  echo "  name: local"
  echo "  peers:"
  for ((j = 0; j < ${#IDS[@]}; j++)); do
    [ "$j" -eq "$i" ] && continue
    echo "    - {id: ${IDS[j]}, region: ${NODE_REGIONS[j]}, grpc: \"127.0.0.1:${PEER[j]}\"}"
  done
  echo "security:"
  [ "$GDS_PEER_TLS" == 1 ] && echo "  tls: {ca_file: $TLS/ca.pem, cert_file: $TLS/${IDS[i]}.pem, key_file: $TLS/${IDS[i]}.key, clients: $([ "$SECURE" == 1 ] && echo true || echo false)}"
  if [ "$SECURE" == 1 ]; then echo "  users_file: $DEPLOY/users.yaml"; fi
  echo "  backup_dir: ./backups"
  if [ -n "${GDS_EXTRA_YAML:-}" ]; then echo "$GDS_EXTRA_YAML"; fi
}

# ---------------------------------------------------------------------------------------------
# Processes. A pid counts only while it is alive, not a zombie, and (where /proc exists) runs
# geods with this node's config, so a stale pid file never makes us signal a stranger.
pid_alive() { # pid
  local pid=$1 state
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/stat" ]; then
    state=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$pid/stat" 2>/dev/null || echo "?")
    [ "$state" != "Z" ] || return 1
  fi
  return 0
}
pid_is_node() { # pid id
  pid_alive "$1" || return 1
  if [ -r "/proc/$1/cmdline" ]; then
    tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF -- "$(config_path "$2")" || return 1
  fi
  return 0
}
# Prints the pid of node id if it runs, else nothing (and returns 1).
running_pid() { # id
  local file pid
  file=$(pid_path "$1")
  [ -f "$file" ] || return 1
  pid=$(head -n1 "$file" 2>/dev/null || true)
  is_uint "$pid" || return 1
  pid_is_node "$pid" "$1" || return 1
  echo "$pid"
}

log_tail() { # id
  local log
  log=$(log_path "$1")
  echo "---- last lines of $log ----" >&2
  if [ -f "$log" ]; then tail -n 25 "$log" >&2; else echo "(no log file)" >&2; fi
  echo "----" >&2
}

# Ports (of the given list) that something already listens on; SO_REUSEADDR so that sockets
# in TIME_WAIT after a stop do not count as taken.
taken_ports() {
  python3 - "$@" <<'EOF'
import socket, sys
for port in sys.argv[1:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", int(port)))
    except OSError:
        print(port)
    finally:
        s.close()
EOF
}

# Polls until none of the "id:pid" entries is alive or `timeout` seconds pass; leaves the
# entries still alive in LEFT. Returns 0 when all are gone.
wait_gone() { # timeout entry...
  local deadline=$((SECONDS + $1)) entry
  shift
  while :; do
    LEFT=()
    for entry in "$@"; do
      pid_alive "${entry#*:}" && LEFT+=("$entry")
    done
    [ ${#LEFT[@]} -gt 0 ] || return 0
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# SIGTERM the given "id:pid" entries, wait for all with one deadline, SIGKILL what is left.
terminate() {
  local entry id pid
  [ $# -gt 0 ] || return 0
  for entry in "$@"; do
    kill -TERM "${entry#*:}" 2>/dev/null || true
  done
  wait_gone "$GDS_STOP_TIMEOUT" "$@" && return 0
  for entry in "${LEFT[@]}"; do
    id=${entry%%:*} pid=${entry#*:}
    echo "$PROG: $id (pid $pid) did not exit within ${GDS_STOP_TIMEOUT}s of SIGTERM; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait_gone 5 "$@" || die "still running after SIGKILL: ${LEFT[*]}"
}

# One start/stop at a time per base directory. The lock fd is closed in the nodes.
take_lock() {
  mkdir -p "$DATA"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$DATA/.cluster.lock"
    flock -w 30 9 || die "another 'cluster.sh start/stop' holds $DATA/.cluster.lock"
  fi
}

# ---------------------------------------------------------------------------------------------
cmd_start() {
  [ -x "$GEODS" ] || die "no node binary at $GEODS; run 'make build' first (or set GDS_BIN to the bin directory)"
  plan_layout
  take_lock
  mkdir -p "$DEPLOY" "$DATA" "$LOGS"
  make_security

  local i id pid file cfg old running=() to_start=() planned=" ${IDS[*]} "
  # Refuse to mix layouts: a running node must be part of this layout with the same config.
  for file in "$DATA"/*.pid; do
    [ -e "$file" ] || continue
    id=$(basename "$file" .pid)
    if pid=$(running_pid "$id"); then
      [[ "$planned" == *" $id "* ]] ||
        die "$id (pid $pid) is running but is not part of this layout (NODES_PER_REGION=$NODES_PER_REGION, GDS_PORT_OFFSET=$GDS_PORT_OFFSET); run '$0 stop' first"
    else
      rm -f "$file" # stale
    fi
  done
  for ((i = 0; i < ${#IDS[@]}; i++)); do
    id=${IDS[i]}
    cfg=$(config_path "$id")
    if pid=$(running_pid "$id"); then
      old=$(cat "$cfg" 2>/dev/null || true)
      [ "$old" == "$(render_config "$i")" ] ||
        die "$id (pid $pid) is running with a different configuration than requested (NODES_PER_REGION=$NODES_PER_REGION, GDS_PORT_OFFSET=$GDS_PORT_OFFSET); run '$0 stop' first"
      running+=("$i")
    else
      to_start+=("$i")
    fi
  done

  # Nothing of another layout runs now: drop its configs, write this one.
  for file in "$DEPLOY"/*.yaml; do
    [ -e "$file" ] || continue
    [ "$file" == "$DEPLOY/users.yaml" ] && continue
    [[ "$planned" == *" $(basename "$file" .yaml) "* ]] || rm -f "$file"
  done
  {
    echo "# node_id	region	rest	grpc	resp	peer	secure   (written by scripts/cluster.sh start)"
    for ((i = 0; i < ${#IDS[@]}; i++)); do
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${IDS[i]}" "${NODE_REGIONS[i]}" "${REST[i]}" "${GRPC[i]}" "${RESP[i]}" "${PEER[i]}" "$SECURE"
    done
  } >"$MANIFEST"
  for i in "${to_start[@]}"; do
    render_config "$i" >"$(config_path "${IDS[i]}")"
  done

  # Every port of every node to start must be free before any node starts.
  local ports=() taken
  for i in "${to_start[@]}"; do ports+=("${REST[i]}" "${GRPC[i]}" "${RESP[i]}" "${PEER[i]}"); done
  if [ ${#ports[@]} -gt 0 ]; then
    taken=$(taken_ports "${ports[@]}")
    if [ -n "$taken" ]; then
      for i in "${to_start[@]}"; do
        for port in ${REST[i]} ${GRPC[i]} ${RESP[i]} ${PEER[i]}; do
          if grep -qx "$port" <<<"$taken"; then
            echo "$PROG: port 127.0.0.1:$port of ${IDS[i]} is already in use by another process" >&2
            log_tail "${IDS[i]}"
          fi
        done
      done
      die "cannot start: port(s) ${taken//$'\n'/ } in use (stop what uses them, or shift every port with GDS_PORT_OFFSET)"
    fi
  fi

  for i in "${running[@]}"; do
    echo "${IDS[i]} is already running (pid $(running_pid "${IDS[i]}")); not starting a second copy"
  done

  # Launch: each node in its own session (survives this shell and Ctrl-C), cwd = base dir.
  local started=()
  for i in "${to_start[@]}"; do
    id=${IDS[i]}
    file=$(pid_path "$id")
    rm -f "$file"
    mkdir -p "$DATA/$id"
    echo "==== $(date '+%Y-%m-%d %H:%M:%S') cluster.sh: starting $id ====" >>"$(log_path "$id")"
    (
      exec 9>&-
      cd "$BASE"
      exec nohup setsid bash -c 'echo $$ >"$1.tmp" && mv "$1.tmp" "$1" && exec "$2" --config "$3"' \
        geods-launcher "$file" "$GEODS" "$(config_path "$id")"
    ) >>"$(log_path "$id")" 2>&1 </dev/null &
    started+=("$i")
  done

  # Wait for each node (started or already running) to answer /readyz 200, one deadline each.
  local failed="" deadline code
  for i in "${started[@]}" "${running[@]}"; do
    [ -n "$i" ] || continue
    id=${IDS[i]}
    deadline=$((SECONDS + GDS_READY_TIMEOUT))
    while :; do
      pid=$(head -n1 "$(pid_path "$id")" 2>/dev/null || true)
      if is_uint "$pid" && ! pid_alive "$pid"; then
        echo "$PROG: $id (pid $pid) exited during start-up" >&2
        failed=$id
        break
      fi
      # shellcheck disable=SC2046
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 $(curl_auth) "$(rest_url "$i" /readyz)" 2>/dev/null || true)
      [ "$code" == "200" ] && break
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "$PROG: $id did not become ready on $(rest_url "$i" /readyz) within ${GDS_READY_TIMEOUT}s (last answer: $([ "${code:-000}" == 000 ] && echo "none, nothing listens" || echo "HTTP $code"))" >&2
        failed=$id
        break
      fi
      sleep 0.1
    done
    [ -z "$failed" ] || break
  done

  if [ -n "$failed" ]; then
    log_tail "$failed"
    # Leave things as they were: stop the nodes this run started.
    local entries=()
    for i in "${started[@]}"; do
      [ -n "$i" ] || continue
      pid=$(head -n1 "$(pid_path "${IDS[i]}")" 2>/dev/null || true)
      if is_uint "$pid" && pid_alive "$pid"; then entries+=("${IDS[i]}:$pid"); fi
    done
    if [ ${#entries[@]} -gt 0 ]; then
      echo "$PROG: stopping the nodes this run started: ${entries[*]%%:*}" >&2
      terminate "${entries[@]}"
    fi
    for i in "${started[@]}"; do [ -n "$i" ] && rm -f "$(pid_path "${IDS[i]}")"; done
    die "start failed: $failed is not ready (its log: $(log_path "$failed"))"
  fi

  echo "geodatastore local cluster: ${#IDS[@]} node(s), NODES_PER_REGION=$NODES_PER_REGION, all ready"
  printf '%-14s %-10s %-17s %-17s %-17s %-17s %-8s %s\n' NODE REGION REST GRPC RESP PEER PID ""
  for ((i = 0; i < ${#IDS[@]}; i++)); do
    local note="started"
    [[ " ${running[*]} " == *" $i "* ]] && note="already running"
    printf '%-14s %-10s %-17s %-17s %-17s %-17s %-8s %s\n' "${IDS[i]}" "${NODE_REGIONS[i]}" \
      "127.0.0.1:${REST[i]}" "127.0.0.1:${GRPC[i]}" "127.0.0.1:${RESP[i]}" "127.0.0.1:${PEER[i]}" \
      "$(running_pid "${IDS[i]}" || echo '?')" "$note"
  done
  echo "configs: $DEPLOY/  data: $DATA/  logs: $LOGS/"
  echo "node-to-node links: mutual TLS (CA and certificates in $TLS/); admin password: $DEPLOY/admin.password"
  if [ "$SECURE" == 1 ]; then
    echo "clients: TLS and authentication, e.g. curl --cacert $TLS/ca.pem -u admin:\$(cat $DEPLOY/admin.password) $(rest_url 0 /admin/status)"
  else
    echo "clients: plaintext on loopback without authentication (SECURE=1 for TLS and users)"
  fi
  echo "status: bash scripts/cluster.sh status   stop: bash scripts/cluster.sh stop"
}

cmd_stop() {
  [ -d "$DATA" ] || {
    echo "no node is running (nothing under $DATA)"
    return 0
  }
  take_lock
  local file id pid entries=()
  for file in "$DATA"/*.pid; do
    [ -e "$file" ] || continue
    id=$(basename "$file" .pid)
    if pid=$(running_pid "$id"); then
      entries+=("$id:$pid")
    else
      echo "$id was not running (removed its stale pid file)"
      rm -f "$file"
    fi
  done
  if [ ${#entries[@]} -eq 0 ]; then
    echo "no node is running"
    return 0
  fi
  echo "stopping ${entries[*]%%:*} (SIGTERM, SIGKILL after ${GDS_STOP_TIMEOUT}s)"
  terminate "${entries[@]}"
  local entry
  for entry in "${entries[@]}"; do
    rm -f "$(pid_path "${entry%%:*}")"
    echo "stopped ${entry%%:*} (pid ${entry#*:})"
  done
}

cmd_status() {
  if [ -f "$MANIFEST" ]; then
    load_manifest
  else
    plan_layout # never started here: show the default layout, every node down
  fi
  local i
  STATUS_TMP=$(mktemp -d)
  trap 'rm -rf "$STATUS_TMP"' EXIT
  local tmp=$STATUS_TMP
  for ((i = 0; i < ${#IDS[@]}; i++)); do
    # shellcheck disable=SC2046
    curl -sf --max-time 2 $(curl_auth) "$(rest_url "$i" /admin/status)" >"$tmp/$i.json" 2>/dev/null || rm -f "$tmp/$i.json" &
  done
  wait
  for ((i = 0; i < ${#IDS[@]}; i++)); do
    printf '%s\t%s\t%s\t%s\n' "$i" "${IDS[i]}" "${NODE_REGIONS[i]}" "${REST[i]}"
  done | python3 -c '
import json, os, sys
tmp = sys.argv[1]
def uptime(s):
    s = int(s)
    d, s = divmod(s, 86400); h, s = divmod(s, 3600); m, s = divmod(s, 60)
    return (f"{d}d" if d else "") + (f"{h}h" if d or h else "") + (f"{m}m" if d or h or m else "") + f"{s}s"
rows = [("NODE", "REGION", "STATE", "UPTIME", "KEYS", "APPLIED(entries/sum)", "PEERS", "REST")]
for line in sys.stdin:
    i, node, region, rest = line.rstrip("\n").split("\t")
    row = [node, region, "down", "-", "-", "-", "-", f"127.0.0.1:{rest}"]
    try:
        with open(os.path.join(tmp, i + ".json")) as f:
            st = json.load(f)
        applied = st.get("applied") or {}
        peers = st.get("peers") or []
        known = [p for p in peers if p.get("state") in ("up", "suspect", "down")]
        up = sum(1 for p in peers if p.get("state") == "up")
        state = "up" if st.get("node_id") == node else "wrong node (%s)" % st.get("node_id")
        row = [node, st.get("region", region), state, uptime(st.get("uptime_seconds", 0)),
               str(sum((st.get("keys") or {}).values())),
               "%d/%d" % (len(applied), sum(applied.values())),
               ("%d/%d up" % (up, len(peers))) if known else str(len(peers)), row[7]]
    except (OSError, ValueError, AttributeError, TypeError):
        pass
    rows.append(row)
widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
for r in rows:
    print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
' "$tmp"
}

"cmd_$CMD"
