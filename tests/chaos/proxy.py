"""A userspace TCP fault proxy: one listener per directed node-to-node link.

Node A's config names peer B at the listen port of link (A, B), which forwards to B's peer
listener; so every connection A opens to B runs through link (A, B) and every connection B
opens to A through link (B, A). Bytes flow both ways on each connection; a link's state is
kept per direction of data:

  * "out": bytes from the connecting node (A) to the accepting node (B);
  * "back": bytes from B to A.

Faults (set from any thread; the proxy's asyncio loop runs in a thread of its own):
  * delay: one-way latency per direction, applied to every chunk (order kept);
  * hold: a direction's bytes stop (queued, not read further once the queue is full) until
    released — a blackhole as TCP sees it: nothing is lost, everything stalls;
  * reset: every open connection of the link is closed at once (both sides see EOF/RST).

The orchestrator speaks of node pairs; Proxy.cut(src, dst) stops data flowing from src to
dst on both links between them (as "out" of (src, dst) and "back" of (dst, src)).
"""

import asyncio
import socket
import threading
import time

CHUNK = 65536
MAX_QUEUED = 64  # chunks queued per direction before the reader stops reading


class _Direction:
    """Delay and hold of one direction of one link."""

    def __init__(self):
        self.delay_s = 0.0
        self.held = False


class _Link:
    def __init__(self, src, dst, listen_port, target_port):
        self.src, self.dst = src, dst
        self.listen_port, self.target_port = listen_port, target_port
        self.out, self.back = _Direction(), _Direction()
        self.conns = set()  # (reader-side writer, upstream writer) pairs
        self.server = None
        self.accepted = 0


def free_port():
    """A loopback port that was free a moment ago (bind to 0, read, close)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proxy:
    """Thread safety: the fault setters may be called from any thread."""

    def __init__(self):
        self.links = {}  # (src, dst) -> _Link
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="proxy", daemon=True)
        self.thread.start()
        self.wakeups = asyncio.Event()

    def _call(self, coro_fn, *args):
        return asyncio.run_coroutine_threadsafe(coro_fn(*args), self.loop).result(timeout=10)

    def add_link(self, src, dst, target_port):
        """Starts the listener of link (src, dst) and returns its port."""
        port = free_port()
        link = _Link(src, dst, port, target_port)
        self._call(self._listen, link)
        self.links[(src, dst)] = link
        return port

    async def _listen(self, link):
        link.server = await asyncio.start_server(
            lambda r, w: self._accept(link, r, w), "127.0.0.1", link.listen_port)

    async def _accept(self, link, client_r, client_w):
        link.accepted += 1
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", link.target_port)
        except OSError:
            client_w.close()
            return
        pair = (client_w, up_w)
        link.conns.add(pair)
        try:
            await asyncio.gather(self._pump(client_r, up_w, link.out),
                                 self._pump(up_r, client_w, link.back),
                                 return_exceptions=True)
        finally:
            link.conns.discard(pair)
            for w in pair:
                w.close()

    async def _pump(self, reader, writer, direction):
        """Copies reader to writer, each chunk leaving `delay` after it arrived, none while
        the direction is held. Closing either end ends both pumps of the connection."""
        queue = asyncio.Queue(MAX_QUEUED)

        async def send():
            while True:
                due, data = await queue.get()
                if data is None:
                    return
                while direction.held or time.monotonic() < due:
                    await asyncio.sleep(0.05 if direction.held else due - time.monotonic())
                if writer.is_closing():
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.ensure_future(send())
        try:
            while not sender.done():
                data = await reader.read(CHUNK)
                if not data:
                    break
                await queue.put((time.monotonic() + direction.delay_s, data))
        except (OSError, ConnectionError):
            pass
        finally:
            try:
                queue.put_nowait((0, None))
            except asyncio.QueueFull:
                sender.cancel()
            try:
                await sender
            except (asyncio.CancelledError, OSError, ConnectionError):
                pass
            writer.close()

    # -- faults (any thread) ----------------------------------------------------------------

    def _directions(self, src, dst):
        """The two directions that carry data from src to dst."""
        return [self.links[(src, dst)].out, self.links[(dst, src)].back]

    def set_delay(self, src, dst, seconds):
        for d in self._directions(src, dst):
            d.delay_s = seconds

    def cut(self, src, dst, held=True):
        for d in self._directions(src, dst):
            d.held = held

    def reset(self, a, b):
        """Closes every open connection between a and b (both links); returns how many."""
        return self._call(self._reset, [self.links[(a, b)], self.links[(b, a)]])

    async def _reset(self, links):
        n = 0
        for link in links:
            for pair in list(link.conns):
                for w in pair:
                    try:
                        sock = w.get_extra_info("socket")
                        if sock is not None:  # RST rather than FIN
                            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                            b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    except OSError:
                        pass
                    w.close()
                n += 1
        return n

    def heal(self):
        """Releases every hold (delays stay)."""
        for link in self.links.values():
            link.out.held = link.back.held = False

    def close(self):
        async def stop():
            for link in self.links.values():
                if link.server is not None:
                    link.server.close()
                for pair in list(link.conns):
                    for w in pair:
                        w.close()
        try:
            self._call(stop)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
