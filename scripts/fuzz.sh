#!/usr/bin/env bash
# The libFuzzer targets of fuzz/ (docs/fuzzing.md), built with clang-14, ASan and UBSan in
# their own tree.
#
#   scripts/fuzz.sh build        configure and build build-fuzz (ccache)
#   scripts/fuzz.sh replay       run every target once over its committed corpus (fast; fails
#                                on any crash)
#   scripts/fuzz.sh run [N]      fuzz every target for N seconds (default 60), two at a time;
#                                new inputs go to a scratch dir, not the committed corpus;
#                                prints execs, CPU seconds and crashes per target; fails if
#                                any target crashed
#   scripts/fuzz.sh seeds        rewrite fuzz/corpus/ from the real encoders (gds_fuzz_seeds)
#   scripts/fuzz.sh merge        minimize the last run's new inputs into fuzz/corpus/
#
# Environment: FUZZ_BUILD_DIR (build-fuzz), FUZZ_OUT (scratch: /tmp/gds-fuzz), FUZZ_JOBS (2),
# FUZZ_TARGETS (all: crdt_value crdt_join ...).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
OUT=${FUZZ_OUT:-/tmp/gds-fuzz}
JOBS=${FUZZ_JOBS:-2}
TARGETS=${FUZZ_TARGETS:-"crdt_value crdt_join replication sync_request sync_reply resp rest session_token config"}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$ROOT}

build() {
  if [[ ! -f $BUILD/build.ninja ]]; then
    CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD" -G Ninja -DGDS_FUZZ=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
      -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
  fi
  ninja -C "$BUILD" -j "$JOBS" fuzz
}

# One target for $2 seconds; its log, new inputs and crash artifacts go under $OUT. Inputs
# are at most 4 KiB, so one allocation above the limit is unbounded allocation, a finding:
# 16 MiB for the text decoders; 64 MiB where protobuf parses (libprotobuf reserves up to
# 50 MB for a string field whose length runs past the end of its input before it fails);
# the node targets have RocksDB's buffers too.
fuzz_one() {
  local t=$1 seconds=$2 malloc_limit=16
  case $t in
    crdt_value | crdt_join) malloc_limit=64 ;;
    replication | sync_request | sync_reply) malloc_limit=2048 ;;
  esac
  mkdir -p "$OUT/$t/new" "$OUT/$t/crashes"
  /usr/bin/time -f "%U %S" -o "$OUT/$t/cpu" \
    "$BUILD/bin/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb="$malloc_limit" \
    -print_final_stats=1 -artifact_prefix="$OUT/$t/crashes/" \
    "$OUT/$t/new" "fuzz/corpus/$t" >"$OUT/$t/log" 2>&1 || true
}
export -f fuzz_one
export BUILD OUT

run() {
  local seconds=${1:-60}
  rm -rf "$OUT"
  mkdir -p "$OUT"
  local start=$SECONDS
  printf '%s\n' $TARGETS | xargs -P "$JOBS" -I{} bash -c "fuzz_one {} $seconds"
  echo "fuzzed $(wc -w <<<"$TARGETS") targets for ${seconds}s each, $JOBS at a time, in $((SECONDS - start))s"
  printf '%-14s %12s %9s %8s %8s %7s\n' target execs exec/s cpu_s corpus crashes
  local failed=0
  for t in $TARGETS; do
    local log=$OUT/$t/log
    local execs rate cpu corpus crashes
    execs=$(awk '/^stat::number_of_executed_units:/ {v = $2} END {print v}' "$log")
    rate=$(awk '/^stat::average_exec_per_sec:/ {v = $2} END {print v}' "$log")
    cpu=$(tail -n 1 "$OUT/$t/cpu" | awk '{printf "%.0f", $1 + $2}')
    corpus=$(( $(ls "fuzz/corpus/$t" | wc -l) + $(ls "$OUT/$t/new" | wc -l) ))
    crashes=$(ls "$OUT/$t/crashes" | wc -l)
    printf '%-14s %12s %9s %8s %8s %7s\n' "$t" "${execs:-?}" "${rate:-?}" "$cpu" "$corpus" "$crashes"
    if [[ $crashes -gt 0 || -z $execs ]]; then
      failed=1
      echo "  $t: see $log and $OUT/$t/crashes/" >&2
    fi
  done
  return $failed
}

replay() {
  local failed=0
  for t in $TARGETS; do
    if ! "$BUILD/bin/${t}_fuzz" -runs=0 "fuzz/corpus/$t" >"$OUT-replay-$t.log" 2>&1; then
      echo "$t: FAILED on its corpus (log: $OUT-replay-$t.log)" >&2
      failed=1
    else
      echo "$t: $(ls "fuzz/corpus/$t" | wc -l) inputs ok"
    fi
  done
  return $failed
}

seeds() {
  rm -rf fuzz/corpus.new
  "$BUILD/bin/gds_fuzz_seeds" "$ROOT" fuzz/corpus.new
  rm -rf fuzz/corpus
  mv fuzz/corpus.new fuzz/corpus
  find fuzz/corpus -type f | wc -l
}

merge() {
  for t in $TARGETS; do
    "$BUILD/bin/${t}_fuzz" -merge=1 "fuzz/corpus/$t" "$OUT/$t/new" >/dev/null 2>&1
    echo "$t: $(ls "fuzz/corpus/$t" | wc -l) inputs"
  done
}

case ${1:-} in
  build) build ;;
  replay) build && replay ;;
  run) build && run "${2:-60}" ;;
  seeds) build && seeds ;;
  merge) merge ;;
  *) sed -n '2,/^set -e/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
