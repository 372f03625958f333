"""Minimal HTTP/1.1 server on asyncio streams for the test stand-ins.

One coroutine per connection (no thread per connection), keep-alive, a
scripted-fault table shared by both stand-ins, and two control endpoints:

  POST /__control  {"script": [rule, ...], "latency_ms": N, "reset": true}
  GET  /__stats    {"total": N, "connections": N, "peak_concurrent": N, "per_path": {...},
                    "per_route": {...}, "rules": [...]}
  GET  /__last     the app's summary of the last request it handled
  ANY  /__echo     ?status=N&delay_ms=N: echoes method, query, headers, body
  GET  /__blob     ?bytes=N[&chunked=1]: N bytes (chunked: no Content-Length)

A rule is {"match": "<substring>", "times": N, "respond": "<outcome>", ...}:
it fires for requests whose match text (prompt or object key) contains
`match` (missing = every request), at most `times` times (missing = always),
optionally only for one "method". Extra fields are outcome parameters.
One outcome is shared by both stand-ins: raw [status, body | bytes N,
content_type, chunked] answers exactly that (hostile-input tests: HTML error pages,
empty or huge bodies, a JSON error of the wrong shape).
Python 3 standard library only.
"""

import time
import argparse
import asyncio
import json
import os
import resource
import sys
import urllib.parse


class Request:
    def __init__(self, method, target, version, headers, body):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # lower-case name -> value
        self.body = body
        parsed = urllib.parse.urlsplit(target)
        self.path = parsed.path
        self.query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)


class Response:
    def __init__(self, status, body=b"", content_type=None, headers=None, reason=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.headers = list(headers or [])
        if content_type is not None:
            self.headers.append(("Content-Type", content_type))
        self.reason = reason
        self.omit_body = False  # HEAD: headers only, Content-Length kept
        self.chunked = False  # no Content-Length: the size shows only while reading


def json_response(status, obj, content_type="application/json; charset=UTF-8", headers=None):
    return Response(status, json.dumps(obj).encode("utf-8"), content_type, headers)


REASONS = {
    200: "OK", 206: "Partial Content", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
    413: "Payload Too Large", 415: "Unsupported Media Type", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout", 544: "Database Timeout",
}


class Script:
    """The scripted-fault table and request counters."""

    def __init__(self):
        self.rules = []
        self.latency_ms = 0
        self.total = 0
        self.per_path = {}
        self.per_route = {}
        self.connections = 0
        self.active = 0
        self.peak_active = 0
        # Arrival times (time.monotonic(), seconds) of the last requests:
        # rates measured at the stand-in (the fleet-wide rate limit test).
        self.arrivals = []

    def count(self, request):
        self.total += 1
        self.arrivals.append(time.monotonic())
        del self.arrivals[:-1000]
        self.per_path[request.path] = self.per_path.get(request.path, 0) + 1
        route = request.method + " " + request.path
        self.per_route[route] = self.per_route.get(route, 0) + 1

    def pick(self, method, text):
        for rule in self.rules:
            if rule.get("times") is not None and rule["times"] <= 0:
                continue
            if rule.get("method") and rule["method"].upper() != method:
                continue
            if rule.get("match") and rule["match"] not in text:
                continue
            if rule.get("times") is not None:
                rule["times"] -= 1
            rule["fired"] = rule.get("fired", 0) + 1
            return rule
        return None

    def control(self, body):
        if body.get("reset"):
            self.rules = []
            self.latency_ms = 0
            self.total = 0
            self.per_path = {}
            self.per_route = {}
            self.connections = 0
            self.peak_active = 0
            self.arrivals = []
        if "script" in body:
            self.rules = [dict(r) for r in body["script"]]
        if "latency_ms" in body:
            self.latency_ms = int(body["latency_ms"])

    def stats(self):
        return {"total": self.total, "connections": self.connections,
                "peak_concurrent": self.peak_active,
                "per_path": self.per_path,
                "per_route": self.per_route,
                "arrivals": self.arrivals,
                "rules": [{"match": r.get("match"), "respond": r.get("respond"),
                           "fired": r.get("fired", 0)} for r in self.rules]}


class Disconnected(Exception):
    pass


async def wait_or_disconnect(reader, seconds):
    """Sleeps, but gives up early when the client closes the connection (so
    a scripted 'timeout' does not hold sockets long after the client left)."""
    if seconds <= 0:
        return
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while True:
        if reader.at_eof():
            raise Disconnected()
        left = end - loop.time()
        if left <= 0:
            return
        await asyncio.sleep(min(0.25, left))


class Server:
    """Routes control endpoints itself and everything else to `app`.

    The app provides: match_text(request) -> str, handle(request, rule) ->
    Response (may be a coroutine), last() -> dict, and optionally
    control(body) and extra_get(request) -> Response or None.
    """

    def __init__(self, app):
        self.app = app
        self.script = Script()

    async def serve(self, port, parent_pid=None, host="127.0.0.1"):
        raise_fd_limit()
        if parent_pid:
            asyncio.ensure_future(exit_with(parent_pid))
        server = await asyncio.start_server(self.connection, host, port,
                                            backlog=4096, limit=1 << 20)
        bound = server.sockets[0].getsockname()[1]
        print("ready" if port else "ready %d" % bound, flush=True)
        async with server:
            await server.serve_forever()

    async def connection(self, reader, writer):
        self.script.connections += 1
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    break
                response = await self.dispatch(request, reader)
                await write_response(writer, request, response)
                if (request.header("connection", "").lower() == "close"
                        or request.version == "HTTP/1.0"):
                    break
        except (Disconnected, ConnectionError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError):
            pass
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    async def dispatch(self, request, reader):
        if request.path == "/__control" and request.method == "POST":
            body = json.loads(request.body or b"{}")
            self.script.control(body)
            if hasattr(self.app, "control"):
                self.app.control(body)
            return json_response(200, {"ok": True})
        if request.path == "/__stats":
            return json_response(200, self.script.stats())
        if request.path == "/__last":
            return json_response(200, self.app.last())
        if request.path == "/__echo":
            # Diagnostics for client tests: status, delay and body on request.
            await wait_or_disconnect(reader, int(request.query.get("delay_ms", 0)) / 1000.0)
            return json_response(int(request.query.get("status", 200)), {
                "method": request.method, "query": request.query, "headers": request.headers,
                "body": request.body.decode("latin-1")})
        if request.path == "/__blob":
            size = int(request.query.get("bytes", 0))
            response = Response(200, b"x" * size, "application/octet-stream")
            response.chunked = request.query.get("chunked") == "1"
            return response
        if hasattr(self.app, "extra_get") and request.method == "GET":
            extra = self.app.extra_get(request)
            if extra is not None:
                return extra
        self.script.count(request)
        self.script.active += 1
        self.script.peak_active = max(self.script.peak_active, self.script.active)
        try:
            return await self.answer(request, reader)
        finally:
            self.script.active -= 1

    async def answer(self, request, reader):
        rule = self.script.pick(request.method, self.app.match_text(request))
        respond = rule.get("respond") if rule else None
        delay = self.script.latency_ms
        if respond == "slow":
            delay += int(rule.get("delay_ms", 2000))
        if respond == "timeout":
            delay += int(rule.get("sleep_ms", 600000))
        await wait_or_disconnect(reader, delay / 1000.0)
        if respond == "raw":
            return raw_response(rule)
        result = self.app.handle(request, rule)
        if asyncio.iscoroutine(result):
            result = await result
        return result


def raw_response(rule):
    """A reply of exactly the scripted status, body and Content-Type."""
    body = rule.get("body", "")
    if "bytes" in rule:
        body = b"x" * int(rule["bytes"])
    response = Response(int(rule.get("status", 200)), body,
                        rule.get("content_type", "application/json; charset=UTF-8"))
    response.chunked = bool(rule.get("chunked"))  # no Content-Length to check up front
    return response


async def read_request(reader):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(chunks)
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    return Request(method, target, version, headers, body)


async def write_response(writer, request, response):
    reason = response.reason or REASONS.get(response.status, "Status")
    lines = ["HTTP/1.1 %d %s" % (response.status, reason)]
    names = {name.lower() for name, _ in response.headers}
    lines += ["%s: %s" % (name, value) for name, value in response.headers]
    if response.chunked:
        lines.append("Transfer-Encoding: chunked")
    elif "content-length" not in names:
        lines.append("Content-Length: %d" % len(response.body))
    send_body = request.method != "HEAD" and not response.omit_body
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    if send_body and response.chunked:
        step = 64 * 1024
        for at in range(0, len(response.body), step):
            piece = response.body[at:at + step]
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
    elif send_body:
        writer.write(response.body)
    await writer.drain()


async def exit_with(pid):
    """Ends the process once `pid` is gone, so a crashed test leaves no server behind."""
    while True:
        await asyncio.sleep(1)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def common_arguments(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True,
                        help="port (0: any free port, printed as 'ready PORT')")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (loopback unless a container "
                             "network needs more: docker-compose.yml)")
    parser.add_argument("--latency-ms", type=int, default=0,
                        help="delay before every reply")
    parser.add_argument("--key", default=None, help="the only accepted API key")
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="exit when this process ends (tests pass their own pid)")
    return parser


def run(app, args):
    server = Server(app)
    server.script.latency_ms = args.latency_ms
    try:
        asyncio.run(server.serve(args.port, args.parent_pid, args.host))
    except KeyboardInterrupt:
        sys.exit(0)
