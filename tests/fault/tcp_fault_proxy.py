#!/usr/bin/env python3
"""A loopback TCP proxy whose behaviour a test switches at run time.

    tcp_fault_proxy.py --listen PORT --target HOST:PORT --control PORT

Modes, set by one line on the control port (answered with "ok <mode>"):
  pass       forward both ways at once
  cut        close every connection and refuse new ones (the listener is
             closed, so connecting fails like a server that is down)
  stall      accept connections but forward nothing; bytes wait in the proxy
             (a partition where packets are retransmitted until it heals)
  delay N    forward every chunk N ms after it arrived, in order
  count      answer "ok <connections accepted so far>"

Only the Python 3 standard library; loopback only. "ready" is printed on
stdout once both ports listen.
"""

import argparse
import asyncio
import sys
import time


class proxy_state:
    def __init__(self, listen_port, target_host, target_port):
        self.listen_port = listen_port
        self.target_host = target_host
        self.target_port = target_port
        self.mode = "pass"
        self.delay_ms = 0
        self.changed = asyncio.Event()
        self.connections = set()   # (client_writer, upstream_writer)
        self.server = None
        self.accepted = 0

    def set_mode(self, mode, delay_ms=0):
        self.mode = mode
        self.delay_ms = delay_ms
        # Wake every pump so it re-reads the mode; a fresh event for the next change.
        self.changed.set()
        self.changed = asyncio.Event()


async def pump(state, reader, writer, peer_writer):
    """Copies reader -> writer, honouring stall and delay."""
    queue = asyncio.Queue()

    async def read_side():
        try:
            while True:
                data = await reader.read(65536)
                await queue.put((time.monotonic(), data))
                if not data:
                    return
        except (ConnectionError, OSError, asyncio.CancelledError):
            await queue.put((time.monotonic(), b""))

    reading = asyncio.ensure_future(read_side())
    try:
        while True:
            arrived, data = await queue.get()
            while state.mode == "stall":
                await state.changed.wait()
            if state.mode == "delay" and state.delay_ms > 0:
                wait = arrived + state.delay_ms / 1000.0 - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        reading.cancel()
        for w in (writer, peer_writer):
            try:
                w.close()
            except Exception:
                pass


async def handle_client(state, client_reader, client_writer):
    state.accepted += 1
    try:
        up_reader, up_writer = await asyncio.open_connection(state.target_host,
                                                             state.target_port)
    except OSError:
        client_writer.close()
        return
    pair = (client_writer, up_writer)
    state.connections.add(pair)
    try:
        await asyncio.gather(pump(state, client_reader, up_writer, client_writer),
                             pump(state, up_reader, client_writer, up_writer))
    finally:
        state.connections.discard(pair)


async def open_listener(state):
    state.server = await asyncio.start_server(
        lambda r, w: handle_client(state, r, w), "127.0.0.1", state.listen_port,
        reuse_address=True)


async def close_listener(state):
    if state.server is not None:
        state.server.close()
        await state.server.wait_closed()
        state.server = None


async def apply_command(state, line):
    words = line.split()
    if not words:
        return "error empty command"
    cmd = words[0]
    if cmd == "count":
        return "ok %d" % state.accepted
    if cmd not in ("pass", "cut", "stall", "delay"):
        return "error unknown command " + cmd
    delay_ms = int(words[1]) if cmd == "delay" and len(words) > 1 else 0
    if cmd == "cut":
        state.set_mode("cut")
        await close_listener(state)
        for client_writer, up_writer in list(state.connections):
            for w in (client_writer, up_writer):
                try:
                    w.transport.abort()
                except Exception:
                    pass
        state.connections.clear()
        return "ok cut"
    if state.server is None:
        await open_listener(state)
    state.set_mode(cmd, delay_ms)
    return "ok " + cmd


async def handle_control(state, reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            answer = await apply_command(state, line.decode().strip())
            writer.write((answer + "\n").encode())
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--control", type=int, required=True)
    args = parser.parse_args()
    host, port = args.target.rsplit(":", 1)
    state = proxy_state(args.listen, host, int(port))
    await open_listener(state)
    control = await asyncio.start_server(lambda r, w: handle_control(state, r, w),
                                         "127.0.0.1", args.control, reuse_address=True)
    print("ready", flush=True)
    async with control:
        await control.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
