"""Resident memory of one Daphne process holding N idle authenticated stream connections."""

import asyncio

import websockets

from bench.common import rss_mb, say
from bench.load import now


async def idle_connections(port, pid, keys, n=2000, concurrency=40):
    url = f"ws://127.0.0.1:{port}/ws/v1/stream"
    sockets, failures = [], []
    gate = asyncio.Semaphore(concurrency)

    async def one(i):
        async with gate:
            for attempt in range(5):
                try:
                    ws = await websockets.connect(url, additional_headers={"Authorization": f"Token {keys[i % len(keys)]}"},
                                                  compression=None, ping_interval=None, open_timeout=30)
                    await asyncio.wait_for(ws.recv(), 30)  # hello
                    await asyncio.wait_for(ws.recv(), 30)  # snapshot
                    sockets.append(ws)
                    return
                except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake, websockets.ConnectionClosed) as e:
                    if attempt == 4:
                        failures.append(repr(e))
                    await asyncio.sleep(0.2 * (attempt + 1))

    first = await websockets.connect(url, additional_headers={"Authorization": f"Token {keys[0]}"}, compression=None,
                                     ping_interval=None)
    await first.recv()
    await first.recv()
    await asyncio.sleep(1)
    baseline = rss_mb(pid)
    t0 = now()
    await asyncio.gather(*(one(i) for i in range(1, n)))
    connect_s = now() - t0
    sockets.append(first)
    await asyncio.sleep(5)  # idle: let the process settle
    held = rss_mb(pid)
    open_count = sum(1 for ws in sockets if ws.state.name == "OPEN")
    result = {
        "idle_connections": open_count, "failures": len(failures), "failure_samples": failures[:5],
        "rss_mb": held["VmRSS"], "peak_rss_mb": held["VmHWM"], "baseline_rss_mb": baseline["VmRSS"],
        "kb_per_connection": round((held["VmRSS"] - baseline["VmRSS"]) * 1024 / max(open_count - 1, 1), 1),
        "connect_s": round(connect_s, 2), "connections_per_s": round((n - 1) / connect_s, 1),
    }
    say(f"memory: {open_count} idle connections, RSS {held['VmRSS']} MB (baseline {baseline['VmRSS']} MB)")
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return result
