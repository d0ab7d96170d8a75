#!/usr/bin/env python3
"""`make chaos`: a Jepsen-style run of real geods processes under faults (docs/testing.md).

  python3 tests/chaos/chaos.py --bin build/bin [--log-dir build/chaos]

Environment: CHAOS_SECONDS (fault period, default 150), CHAOS_SEED (default: random),
CHAOS_CLIENTS (default 6), CHAOS_CORRUPT_WAL (1: flip a byte of the newest WAL file of a
killed node before its restart; default 1 when CHAOS_SECONDS >= 600, else 0),
CHAOS_SKEW (faketime offset of the node started ahead, default +120s; "" for none),
CHAOS_CONVERGE_SECONDS (deadline for convergence after heal, default 180: states
stamped by the node that ran ahead are refused until real time reaches them),
CHAOS_KEEP_DATA (1: keep the nodes' data directories of a passing run).

Prints one summary line and the run directory, which holds history.jsonl (every op),
faults.txt (the fault timeline), violations.txt, summary.txt and nodes/<id>.log. Exits 0
only when every checker passed, every replica converged and no node exited unexpectedly.
"""

import argparse
import json
import os
import random
import shutil
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import checkers  # noqa: E402
from cluster import Cluster, http_json  # noqa: E402
from proxy import Proxy  # noqa: E402
from workload import FAMILY_PATH, Client, History, all_keys, family_of  # noqa: E402

INTRA_REGION_DELAY = (0.0005, 0.002)
INTER_REGION_DELAY = (0.025, 0.060)
EXTRA_YAML = """replication: {flush_interval_ms: 5}
anti_entropy: {interval_s: 10}
consistency: {timeout_ms: 2000}
clock: {max_offset_ms: 500}"""


class Timeline:
    """The fault timeline: one line per event, also written through to faults.txt."""

    def __init__(self, path, t0):
        self.f = open(path, "w")
        self.t0 = t0
        self.faults = 0
        self.lines = []

    def event(self, text, fault=False):
        if fault:
            self.faults += 1
        line = "%8.3f  %s%s" % (time.monotonic() - self.t0, "FAULT " if fault else "      ",
                                text)
        self.lines.append(line)
        self.f.write(line + "\n")
        self.f.flush()


class Nemesis:
    """Injects one fault at a time, each healed before the next (main thread)."""

    def __init__(self, cluster, proxy, timeline, rng, corrupt_wal):
        self.cluster, self.proxy, self.tl, self.rng = cluster, proxy, timeline, rng
        self.corrupt_wal = corrupt_wal
        self.ids = [n.id for n in cluster.nodes]
        self.regions = cluster.regions()
        self.rollbacks = []
        # (node id, history time of its kill) for each kill followed by WAL corruption
        self.corrupted = []
        self.history_now = None  # History.now, set by run()

    def cross_pairs(self):
        region = {n.id: n.region for n in self.cluster.nodes}
        return [(a, b) for a in self.ids for b in self.ids if region[a] != region[b]]

    def hold(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.watch()
            time.sleep(0.2)

    def watch(self):
        for node_id, code, _ in self.cluster.check_exits():
            self.tl.event("UNEXPECTED EXIT of %s (code %s)" % (node_id, code))

    def partition_region(self):
        region = self.rng.choice(sorted(self.regions))
        inside = set(self.regions[region])
        for a in self.ids:
            for b in self.ids:
                if (a in inside) != (b in inside):
                    self.proxy.cut(a, b)
        self.tl.event("partition: region %s cut off (both directions)" % region, fault=True)
        self.hold(self.rng.uniform(6, 12))
        self.proxy.heal()
        self.tl.event("heal: partition")

    def partition_halves(self):
        ids = self.ids[:]
        self.rng.shuffle(ids)
        half = set(ids[:self.rng.randint(1, 2)])
        for a in self.ids:
            for b in self.ids:
                if (a in half) != (b in half):
                    self.proxy.cut(a, b)
        self.tl.event("partition: %s | rest" % sorted(half), fault=True)
        self.hold(self.rng.uniform(6, 12))
        self.proxy.heal()
        self.tl.event("heal: partition")

    def one_way(self):
        pairs = self.rng.sample(self.cross_pairs(), 3)
        for a, b in pairs:
            self.proxy.cut(a, b)
        self.tl.event("one-way cuts: %s" % ", ".join("%s->%s" % p for p in pairs), fault=True)
        self.hold(self.rng.uniform(6, 12))
        self.proxy.heal()
        self.tl.event("heal: one-way cuts")

    def reset(self):
        pairs = self.rng.sample(self.cross_pairs(), 4)
        n = sum(self.proxy.reset(a, b) for a, b in pairs)
        self.tl.event("reset: %d connections on %s" % (n, ", ".join("%s-%s" % p for p in pairs)),
                      fault=True)
        self.hold(self.rng.uniform(2, 4))

    def slow(self):
        a, b = self.rng.choice(self.cross_pairs())
        old = self.proxy.links[(a, b)].out.delay_s
        delay = self.rng.uniform(0.2, 0.5)
        self.proxy.set_delay(a, b, delay)
        self.tl.event("slow link: %s->%s %.0f ms" % (a, b, delay * 1000), fault=True)
        self.hold(self.rng.uniform(6, 10))
        self.proxy.set_delay(a, b, old)
        self.tl.event("heal: %s->%s back to %.0f ms" % (a, b, old * 1000))

    def kill(self):
        node = self.cluster.by_id[self.rng.choice(self.ids)]
        before = identity(node)
        killed_at = self.history_now() if self.history_now else None
        self.cluster.kill9(node)
        self.tl.event("kill -9 %s (replica %s, committed seq %s)" % ((node.id,) + before),
                      fault=True)
        self.hold(self.rng.uniform(2, 6))
        if self.corrupt_wal:
            self.tl.event("corrupt WAL of %s: %s"
                          % (node.id, self.cluster.corrupt_newest_wal(node, self.rng)), fault=True)
            if killed_at is not None:
                self.corrupted.append((node.id, killed_at))
        self.restart(node, node.skew)
        after = identity(node)
        # Never reuse an identity (DESIGN, principle 7): a node that came back with less than
        # it had committed must have taken a new replica id.
        if None not in before + after and after[0] == before[0] and after[1] < before[1]:
            self.rollbacks.append("%s came back as replica %s with committed seq %d < %d"
                                  % (node.id, after[0], after[1], before[1]))
            self.tl.event("ROLLBACK: " + self.rollbacks[-1])

    def restart(self, node, skew):
        ok = self.cluster.start(node, skew=skew)
        self.tl.event("restart %s%s: %s" % (node.id, " with skew " + skew if skew else "",
                                             "ready" if ok else "NOT READY"))
        if not ok:
            self.watch()

    def unskew(self, node):
        self.cluster.kill9(node)
        self.tl.event("kill -9 %s (skewed %s) to restart it on the true clock"
                      % (node.id, node.skew), fault=True)
        self.hold(1)
        self.restart(node, None)

    FAULTS = ("partition_region", "partition_halves", "one_way", "reset", "slow", "kill")

    def run(self, seconds, skewed):
        """Faults until `seconds` pass; the skewed node goes back to the true clock a third of
        the way in (what it stamped ahead is refused until real time catches up with it)."""
        end = time.monotonic() + seconds
        unskew_at = time.monotonic() + seconds / 3
        cycle = []
        while time.monotonic() < end - 4:
            if skewed is not None and skewed.skew and time.monotonic() >= unskew_at:
                self.unskew(skewed)
                continue
            if not cycle:
                cycle = list(self.FAULTS)
                self.rng.shuffle(cycle)
            getattr(self, cycle.pop())()
            self.hold(min(self.rng.uniform(1, 3), max(0, end - time.monotonic())))
        self.hold(max(0, end - time.monotonic()))


def identity(node):
    """(replica id, committed seq) of a running node, None for what it did not answer."""
    replica = seq = None
    try:
        status, body, _ = http_json(node.http, "GET", "/admin/status", timeout=5)
        if status == 200 and body:
            replica = body.get("replica_id")
        status, body, _ = http_json(node.http, "GET", "/admin/replication/lag", timeout=5)
        if status == 200 and body:
            seq = body.get("committed_seq")
    except OSError:
        pass
    return replica, seq


def kept_apart(cluster):
    """key -> elements of the states type conflicts kept apart, on any node (/admin/lost)."""
    out = {}
    for node in cluster.nodes:
        try:
            status, body, _ = http_json(node.http, "GET", "/admin/lost?limit=1000", timeout=5)
        except OSError:
            continue
        if status != 200:
            continue
        for state in body.get("lost", []):
            elements = state.get("elements") or state.get("vertices") or []
            out.setdefault(state["name"], set()).update(elements)
    return out


def read_all(cluster, keys):
    """node id -> key -> state (None if absent); a node that does not answer maps to None."""
    out = {}
    for node in cluster.nodes:
        states = {}
        try:
            for key in keys:
                status, body, _ = http_json(node.http, "GET", "/crdt/%s/%s"
                                            % (FAMILY_PATH[family_of(key)], key), timeout=5)
                if status == 404:
                    states[key] = None
                elif status == 200:
                    states[key] = body
                else:
                    raise OSError("HTTP %d reading %s" % (status, key))
        except OSError as e:
            states = None
            print("chaos: %s: %s" % (node.id, e), file=sys.stderr)
        out[node.id] = states
    return out


def full_sync_all(cluster):
    """Runs anti-entropy from every node at once; returns the total keys compared and
    repaired (a node that does not answer counts as one key compared: not yet agreed)."""
    results = [(1, 0)] * len(cluster.nodes)

    def one(i, node):
        try:
            status, body, _ = http_json(node.http, "POST", "/admin/anti-entropy/full-sync",
                                        timeout=60)
            if status == 200 and body:
                results[i] = (body.get("keys_compared", 0), body.get("keys_repaired", 0))
        except OSError:
            pass

    threads = [threading.Thread(target=one, args=(i, n)) for i, n in enumerate(cluster.nodes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(r[0] for r in results), sum(r[1] for r in results)


def differing(states):
    """Keys on which the nodes that answered disagree."""
    answered = [s for s in states.values() if s is not None]
    if not answered:
        return []
    return sorted(k for k in answered[0]
                  if len({json.dumps(s.get(k), sort_keys=True) for s in answered}) > 1)


def converge(cluster, proxy, timeline, deadline_s):
    """Heals every fault, restarts what is down (or skewed), and runs full anti-entropy from
    every node until a round compares no key and every replica reads the same. Merkle roots
    are not exposed over REST: a sync session compares roots first and descends only where
    they differ, so a round from every node that compares no key is the suite's proof that
    every tree agrees. Returns (seconds after heal or None, final states, node states)."""
    proxy.heal()
    t_heal = time.monotonic()
    timeline.event("heal: all links released")
    for node in cluster.nodes:
        if not cluster.running(node) or node.skew:
            cluster.kill9(node)
            ok = cluster.start(node)
            timeline.event("restart %s for the heal: %s" % (node.id, "ready" if ok else "NOT READY"))
    states, rounds = {}, 0
    while time.monotonic() - t_heal < deadline_s:
        compared, repaired = full_sync_all(cluster)
        rounds += 1
        if compared == 0:
            states = read_all(cluster, all_keys())
            answers = [json.dumps(s, sort_keys=True) for s in states.values() if s is not None]
            if len(answers) == len(cluster.nodes) and len(set(answers)) == 1:
                took = time.monotonic() - t_heal
                timeline.event("converged %.2f s after heal: full sync round %d compared no key "
                               "(Merkle roots agree), every replica reads the same" % (took, rounds))
                return took, states[cluster.nodes[0].id], states
        else:
            states = read_all(cluster, all_keys())
        diff = differing(states)
        timeline.event("full sync round %d: %d keys compared, %d repaired; reads differ on %d "
                       "keys%s" % (rounds, compared, repaired, len(diff),
                                   " (%s)" % ", ".join(diff[:4]) if diff else ""))
        time.sleep(0.5)
    timeline.event("NOT converged %.0f s after heal" % deadline_s)
    return None, None, states


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default="build/bin", help="directory holding geods")
    parser.add_argument("--log-dir", default=os.environ.get("CHAOS_LOG_DIR", "build/chaos"))
    args = parser.parse_args()

    seconds = env_int("CHAOS_SECONDS", 150)
    seed = env_int("CHAOS_SEED", random.SystemRandom().randrange(1, 1 << 31))
    clients_n = env_int("CHAOS_CLIENTS", 6)
    corrupt_wal = env_int("CHAOS_CORRUPT_WAL", 1 if seconds >= 600 else 0) == 1
    skew = os.environ.get("CHAOS_SKEW", "+120s")
    converge_s = env_int("CHAOS_CONVERGE_SECONDS", 180)
    geods = os.path.abspath(os.path.join(args.bin, "geods"))
    if not os.access(geods, os.X_OK):
        sys.exit("chaos: no geods at %s (build first: make build)" % geods)

    run_dir = os.path.abspath(os.path.join(
        args.log_dir, time.strftime("%Y%m%d-%H%M%S") + "-seed%d" % seed))
    os.makedirs(run_dir)
    rng = random.Random(seed)
    t0 = time.monotonic()
    timeline = Timeline(os.path.join(run_dir, "faults.txt"), t0)
    proxy = Proxy()
    cluster = Cluster(geods, run_dir, proxy, timeline, EXTRA_YAML)

    def on_signal(signum, _frame):
        cluster.close()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return run(args, seconds, seed, clients_n, corrupt_wal, skew, converge_s, run_dir, rng,
                   timeline, proxy, cluster)
    finally:
        cluster.close()
        proxy.close()


def run(args, seconds, seed, clients_n, corrupt_wal, skew, converge_s, run_dir, rng, timeline,
        proxy, cluster):
    region = {n.id: n.region for n in cluster.nodes}
    cluster.add_links()
    for (a, b) in proxy.links:
        lo, hi = INTER_REGION_DELAY if region[a] != region[b] else INTRA_REGION_DELAY
        proxy.set_delay(a, b, rng.uniform(lo, hi))  # per direction: src a -> dst b
    cluster.make_tls()
    cluster.write_configs()
    skewed = rng.choice(cluster.nodes) if skew else None
    timeline.event("seed %d, %d s of faults, %d clients, WAL corruption %s, skew %s on %s"
                   % (seed, seconds, clients_n, "on" if corrupt_wal else "off", skew or "none",
                      skewed.id if skewed else "-"))
    for node in cluster.nodes:
        if not cluster.start(node, skew=skew if node is skewed else None):
            timeline.event("%s did not become ready at start" % node.id)
            print("chaos: %s did not start; see %s" % (node.id, node.log_path))
            return 2
    timeline.event("cluster ready")

    history = History()
    stop = threading.Event()
    clients = [Client(i, cluster, history, random.Random(rng.random()), stop)
               for i in range(clients_n)]
    for c in clients:
        c.start()
    nemesis = Nemesis(cluster, proxy, timeline, rng, corrupt_wal)
    nemesis.history_now = history.now
    nemesis.hold(3)  # a little load before the first fault
    nemesis.run(seconds, skewed)
    stop.set()
    for c in clients:
        c.join()
    nemesis.watch()
    timeline.event("workload stopped: %d ops" % len(history.ops))
    time.sleep(2.5)  # server-side waits (consistency.timeout_ms) end before the final reads

    took, final, per_node = converge(cluster, proxy, timeline, converge_s)
    nemesis.watch()
    report = checkers.Report()
    if final is None:
        report.add("convergence", "replicas (reads or Merkle roots) differ %d s after heal"
                   % converge_s)
        final = per_node.get(cluster.nodes[0].id) or {}
    checkers.check_final(history.ops, final, report, kept_apart(cluster),
                         checkers.single_copy_before_corruption(history.ops, nemesis.corrupted))
    checkers.check_read_your_writes(history.ops, report)
    for node_id, code, _ in cluster.exits:
        report.add("process_exit", "%s exited with code %s" % (node_id, code))
    for message in nemesis.rollbacks:
        report.add("identity_reuse", message)

    with open(os.path.join(run_dir, "history.jsonl"), "w") as f:
        for op in history.ops:
            f.write(json.dumps(op, sort_keys=True) + "\n")
    with open(os.path.join(run_dir, "final.json"), "w") as f:
        json.dump(final, f, sort_keys=True, indent=1)
    with open(os.path.join(run_dir, "violations.txt"), "w") as f:
        for name in sorted(report.violations):
            for message in report.violations[name]:
                f.write("%s: %s\n" % (name, message))
        for message in report.kept_apart:
            f.write("kept_apart (not a violation): %s\n" % message)
        for message in report.lost_with_disk:
            f.write("lost_with_disk (not a violation): %s\n" % message)

    outcomes = {o: sum(1 for op in history.ops if op["outcome"] == o)
                for o in ("ok", "failed", "indeterminate")}
    lost = report.count("counter_lost", "set_add_lost", "set_remove_lost", "register_lost")
    ryw = report.count("ryw_counter", "ryw_set", "ryw_register")
    phantoms = report.count("counter_phantom", "set_phantom", "register_phantom")
    failed_checks = sorted(k for k, v in report.violations.items() if v)
    summary = ("chaos: seed=%d seconds=%d ops=%d ok=%d failed=%d indeterminate=%d faults=%d "
               "lost=%d kept_apart=%d lost_with_disk=%d rywviolations=%d phantoms=%d exits=%d "
               "converged_after=%s result=%s log=%s"
               % (seed, seconds, len(history.ops), outcomes["ok"], outcomes["failed"],
                  outcomes["indeterminate"], timeline.faults, lost, len(report.kept_apart),
                  len(report.lost_with_disk), ryw, phantoms,
                  len(cluster.exits), "%.2fs" % took if took is not None else "never",
                  "FAIL(%s)" % ",".join(failed_checks) if failed_checks else "pass", run_dir))
    by_checker = ", ".join("%s=%d" % (k, len(v)) for k, v in sorted(report.violations.items())
                           if v) or "none"
    with open(os.path.join(run_dir, "summary.txt"), "w") as f:
        f.write(summary + "\nviolations by checker: " + by_checker +
                "\nwall time: %.1f s\n" % (time.monotonic() - timeline.t0))
    print(summary)
    if failed_checks:
        print("chaos: violations by checker: %s (details: %s/violations.txt)"
              % (by_checker, run_dir))
    else:
        if os.environ.get("CHAOS_KEEP_DATA") != "1":
            shutil.rmtree(os.path.join(run_dir, "data"), ignore_errors=True)
    return 1 if failed_checks else 0


if __name__ == "__main__":
    sys.exit(main())
