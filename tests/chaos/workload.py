"""Clients over every CRDT type, each op recorded as ok, failed or indeterminate.

Each client is one thread, sequential (one request at a time, a fresh connection per request),
with a session: it sends the X-Session-Token it holds with every request and merges the one it
gets back (pointwise maximum of the version vectors), so every op it issues is meant to be
causally after every op of its session that answered before it. It moves between nodes (and
regions) carrying the token. After several answers in a row saying the node has not applied
the token (503), it gives the session up and starts a new one: a token can name writes that a
node will not see soon (a partition, or writes a clock-skewed node had rejected), and the
checkers treat each session separately.

Outcomes (the checkers rely on these meanings):
  ok             2xx: acknowledged.
  failed         the op did not take effect: a 4xx answer; connection refused (nothing was
                 sent); 503 on an `eventual` write (only the token wait, which runs before the
                 op, answers 503 then).
  indeterminate  may or may not have taken effect: a timeout or a connection error after the
                 request was sent, 504 (the write stays applied, replicas did not confirm in
                 time), any other 5xx.

Keys (all under "chaos-"): counters incremented and decremented (pn_counter made by the
first increment), typed g_counter and pn_counter (created with their type by one client,
then updated by all), sets (or_set made by the first add; typed 2p_set, g_set, lww_set),
registers (lww_register, mv_register) and graphs (vertex adds). Set elements, graph
vertices and register values are unique per op (client and op number), so a value in a
final state names the op that wrote it.
"""

import http.client
import json
import random
import socket
import threading
import time

TOKEN_HEADER = "X-Session-Token"
REQUEST_TIMEOUT_S = 6.0  # above consistency.timeout_ms (2 s) plus a token wait (2 s)
RESET_AFTER_503 = 3

COUNTER_KEYS = ["chaos-cnt-pn-%d" % i for i in range(3)]
TYPED_COUNTERS = {"chaos-cnt-g-%d" % i: "g_counter" for i in range(4)}
TYPED_COUNTERS.update({"chaos-cnt-tpn-%d" % i: "pn_counter" for i in range(2)})
SET_KEYS = {"chaos-set-or-%d" % i: None for i in range(3)}  # None: made by the first add
SET_KEYS.update({"chaos-set-2p-%d" % i: "2p_set" for i in range(2)})
SET_KEYS.update({"chaos-set-g-%d" % i: "g_set" for i in range(2)})
SET_KEYS.update({"chaos-set-lww-%d" % i: "lww_set" for i in range(2)})
REGISTER_KEYS = {"chaos-reg-lww-%d" % i: "lww_register" for i in range(3)}
REGISTER_KEYS.update({"chaos-reg-mv-%d" % i: "mv_register" for i in range(2)})
GRAPH_KEYS = ["chaos-graph-%d" % i for i in range(2)]

FAMILY_PATH = {"counter": "counters", "set": "sets", "register": "registers", "graph": "graphs"}


def family_of(key):
    kind = key.split("-")[1]
    return {"cnt": "counter", "set": "set", "reg": "register", "graph": "graph"}[kind]


def all_keys():
    return (COUNTER_KEYS + list(TYPED_COUNTERS) + list(SET_KEYS) + list(REGISTER_KEYS) +
            GRAPH_KEYS)


def parse_token(text):
    out = {}
    for entry in (text or "").split(","):
        if ":" in entry:
            replica, seq = entry.split(":", 1)
            try:
                out[replica] = int(seq)
            except ValueError:
                pass
    return out


def format_token(vv):
    return ",".join("%s:%d" % (r, s) for r, s in sorted(vv.items()))


class History:
    """Every op, in completion order. Thread safety: append() under a lock."""

    def __init__(self):
        self.ops = []
        self._lock = threading.Lock()
        self.t0 = time.monotonic()

    def now(self):
        return round(time.monotonic() - self.t0, 4)

    def append(self, op):
        with self._lock:
            op["index"] = len(self.ops)
            self.ops.append(op)


class Client(threading.Thread):
    def __init__(self, cid, cluster, history, rng, stop, consistency_share=0.2):
        super().__init__(name="client-%d" % cid, daemon=True)
        self.cid, self.cluster, self.history, self.rng, self.stop_event = (
            cid, cluster, history, rng, stop)
        self.consistency_share = consistency_share
        self.node = cluster.nodes[cid % len(cluster.nodes)]
        self.token = {}
        self.session = 0
        self.seq = 0
        self.unavailable_in_a_row = 0
        self.mine = {}  # key -> own elements/vertices added ok and not removed
        self.created = set()

    # -- one request -------------------------------------------------------------------------

    def request(self, method, path, body=None):
        """(outcome, status, json, note): outcome 'ok' | 'failed' | 'indeterminate' | None
        (an HTTP error status, classified by the caller); note: the token received (ok) or
        what went wrong."""
        conn = http.client.HTTPConnection("127.0.0.1", self.node.http, timeout=REQUEST_TIMEOUT_S)
        try:
            try:
                conn.connect()
            except (ConnectionRefusedError, socket.timeout, OSError) as e:
                return "failed", None, None, "connect: %s" % type(e).__name__
            headers = {}
            if self.token:
                headers[TOKEN_HEADER] = format_token(self.token)
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException) as e:
                return "indeterminate", None, None, type(e).__name__
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            if 200 <= resp.status < 300:
                token = resp.getheader(TOKEN_HEADER) or ""
                for r, s in parse_token(token).items():
                    self.token[r] = max(self.token.get(r, 0), s)
                return "ok", resp.status, parsed, token
            note = parsed.get("error") if isinstance(parsed, dict) else None
            return None, resp.status, parsed, note
        finally:
            conn.close()

    def run_op(self, kind, key, method, path, body=None, level=None, write=True, **fields):
        if level:
            path += "?consistency=" + level
        op = {"client": self.cid, "session": self.session, "node": self.node.id, "kind": kind,
              "key": key, "level": level or "eventual", "token_sent": format_token(self.token),
              "invoke": self.history.now()}
        op.update(fields)
        outcome, status, parsed, note = self.request(method, path, body)
        if outcome is None:  # an HTTP error status
            if 400 <= status < 500:
                outcome = "failed"
            elif status == 503 and (not write or op["level"] == "eventual"):
                outcome = "failed"  # refused before the op ran (session token wait)
            else:
                outcome = "indeterminate"
        op.update(complete=self.history.now(), outcome=outcome, status=status)
        if outcome == "ok":
            op["token_received"] = note
        elif note:
            op["error"] = note
        if outcome == "ok" and not write:
            op["result"] = parsed
        self.history.append(op)
        if status is None and outcome == "failed":  # nothing listens: fail over
            self.node = self.rng.choice(self.cluster.nodes)
        if status == 503:
            self.unavailable_in_a_row += 1
            if self.unavailable_in_a_row >= RESET_AFTER_503:
                self.new_session()
        else:
            self.unavailable_in_a_row = 0
        return op

    def new_session(self):
        self.token = {}
        self.session += 1
        self.unavailable_in_a_row = 0
        self.mine = {}

    def level(self):
        if self.rng.random() >= self.consistency_share:
            return None
        return self.rng.choice(["local_quorum", "quorum"])

    def value(self):
        self.seq += 1
        return "c%d-%d" % (self.cid, self.seq)

    # -- ops ---------------------------------------------------------------------------------

    def counter_op(self):
        key = self.rng.choice(COUNTER_KEYS + list(TYPED_COUNTERS))
        typ = TYPED_COUNTERS.get(key)
        if typ and key not in self.created:
            self.created.add(key)
            self.run_op("create", key, "POST", "/crdt/counters/" + key, {"type": typ},
                        level=self.level(), type=typ)
            return
        dec = typ != "g_counter" and self.rng.random() < 0.3
        amount = self.rng.randint(1, 5)
        self.run_op("decrement" if dec else "increment", key, "POST",
                    "/crdt/counters/%s/%s" % (key, "decrement" if dec else "increment"),
                    {"value": amount}, level=self.level(), amount=amount)

    def set_op(self):
        key = self.rng.choice(list(SET_KEYS))
        typ = SET_KEYS[key]
        if typ and key not in self.created:
            self.created.add(key)
            self.run_op("create", key, "POST", "/crdt/sets/" + key, {"type": typ},
                        level=self.level(), type=typ)
            return
        mine = self.mine.setdefault(key, [])
        if typ != "g_set" and mine and self.rng.random() < 0.3:
            element = mine.pop(self.rng.randrange(len(mine)))
            self.run_op("remove", key, "POST", "/crdt/sets/%s/remove" % key,
                        {"element": element}, level=self.level(), element=element)
            return
        element = self.value()
        op = self.run_op("add", key, "POST", "/crdt/sets/%s/add" % key, {"element": element},
                         level=self.level(), element=element)
        if op["outcome"] == "ok":
            mine.append(element)

    def register_op(self):
        key = self.rng.choice(list(REGISTER_KEYS))
        value = self.value()
        self.run_op("write", key, "POST", "/crdt/registers/" + key,
                    {"type": REGISTER_KEYS[key], "value": value}, level=self.level(), value=value)

    def graph_op(self):
        key = self.rng.choice(GRAPH_KEYS)
        vertex = self.value()
        self.run_op("add", key, "POST", "/crdt/graphs/%s/vertices" % key, {"vertex": vertex},
                    level=self.level(), element=vertex)

    def read_op(self):
        key = self.rng.choice(all_keys())
        level = "quorum" if self.rng.random() < 0.1 else None
        self.run_op("read", key, "GET", "/crdt/%s/%s" % (FAMILY_PATH[family_of(key)], key),
                    level=level, write=False)

    def step(self):
        if self.rng.random() < 0.12:  # move, carrying the token (often to another region)
            self.node = self.rng.choice(self.cluster.nodes)
        r = self.rng.random()
        if r < 0.22:
            self.counter_op()
        elif r < 0.47:
            self.set_op()
        elif r < 0.62:
            self.register_op()
        elif r < 0.67:
            self.graph_op()
        else:
            self.read_op()

    def run(self):
        while not self.stop_event.is_set():
            self.step()
