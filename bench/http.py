"""A small HTTP/1.1 client with keep-alive connections: the load generator's.

httpx spent more of the shared two cores than the servers it measured (its pool checks every
connection on each request), so the load generator speaks HTTP/1.1 itself, to our system and
to the bare pipeline alike.
"""

import asyncio
import json
from collections import defaultdict
from urllib.parse import urlsplit


class Response:
    def __init__(self, status_code, headers, content):
        self.status_code, self.headers, self.content = status_code, headers, content

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


class HttpClient:
    def __init__(self, timeout=30.0):
        self.timeout = timeout
        self.idle = defaultdict(list)  # (host, port) → [(reader, writer)]
        self.open = set()

    async def request(self, method, url, *, json=None, headers=None):
        parts = urlsplit(url)
        address = (parts.hostname, parts.port or 80)
        body = b"" if json is None else _json_bytes(json)
        head = [f"{method} {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1", f"Host: {parts.netloc}"]
        if method != "GET":  # a GET has no body (the bare pipeline's server refuses one)
            head.append(f"Content-Length: {len(body)}")
        if json is not None:
            head.append("Content-Type: application/json")
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        message = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        reused = bool(self.idle[address])
        connection = self.idle[address].pop() if reused else await self._connect(address)
        try:
            response, keep = await asyncio.wait_for(self._exchange(connection, message), self.timeout)
        except (asyncio.IncompleteReadError, ConnectionError) as problem:
            self._close(connection)
            if not reused or getattr(problem, "partial", b"") != b"":
                raise
            # The server had closed this idle connection before reading the request: send it anew.
            connection = await self._connect(address)
            try:
                response, keep = await asyncio.wait_for(self._exchange(connection, message), self.timeout)
            except BaseException:
                self._close(connection)
                raise
        except BaseException:
            self._close(connection)
            raise
        if keep:
            self.idle[address].append(connection)
        else:
            self._close(connection)
        return response

    async def post(self, url, *, json=None, headers=None):
        return await self.request("POST", url, json=json, headers=headers)

    async def get(self, url, *, headers=None):
        return await self.request("GET", url, headers=headers)

    async def _connect(self, address):
        connection = await asyncio.open_connection(*address)
        self.open.add(connection)
        return connection

    def _close(self, connection):
        self.open.discard(connection)
        connection[1].close()

    async def _exchange(self, connection, message):
        reader, writer = connection
        writer.write(message)
        status_line, *lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            content = await _read_chunked(reader)
        else:
            content = await reader.readexactly(int(headers.get("content-length", 0)))
        keep = headers.get("connection", "").lower() != "close"
        return Response(status, headers, content), keep

    async def aclose(self):
        for connection in list(self.open):
            self._close(connection)
        self.idle.clear()


async def _read_chunked(reader):
    chunks = []
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            await reader.readline()
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readline()


def _json_bytes(value):
    return json.dumps(value, separators=(",", ":")).encode()
