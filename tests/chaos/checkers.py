"""Checkers over a recorded history (workload.py) and the converged final state.

Causality. An op B of a client is "causally after" an op A of the same client when both are
in the same session, A answered ok before B was invoked, and B was sent with the client's
merged token (which includes A's answer's token). The session-token contract (docs/API:
a request carrying a token is served only once the node applied everything it covers, and
a write's answer carries a token that covers it) makes B see A wherever B runs; these
checkers rely on that contract and on nothing weaker. Ops of different clients, or of
different sessions of one client, are treated as concurrent whatever their real-time order.

Final-state checks (after heal and convergence):
  counters    Σ ok increments − Σ (ok+indeterminate) decrements ≤ value
              ≤ Σ (ok+indeterminate) increments − Σ ok decrements.
  sets        an element whose add was ok is present, unless a remove of it was ok or
              indeterminate; an element whose add was ok and whose remove (causally after:
              same session) was ok is absent; no element that no op tried to add (graphs:
              vertices, adds only).
  registers   every value was written by an ok or indeterminate write; no value of an ok
              write W is in the final state when an ok write of the same key is causally
              after W (a later acknowledged write lost to an earlier one).
Read-your-writes (every ok read, against the reader's own session before it):
  counters    value ≥ Σ own ok increments of the key in the session − Σ every decrement
              of the key by anyone that was ok or indeterminate (whole run).
  sets        own ok adds present unless a remove of the element was attempted before the
              read answered (ok or indeterminate); own ok removes (of ok adds) absent.
  registers   no own ok value that an own later ok write of the key superseded.
"""

from collections import defaultdict

from workload import family_of

ATTEMPTED = ("ok", "indeterminate")


def _elements(family, state):
    if state is None:
        return set()
    if family == "graph":
        return set(state.get("vertices") or [])
    return set(state.get("elements") or [])


def _register_values(state):
    if state is None:
        return []
    if "values" in state:
        return list(state["values"] or [])
    return [state["value"]] if "value" in state else []


class Report:
    def __init__(self):
        self.violations = defaultdict(list)  # checker name -> messages
        # Acknowledged adds not in the winning state of a type conflict but in the loser's,
        # kept apart under /admin/lost (docs/durability.md): retrievable, not lost.
        self.kept_apart = []
        # Acknowledged writes missing that only their node held (consistency level eventual,
        # acknowledged in the seconds before that node's kill whose WAL was then corrupted):
        # a write acknowledged by one replica is as durable as that replica's disk.
        self.lost_with_disk = []

    def add(self, checker, message):
        self.violations[checker].append(message)

    def count(self, *checkers):
        return sum(len(self.violations[c]) for c in checkers)


def by_key(ops):
    out = defaultdict(list)
    for op in ops:
        out[op["key"]].append(op)
    return out


def _writes(ops):
    return [op for op in ops if op["kind"] != "read"]


# How long before a kill an eventual write may still have been held by its node alone.
SINGLE_COPY_WINDOW_S = 10.0


def single_copy_before_corruption(history_ops, corrupted):
    """Indexes of acknowledged eventual writes completed on a node within SINGLE_COPY_WINDOW_S
    before a kill after which its WAL was corrupted (corrupted: [(node id, kill time)])."""
    out = set()
    for node, killed_at in corrupted:
        for op in history_ops:
            if (op["node"] == node and op["kind"] != "read" and op["outcome"] == "ok"
                    and op.get("level", "eventual") == "eventual"
                    and killed_at - SINGLE_COPY_WINDOW_S <= op["complete"] <= killed_at):
                out.add(op["index"])
    return out


def check_final(history_ops, final, report, kept=None, single_copy=None):
    """final: key -> state (the JSON of the converged read) or None if absent; kept: key ->
    elements of the states a type conflict kept apart (GET /admin/lost on any node)."""
    kept = kept or {}
    single_copy = single_copy or set()
    ops_by_key = by_key(_writes(history_ops))
    for key in sorted(set(ops_by_key) | set(final)):
        family = family_of(key)
        ops, state = ops_by_key.get(key, []), final.get(key)
        if family == "counter":
            _final_counter(key, ops, state, report, single_copy)
        elif family in ("set", "graph"):
            _final_set(key, family, ops, state, report, kept.get(key, set()), single_copy)
        else:
            _final_register(key, ops, state, report)


def _final_counter(key, ops, state, report, single_copy=frozenset()):
    def total(kind, outcomes, skip=frozenset()):
        return sum(op["amount"] for op in ops
                   if op["kind"] == kind and op["outcome"] in outcomes and op["index"] not in skip)

    lo = total("increment", ("ok",)) - total("decrement", ATTEMPTED)
    lo_disk = total("increment", ("ok",), single_copy) - total("decrement", ATTEMPTED)
    hi = total("increment", ATTEMPTED) - total("decrement", ("ok",))
    value = state.get("value") if state else 0
    if state is None and lo <= 0 <= hi:
        return
    if not isinstance(value, int):
        report.add("counter_lost", "%s: value %r is not a number" % (key, value))
    elif lo_disk <= value < lo:
        report.lost_with_disk.append("%s: value %d < %d acknowledged, >= %d without the "
                                     "increments only a corrupted node held" % (key, value, lo, lo_disk))
    elif value < lo:
        report.add("counter_lost", "%s (%s): value %d < %d acknowledged (attempted at most %d)"
                   % (key, state.get("type") if state else "absent", value, lo, hi))
    elif value > hi:
        report.add("counter_phantom", "%s: value %d > %d attempted" % (key, value, hi))


def _final_set(key, family, ops, state, report, kept, single_copy=frozenset()):
    present = _elements(family, state)
    adds = {op["element"]: op for op in ops if op["kind"] == "add"}
    removes = defaultdict(list)
    for op in ops:
        if op["kind"] == "remove":
            removes[op["element"]].append(op)
    for element, add in adds.items():
        if add["outcome"] != "ok":
            continue
        rems = removes.get(element, [])
        attempted = [r for r in rems if r["outcome"] in ATTEMPTED]
        if not attempted and element not in present and element in kept:
            report.kept_apart.append("%s: %s (op %d on %s)" % (key, element, add["index"],
                                                              add["node"]))
        elif not attempted and element not in present and add["index"] in single_copy:
            report.lost_with_disk.append("%s: %s (op %d on %s)" % (key, element, add["index"],
                                                                  add["node"]))
        elif not attempted and element not in present:
            report.add("set_add_lost", "%s: acknowledged add of %s (op %d on %s) missing"
                       % (key, element, add["index"], add["node"]))
        acked = [r for r in rems if r["outcome"] == "ok" and _causally_after(r, add)]
        if acked and element in present:
            report.add("set_remove_lost",
                       "%s: %s present after acknowledged remove (op %d on %s) causally after "
                       "its add (op %d on %s)" % (key, element, acked[0]["index"],
                                                  acked[0]["node"], add["index"], add["node"]))
    for element in sorted(present - set(adds)):
        report.add("set_phantom", "%s: %s was never added" % (key, element))


def _causally_after(later, earlier):
    return (later["client"] == earlier["client"] and later["session"] == earlier["session"]
            and earlier["outcome"] == "ok" and later["invoke"] >= earlier["complete"])


def _final_register(key, ops, state, report):
    writes = [op for op in ops if op["kind"] == "write"]
    by_value = {op["value"]: op for op in writes}
    for value in _register_values(state):
        w = by_value.get(value)
        if w is None or w["outcome"] not in ATTEMPTED:
            report.add("register_phantom", "%s: value %r was never written%s" %
                       (key, value, "" if w is None else " (its write %s)" % w["outcome"]))
            continue
        later = [o for o in writes if o["outcome"] == "ok" and o is not w
                 and _causally_after(o, w)]
        if later:
            report.add("register_lost",
                       "%s: final value %s (op %d on %s) though acknowledged write %s (op %d on "
                       "%s) is causally after it" % (key, value, w["index"], w["node"],
                                                     later[-1]["value"], later[-1]["index"],
                                                     later[-1]["node"]))


def check_read_your_writes(history_ops, report):
    decrements = defaultdict(int)  # key -> every decrement attempted (ok or indeterminate)
    for op in history_ops:
        if op["kind"] == "decrement" and op["outcome"] in ATTEMPTED:
            decrements[op["key"]] += op["amount"]
    sessions = defaultdict(list)
    for op in history_ops:
        sessions[(op["client"], op["session"])].append(op)
    for ops in sessions.values():
        ops.sort(key=lambda o: o["invoke"])  # one client: sequential
        for i, read in enumerate(ops):
            if read["kind"] != "read" or read["outcome"] != "ok":
                continue
            before = [o for o in ops[:i] if o["key"] == read["key"]]
            if before:
                _ryw_one(read, before, decrements, report)


def _ryw_one(read, before, decrements, report):
    key, state, family = read["key"], read.get("result"), family_of(read["key"])
    where = "%s: read op %d on %s" % (key, read["index"], read["node"])
    if family == "counter":
        own = sum(o["amount"] for o in before if o["kind"] == "increment" and o["outcome"] == "ok")
        floor = own - decrements[key]
        value = (state or {}).get("value", 0)
        if isinstance(value, int) and value < floor:
            report.add("ryw_counter", "%s returned %d < %d (own acknowledged increments %d)"
                       % (where, value, floor, own))
    elif family in ("set", "graph"):
        present = _elements(family, state)
        removed_tries = {o["element"] for o in before if o["kind"] == "remove"
                         and o["outcome"] in ATTEMPTED}
        acked_adds = {o["element"]: o for o in before if o["kind"] == "add" and o["outcome"] == "ok"}
        for element, add in acked_adds.items():
            if element not in removed_tries and element not in present:
                report.add("ryw_set", "%s misses own add of %s (op %d on %s)"
                           % (where, element, add["index"], add["node"]))
        for rem in before:
            if (rem["kind"] == "remove" and rem["outcome"] == "ok" and rem["element"] in present
                    and rem["element"] in acked_adds):
                report.add("ryw_set", "%s still has %s after own remove (op %d on %s)"
                           % (where, rem["element"], rem["index"], rem["node"]))
    else:
        writes = [o for o in before if o["kind"] == "write" and o["outcome"] == "ok"]
        superseded = {o["value"]: o for o in writes[:-1]}
        for value in _register_values(state):
            if value in superseded:
                report.add("ryw_register", "%s returned own %s (op %d) superseded by own %s "
                           "(op %d on %s)" % (where, value, superseded[value]["index"],
                                              writes[-1]["value"], writes[-1]["index"],
                                              writes[-1]["node"]))
