# Sourced by the benchmark scripts: start_single_node WORKDIR starts one geods on free loopback
# ports with its data under WORKDIR, sets node_pid and node_http, node_grpc, node_resp to its
# pid and ports, and fails if it does not report them within 20 s. The caller stops it.
start_single_node() {
  local work=$1
  cat > "$work/node.yaml" <<YAML
node: {id: bench-1, region: bench, data_dir: $work/data}
listen: {http: "127.0.0.1:0", grpc: "127.0.0.1:0", resp: "127.0.0.1:0"}
YAML
  build/bin/geods --config "$work/node.yaml" --ports-file "$work/ports.json" > "$work/geods.log" 2>&1 &
  node_pid=$!
  for _ in $(seq 1 400); do [ -s "$work/ports.json" ] && break; sleep 0.05; done
  [ -s "$work/ports.json" ] || { echo "geods did not start: $(cat "$work/geods.log")" >&2; return 1; }
  node_http=$(sed -E 's/.*"http": ([0-9]+).*/\1/' "$work/ports.json")
  node_grpc=$(sed -E 's/.*"grpc": ([0-9]+).*/\1/' "$work/ports.json")
  node_resp=$(sed -E 's/.*"resp": ([0-9]+).*/\1/' "$work/ports.json")
}
