"""A TCP proxy that adds network round-trip time between loopback clients and loopback servers.

Each forwarded segment is held for ``RTT/2`` from the moment it was read, in each direction,
and released at that time (deadlines are absolute, so bytes in flight are not serialised:
pipelined segments overlap exactly as on a long wire). A new connection also pays its TCP
handshake: nothing the client sends reaches the server before ``accept + RTT``, so the first
request of a connection completes ``2 RTT`` after ``connect()``, as on a real network.

Runs in its own process (so its event loop competes with nobody's GIL) and is driven over
stdin/stdout, one line per command::

    $ python -m benchmarks.latency --rtt-ms 50
    route 127.0.0.1:5000 127.0.0.1        # upstream, address to listen on (port chosen)
    listening 127.0.0.1:40123             # the answer
    (stdin closed)                        # the proxy stops

Only loopback addresses (127.0.0.0/8) are accepted, as upstream and as listen address. The
proxy stops by itself after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import sys

#: Bytes read per segment; a writer more than QUEUE segments behind pauses its reader.
SEGMENT = 256 * 1024
QUEUE = 256


def loopback_address(text: str) -> tuple[str, int]:
    """``"127.0.0.2:5000"`` -> ("127.0.0.2", 5000); anything off 127.0.0.0/8 is refused."""
    host, sep, port = text.rpartition(":")
    host = host if sep else text
    if ipaddress.ip_address(host) not in ipaddress.ip_network("127.0.0.0/8"):
        raise ValueError(f"{text!r} is not a loopback (127.0.0.0/8) address")
    return host, int(port) if sep else 0


class Route:
    """Listen on ``bind`` and forward every connection to ``upstream`` with delay."""

    def __init__(self, upstream: tuple[str, int], rtt: float) -> None:
        self.upstream = upstream
        self.rtt = rtt
        self.connections = 0

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        self.connections += 1
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            return
        half = self.rtt / 2
        # Client -> server: after the handshake (accept + RTT), then half a round trip.
        up = self._pump(client_r, server_w, half, accepted + self.rtt)
        down = self._pump(server_r, client_w, half, 0.0)
        try:
            await asyncio.gather(up, down)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for writer in (client_w, server_w):
                writer.close()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        delay: float,
        not_before: float,
    ) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUE)

        async def read() -> None:
            while True:
                try:
                    data = await reader.read(SEGMENT)
                except OSError:
                    data = b""
                await queue.put((max(loop.time(), not_before) + delay, data))
                if not data:
                    return

        async def write() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof() and not writer.is_closing():
                        with contextlib.suppress(OSError):
                            writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        reading = asyncio.ensure_future(read())
        try:
            await write()
        finally:
            reading.cancel()


async def serve(rtt: float, max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    servers = []
    deadline = loop.time() + max_seconds
    while loop.time() < deadline:
        try:
            line = await asyncio.wait_for(stdin.readline(), deadline - loop.time())
        except TimeoutError:
            break
        if not line:
            break  # the harness closed our stdin (or died)
        words = line.decode().split()
        if len(words) != 3 or words[0] != "route":
            print(f"error: expected 'route UPSTREAM BIND', got {line!r}", flush=True)
            continue
        try:
            upstream = loopback_address(words[1])
            bind_host, _ = loopback_address(words[2])
        except ValueError as exc:
            print(f"error: {exc}", flush=True)
            continue
        route = Route(upstream, rtt)
        server = await asyncio.start_server(route.handle, bind_host, 0, backlog=256)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        print(f"listening {bind_host}:{port}", flush=True)
    for server in servers:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-ms", type=float, default=50.0, help="round-trip time to add")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="stop after this")
    args = parser.parse_args()
    asyncio.run(serve(args.rtt_ms / 1000.0, args.max_seconds))


if __name__ == "__main__":
    main()
