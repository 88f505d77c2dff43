"""A TCP proxy for outage tests: it forwards to a server until told to fail, then heals.

The tests put it between the service and the shared PostgreSQL server, which they must never
stop. ``stop("refuse")`` is a stopped database: every open connection is cut (RST) and new ones
are refused. ``stop("blackhole")`` is a network that drops everything: open connections stay open
but nothing crosses them, and new ones are accepted and then hear nothing. ``start()`` heals: in
refuse mode new connections are forwarded again; after a black hole the held bytes are delivered,
as TCP would retransmit them once the network is back. Standard library only, threads.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator

CHUNK_BYTES = 65_536
CONNECT_TIMEOUT_S = 5.0
MODES = ("refuse", "blackhole")


def _cut(sock: socket.socket, *, reset: bool = True) -> None:
    """Close, with a reset as a dying server's kernel would send unless ``reset`` is False.

    ``shutdown`` first, because closing a socket does not wake a thread blocked reading it.
    """
    if reset:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    """Listens on 127.0.0.1 (a free port, or ``port``) and forwards to ``target``."""

    def __init__(self, target_host: str, target_port: int, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self._lock = threading.Lock()
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = False
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self.mode = "up"
        self.accepted = 0
        self._listen(port)

    # -- control -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    def stop(self, mode: str = "refuse") -> None:
        assert mode in MODES, mode
        assert self.mode == "up", f"already stopped ({self.mode})"
        with self._lock:
            self.mode = mode
            if mode == "blackhole":
                self._flowing.clear()
                return
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, set()
        if listener is not None:
            _cut(listener, reset=False)  # shutdown wakes the accepting thread, and frees the port
        for sock in connections:
            _cut(sock)

    def start(self) -> None:
        with self._lock:
            mode, self.mode = self.mode, "up"
        if mode == "refuse":
            self._listen(self._port)
        self._flowing.set()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, set()
        self._flowing.set()
        if listener is not None:
            _cut(listener, reset=False)
        for sock in connections:
            _cut(sock)
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def down(self, mode: str = "refuse") -> Iterator[None]:
        self.stop(mode)
        try:
            yield
        finally:
            self.start()

    # -- forwarding --------------------------------------------------------------------------

    def _listen(self, port: int) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        self._port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        self._spawn(self._accept_loop, listener)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed: stopped in refuse mode, or closed
            with self._lock:
                if self._closed or self._listener is not listener:
                    _cut(client)
                    continue
                self._connections.add(client)
                self.accepted += 1
            self._spawn(self._connect, client)

    def _connect(self, client: socket.socket) -> None:
        self._flowing.wait()  # a black hole: the new connection hears nothing until healed
        try:
            upstream = socket.create_connection(self.target, timeout=CONNECT_TIMEOUT_S)
        except OSError:
            self._drop(client)
            return
        upstream.settimeout(None)
        # Without these, Nagle's algorithm and delayed ACKs add ~40 ms to each round trip.
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            if client not in self._connections:
                _cut(upstream)
                return
            self._connections.add(upstream)
        self._spawn(self._pump, client, upstream)
        self._spawn(self._pump, upstream, client)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        while True:
            try:
                data = source.recv(CHUNK_BYTES)
            except OSError:
                data = b""
            if data:
                self._flowing.wait()  # held, not lost, while the network is down
            with self._lock:
                alive = source in self._connections and target in self._connections
            if not data or not alive:
                self._drop(source, target, reset=False)
                return
            try:
                target.sendall(data)
            except OSError:
                self._drop(source, target)
                return

    def _drop(self, *socks: socket.socket, reset: bool = True) -> None:
        with self._lock:
            for sock in socks:
                self._connections.discard(sock)
        for sock in socks:
            _cut(sock, reset=reset)
