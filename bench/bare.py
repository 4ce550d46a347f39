"""The bare minimum: insert a row, commit, send one frame to one socket. One process.

    python -m bench.bare PORT  (DATABASE_URL in the environment: the bench database)

A `websockets` server (no compression) holds the terminals' sockets (ws://…/?terminal=K) and
answers a plain HTTP GET /report?terminal=K: INSERT … RETURNING id (autocommit, a small
psycopg pool), send {"type":"event","name":"ticket.issued",…} to terminal K, reply with the
ticket as JSON. Nothing else: no auth, no routing, no event log, no channel layer.
"""

import asyncio
import json
import sys
from urllib.parse import parse_qs, urlsplit

from psycopg_pool import AsyncConnectionPool
from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.http11 import Response

SCHEMA = """CREATE TABLE IF NOT EXISTS bench_bare (
    id bigserial PRIMARY KEY, terminal integer NOT NULL, created timestamptz NOT NULL DEFAULT now())"""


def terminal_of(path):
    return int(parse_qs(urlsplit(path).query).get("terminal", ["-1"])[0])


async def main(port, dsn):
    sockets = {}
    pool = AsyncConnectionPool(dsn, min_size=4, max_size=4, kwargs={"autocommit": True}, open=False)
    await pool.open()
    async with pool.connection() as conn:
        await conn.execute(SCHEMA)

    async def process_request(connection, request):
        if not request.path.startswith("/report"):
            return None  # a WebSocket handshake
        terminal = terminal_of(request.path)
        async with pool.connection() as conn:
            cur = await conn.execute("INSERT INTO bench_bare (terminal) VALUES (%s) RETURNING id", [terminal])
            (row_id,) = await cur.fetchone()
        ws = sockets.get(terminal)
        if ws is not None:
            await ws.send(json.dumps({"type": "event", "seq": row_id, "name": "ticket.issued", "ticket_id": row_id,
                                      "payload": {"ticket": {"id": row_id, "subcenter": {"id": terminal}}}}))
        body = json.dumps({"tickets": [{"id": row_id, "subcenter": {"id": terminal}}]}).encode()
        return Response(201, "Created", Headers({"Content-Type": "application/json",
                                                 "Content-Length": str(len(body))}), body)

    async def handler(ws):
        terminal = terminal_of(ws.request.path)
        sockets[terminal] = ws
        await ws.send('{"type":"hello"}')
        try:
            await ws.wait_closed()
        finally:
            if sockets.get(terminal) is ws:
                del sockets[terminal]

    async with serve(handler, "127.0.0.1", port, process_request=process_request, compression=None,
                     ping_interval=None, max_queue=None):
        await asyncio.Future()


if __name__ == "__main__":
    import os
    asyncio.run(main(int(sys.argv[1]), os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)))
