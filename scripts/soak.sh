#!/usr/bin/env bash
# make soak: every simulator suite over GDS_SIM_SEEDS seeds in all (default 10000; each
# suite takes its share, tests/replication/sim/harness.h SeedCount), sharded over
# SOAK_SHARDS processes (default: one per core). Prints one summary line, and the replay
# command of every failing seed. Exit status 1 if any failed.
set -u
BIN="${GDS_BIN:-build/bin}/simulation_test"
SEEDS="${GDS_SIM_SEEDS:-10000}"
SHARDS="${SOAK_SHARDS:-$(nproc 2>/dev/null || echo 2)}"
LOGS="$(mktemp -d /tmp/gds-soak.XXXXXX)"
[ -x "$BIN" ] || { echo "soak: $BIN not built (make build)" >&2; exit 2; }

start=$(date +%s)
pids=()
for ((i = 0; i < SHARDS; i++)); do
  GDS_SIM_SEEDS="$SEEDS" GTEST_TOTAL_SHARDS="$SHARDS" GTEST_SHARD_INDEX="$i" \
    "$BIN" --gtest_filter='Seeds/*' --gtest_brief=1 >"$LOGS/shard-$i.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
elapsed=$(($(date +%s) - start))

ran=$(grep -h '^\[==========\] .* tests\? from .* ran' "$LOGS"/shard-*.log |
  awk '{ n += $2 } END { print n + 0 }')
mapfile -t failed < <(grep -h '^\[  FAILED  \] Seeds/' "$LOGS"/shard-*.log |
  sed -e 's/^\[  FAILED  \] //' -e 's/[ ,].*//' | sort -u)
echo "soak: ${ran} seeds in ${elapsed} s over ${SHARDS} processes, ${#failed[@]} failed; logs in ${LOGS}"
for t in "${failed[@]}"; do
  echo "  replay: GDS_SIM_SEEDS=${SEEDS} GDS_SIM_TRACE=1 ${BIN} --gtest_filter='${t}'"
done
[ "${#failed[@]}" -eq 0 ]
