"""Real geods processes on loopback: configs, start, kill -9, restart, clock skew, WAL damage.

Five nodes in three regions (us-east-1, us-east-2, eu-west-1, eu-west-2, ap-south-1) by
default. Every node listens on free loopback ports; its peers are named at the proxy's link
ports (proxy.py), so every node-to-node byte crosses the proxy. Node-to-node links use
mutual TLS as `make start-cluster` does (a CA and one certificate per node, made with
openssl under the run directory).

Every geods is started by the main thread with PR_SET_PDEATHSIG=SIGKILL, so no node outlives
the suite even if the suite is killed (CTest's timeout, Ctrl-C); Cluster.close() kills the
rest by pid.
"""

import ctypes
import glob
import json
import os
import signal
import subprocess
import threading
import time
import http.client

from proxy import free_port

LAYOUT = [("us-east-1", "us-east"), ("us-east-2", "us-east"), ("eu-west-1", "eu-west"),
          ("eu-west-2", "eu-west"), ("ap-south-1", "ap-south")]
FAKETIME_LIBS = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                 "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
                 "/usr/lib/faketime/libfaketime.so.1"]
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def faketime_lib():
    for path in FAKETIME_LIBS:
        if os.path.exists(path):
            return path
    return None


def http_json(port, method, path, body=None, timeout=10.0, headers=None):
    """(status, json or None, response headers); raises OSError/http.client errors."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return resp.status, parsed, dict(resp.getheaders())
    finally:
        conn.close()


class Node:
    def __init__(self, node_id, region, run_dir):
        self.id, self.region = node_id, region
        self.http, self.grpc, self.resp, self.peer = (free_port() for _ in range(4))
        self.data_dir = os.path.join(run_dir, "data", node_id)
        self.config_path = os.path.join(run_dir, "config", node_id + ".yaml")
        self.log_path = os.path.join(run_dir, "nodes", node_id + ".log")
        self.proc = None
        self.expected_down = True  # a dead process is a failure only while this is False
        self.skew = None  # faketime offset of the running process, e.g. "+120s"
        self.starts = 0


class Cluster:
    """Thread safety: start/kill/restart from the main thread only (PDEATHSIG follows the
    thread that forked); unexpected_exits() may be read from any thread."""

    def __init__(self, geods, run_dir, proxy, timeline, extra_yaml=""):
        self.geods, self.run_dir, self.proxy, self.timeline = geods, run_dir, proxy, timeline
        self.extra_yaml = extra_yaml
        self.nodes = [Node(i, r, run_dir) for i, r in LAYOUT]
        self.by_id = {n.id: n for n in self.nodes}
        self.exits = []  # (node id, exit code, time) of processes that died unexpectedly
        self._lock = threading.Lock()
        for sub in ("data", "config", "nodes", "tls"):
            os.makedirs(os.path.join(run_dir, sub), exist_ok=True)

    def regions(self):
        out = {}
        for n in self.nodes:
            out.setdefault(n.region, []).append(n.id)
        return out

    # -- set-up ------------------------------------------------------------------------------

    def make_tls(self):
        tls = os.path.join(self.run_dir, "tls")
        ca_key, ca = os.path.join(tls, "ca.key"), os.path.join(tls, "ca.pem")
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": True}
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30", "-subj",
                        "/CN=chaos CA", "-keyout", ca_key, "-out", ca], **quiet)
        for n in self.nodes:
            key, csr, pem = (os.path.join(tls, n.id + s) for s in (".key", ".csr", ".pem"))
            ext = os.path.join(tls, n.id + ".ext")
            with open(ext, "w") as f:
                f.write("subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\n"
                        "extendedKeyUsage=serverAuth,clientAuth\n" % n.id)
            subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=" + n.id,
                            "-keyout", key, "-out", csr], **quiet)
            subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                            "-CAcreateserial", "-days", "30", "-out", pem, "-extfile", ext],
                           **quiet)

    def write_configs(self):
        """Peers are named at the proxy's ports: link (self, peer)."""
        tls = os.path.join(self.run_dir, "tls")
        for n in self.nodes:
            lines = [
                "node: {id: %s, region: %s, data_dir: %s}" % (n.id, n.region, n.data_dir),
                'listen: {http: "127.0.0.1:%d", grpc: "127.0.0.1:%d", resp: "127.0.0.1:%d", '
                'peer: "127.0.0.1:%d"}' % (n.http, n.grpc, n.resp, n.peer),
                "cluster:", "  name: chaos", "  peers:"]
            for p in self.nodes:
                if p is not n:
                    port = self.proxy.links[(n.id, p.id)].listen_port
                    lines.append('    - {id: %s, region: %s, grpc: "127.0.0.1:%d"}'
                                 % (p.id, p.region, port))
            lines += ["security:",
                      "  tls: {ca_file: %s/ca.pem, cert_file: %s/%s.pem, key_file: %s/%s.key}"
                      % (tls, tls, n.id, tls, n.id),
                      "  backup_dir: %s" % os.path.join(self.run_dir, "backups"),
                      self.extra_yaml]
            with open(n.config_path, "w") as f:
                f.write("\n".join(lines) + "\n")

    def add_links(self):
        for a in self.nodes:
            for b in self.nodes:
                if a is not b:
                    self.proxy.add_link(a.id, b.id, b.peer)

    # -- processes ---------------------------------------------------------------------------

    def start(self, node, skew=None, ready_timeout=60.0):
        """Starts node (skew: a faketime offset such as "+120s"); True once /readyz is 200."""
        env = dict(os.environ)
        if skew:
            lib = faketime_lib()
            if lib is None:
                raise RuntimeError("libfaketime is not installed (Debian package faketime)")
            env.update(LD_PRELOAD=lib, FAKETIME=skew, FAKETIME_DONT_FAKE_MONOTONIC="1",
                       FAKETIME_NO_CACHE="1")
        os.makedirs(node.data_dir, exist_ok=True)
        with open(node.log_path, "a") as log:
            log.write("==== chaos: start %d of %s%s at %.3f ====\n" %
                      (node.starts + 1, node.id, " skew " + skew if skew else "", time.time()))
            log.flush()
            node.proc = subprocess.Popen([self.geods, "--config", node.config_path], env=env,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.run_dir,
                                         preexec_fn=_die_with_parent)
        node.starts += 1
        node.skew = skew
        node.expected_down = False
        return self.wait_ready(node, ready_timeout)

    def wait_ready(self, node, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if node.proc.poll() is not None:
                return False
            try:
                if http_json(node.http, "GET", "/readyz", timeout=1.0)[0] == 200:
                    return True
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        return False

    def kill9(self, node):
        node.expected_down = True
        if node.proc is not None and node.proc.poll() is None:
            node.proc.send_signal(signal.SIGKILL)
            node.proc.wait()

    def stop(self, node, timeout=15.0):
        node.expected_down = True
        if node.proc is None or node.proc.poll() is not None:
            return
        node.proc.terminate()
        try:
            node.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            node.proc.kill()
            node.proc.wait()

    def running(self, node):
        return node.proc is not None and node.proc.poll() is None

    def check_exits(self):
        """Records processes that died while they should run; returns the new ones."""
        new = []
        with self._lock:
            for n in self.nodes:
                if n.expected_down or n.proc is None:
                    continue
                code = n.proc.poll()
                if code is not None:
                    n.expected_down = True
                    new.append((n.id, code, time.time()))
            self.exits += new
        return new

    def close(self):
        for n in self.nodes:
            n.expected_down = True
            if n.proc is not None and n.proc.poll() is None:
                n.proc.kill()
                try:
                    n.proc.wait(10)
                except subprocess.TimeoutExpired:
                    pass

    # -- disk faults -------------------------------------------------------------------------

    def corrupt_newest_wal(self, node, rng):
        """Flips one byte in the newest non-empty *.log of the node's RocksDB directory (the
        node must be down). Returns a description for the timeline."""
        logs = [p for p in glob.glob(os.path.join(node.data_dir, "**", "*.log"), recursive=True)
                if os.path.basename(p) != "LOG" and os.path.getsize(p) > 0]
        if not logs:
            return "no non-empty WAL file"
        newest = max(logs, key=os.path.getmtime)
        size = os.path.getsize(newest)
        # Past the first block's header, within what was written: the middle of the file.
        offset = rng.randrange(size // 2, size) if size > 64 else size - 1
        with open(newest, "r+b") as f:
            f.seek(offset)
            b = f.read(1)
            f.seek(offset)
            f.write(bytes([b[0] ^ 0x5A]))
        return "flipped byte %d of %d in %s" % (offset, size, os.path.relpath(newest, node.data_dir))
