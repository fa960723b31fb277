"""A TCP link the tests can cut: a loopback forwarder that stops passing bytes on demand.

Cut, it behaves as a dead network path, not as a closed port: connections stay open, new
ones are accepted, and nothing arrives either way.  Restored, every connection flows again.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading


class Link:
    def __init__(self, target_port: int):
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._up = threading.Event()
        self._up.set()
        self._closed = False
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        self._up.clear()

    def restore(self) -> None:
        self._up.set()

    def close(self) -> None:
        self._closed = True
        self._up.set()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        self._up.wait()  # a connection made while cut waits, like a SYN on a dead path
        try:
            if self._closed:
                raise OSError("link closed")
            server = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            client.close()
            return
        self._sockets += [client, server]
        self._pump(client, server)

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peer = {a: b, b: a}
        try:  # select() on a socket closed meanwhile raises ValueError
            while not self._closed:
                self._up.wait()
                ready, _, _ = select.select([a, b], [], [], 0.2)
                if not self._up.is_set():
                    continue  # cut after select: leave the bytes where they are
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peer[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()
