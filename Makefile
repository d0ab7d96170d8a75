# geodatastore — the two commands users need are `make start-cluster` and `make test`.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=
CHAOS_SECONDS ?= 150
FUZZ_SECONDS ?= 60

.PHONY: all bootstrap configure build test chaos soak bench bench-node start-cluster stop-cluster status format clean fuzz fuzz-replay

all: build

bootstrap:
	@bash scripts/bootstrap.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt
	@$(MAKE) --no-print-directory configure

configure: bootstrap
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_EXPORT_COMPILE_COMMANDS=ON

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# Real geods processes under faults (docs/testing.md); CHAOS_SECONDS=1800 is the soak.
chaos: build
	CHAOS_SECONDS=$(CHAOS_SECONDS) python3 tests/chaos/chaos.py --bin $(BUILD_DIR)/bin --log-dir $(BUILD_DIR)/chaos

# libFuzzer targets (docs/fuzzing.md): clang-14, ASan, UBSan, in build-fuzz.
fuzz: bootstrap
	bash scripts/fuzz.sh run $(FUZZ_SECONDS)

fuzz-replay: bootstrap
	bash scripts/fuzz.sh replay

# The simulator over 10,000 seeds (GDS_SIM_SEEDS=N for another count), one process per core;
# prints the replay command of any failing seed (docs/simulation.md).
soak: build
	GDS_BIN=$(BUILD_DIR)/bin bash scripts/soak.sh

bench: build
	$(BUILD_DIR)/bin/crdt_bench --benchmark_min_time=0.2

bench-node: build
	bash scripts/bench-node.sh 5 "increment set-add register-set"

start-cluster: build
	@GDS_BIN=$(BUILD_DIR)/bin bash scripts/cluster.sh start

stop-cluster:
	@GDS_BIN=$(BUILD_DIR)/bin bash scripts/cluster.sh stop

status:
	@GDS_BIN=$(BUILD_DIR)/bin bash scripts/cluster.sh status

format:
	find src storage replication antientropy config tests bench -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
