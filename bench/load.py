"""The load generator: terminal and dispatcher stream clients, an open-loop reporter, counting.

One asyncio process with the `websockets` client and a small HTTP/1.1 client (bench.http). The same client measures our
system (REST report → Daphne/Channels/Redis → terminal) and the bare pipeline (bench.bare).
"""

import asyncio
import json
import random
import time
from collections import defaultdict

import websockets

from bench.common import say, summary_ms
from bench.http import HttpClient

now = time.perf_counter


class Run:
    """Everything observed in one measurement, keyed by ticket id."""

    def __init__(self):
        self.sent = {}            # report index → send time
        self.report_errors = []   # (index, status or exception)
        self.ticket_report = {}   # ticket id → report index (from the REST responses)
        self.ticket_subcenter = {}  # ticket id → sub-center id (from the REST responses)
        self.issued_at = defaultdict(list)   # ticket id → [(seq, time, terminal sub-center)]
        self.confirmed_at = {}    # ticket id → time ticket.confirmed seen by its dispatcher
        self.response_at = {}     # report index → time the REST answer arrived
        self.action_errors = []
        self.confirm_errors = []
        self.overdue = 0


class Client:
    """One stream connection. role: "terminal" (one sub-center) or "dispatcher"."""

    def __init__(self, hub, url, key, role, subcenter_id=None, index=0, bare=False):
        self.hub, self.url, self.key, self.role = hub, url, key, role
        self.subcenter_id, self.index, self.bare = subcenter_id, index, bare
        self.ws = None
        self.last_seq = 0
        self.seen = set()
        self.duplicate_frames = 0
        self.out_of_order = 0
        self.foreign = 0  # a ticket.issued for another sub-center (must never happen)
        self.tasks = []

    async def connect(self, since=None, heartbeat=True):
        headers = {} if self.bare else {"Authorization": f"Token {self.key}"}
        url = self.url + (f"?since={since}" if since is not None else "")
        self.ws = await websockets.connect(url, additional_headers=headers, compression=None,
                                           max_size=None, ping_interval=None, open_timeout=30)
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
        assert hello["type"] == "hello", hello
        if not self.bare:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if frame["type"] == "resync_required":
                frame = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            assert frame["type"] == "snapshot", frame
            self.last_seq = frame["seq"] if since is None else since
        self.tasks.append(asyncio.create_task(self.read()))
        if heartbeat and self.role == "terminal" and not self.bare:
            self.tasks.append(asyncio.create_task(self.heartbeat()))
        return hello

    async def heartbeat(self):
        await asyncio.sleep(random.uniform(0, self.hub.heartbeat_s))
        while True:
            await self.ws.send('{"type":"heartbeat","audio_armed":true,"page_visible":true}')
            await asyncio.sleep(self.hub.heartbeat_s)

    async def read(self):
        try:
            async for raw in self.ws:
                t = now()
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "event":
                    seq = frame["seq"]
                    if seq in self.seen:
                        self.duplicate_frames += 1
                        continue
                    if seq < self.last_seq:
                        self.out_of_order += 1
                    self.seen.add(seq)
                    self.last_seq = max(self.last_seq, seq)
                    await self.hub.on_event(self, frame, t)
                elif kind == "result" and not frame.get("ok"):
                    self.hub.run.action_errors.append(frame)
                elif kind == "error":
                    self.hub.run.action_errors.append(frame)
        except websockets.ConnectionClosed:
            pass

    async def close(self):
        for task in self.tasks:
            task.cancel()
        if self.ws is not None:
            await self.ws.close()


class Hub:
    """The load generator: its clients, the reporter, the dispatchers' confirmations."""

    def __init__(self, *, http_urls, dispatcher_keys, roundtrip=True, heartbeat_s=15, bare=False):
        self.http_urls = http_urls
        self.dispatcher_keys = dispatcher_keys
        self.roundtrip, self.bare = roundtrip, bare
        self.heartbeat_s = heartbeat_s
        self.terminals, self.dispatchers = [], []
        self.run = Run()
        self.http = HttpClient(timeout=30)
        self.background = set()

    async def connect_all(self, clients, concurrency=40):
        """Connect clients, at most `concurrency` handshakes at a time; return seconds taken."""
        gate = asyncio.Semaphore(concurrency)

        async def one(client):
            async with gate:
                for attempt in range(5):
                    try:
                        return await client.connect()
                    except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake):
                        await asyncio.sleep(0.2 * (attempt + 1))
                return await client.connect()

        t0 = now()
        await asyncio.gather(*(one(c) for c in clients))
        return now() - t0

    async def on_event(self, client, frame, t):
        name, ticket = frame["name"], frame.get("ticket_id")
        run = self.run
        if client.role == "terminal":
            if name == "ticket.issued":
                sub = (frame.get("payload") or {}).get("ticket", {}).get("subcenter", {}).get("id", client.subcenter_id)
                if sub != client.subcenter_id:
                    client.foreign += 1
                run.issued_at[ticket].append((frame["seq"], t, client.subcenter_id))
                if self.roundtrip and len(run.issued_at[ticket]) == 1:
                    await client.ws.send(json.dumps({"type": "delivered", "ticket": ticket, "ref": f"d{ticket}"}))
                    await client.ws.send(json.dumps({"type": "accept", "ticket": ticket, "ref": f"a{ticket}"}))
            return
        # dispatcher streams: ticket i is confirmed by dispatcher i % n
        mine = ticket is not None and ticket % len(self.dispatchers) == client.index
        if name == "ticket.overdue":
            if mine:
                run.overdue += 1
        elif name == "ticket.accepted" and mine and self.roundtrip:
            task = asyncio.create_task(self.confirm(client.index, ticket))
            self.background.add(task)
            task.add_done_callback(self.background.discard)
        elif name == "ticket.confirmed" and mine:
            run.confirmed_at.setdefault(ticket, t)

    async def confirm(self, index, ticket):
        url = self.http_urls[index % len(self.http_urls)] + f"/api/v1/tickets/{ticket}/confirm"
        try:
            response = await self.http.post(url, json={}, headers={"Authorization": f"Token {self.dispatcher_keys[index]}"})
            if response.status_code != 200:
                self.run.confirm_errors.append((ticket, response.status_code, response.text[:200]))
        except Exception as problem:  # noqa: BLE001 — counted, reported
            self.run.confirm_errors.append((ticket, repr(problem)))

    async def report(self, i, request):
        """request(i) → (method, url, kwargs). Records send time, tickets, errors."""
        method, url, kwargs = request(i)
        run = self.run
        run.sent[i] = now()
        try:
            response = await self.http.request(method, url, **kwargs)
            run.response_at[i] = now()
            if response.status_code not in (200, 201):
                run.report_errors.append((i, response.status_code, response.text[:300]))
                return
            for ticket in response.json()["tickets"]:
                run.ticket_report[ticket["id"]] = i
                run.ticket_subcenter[ticket["id"]] = ticket["subcenter"]["id"]
        except Exception as problem:  # noqa: BLE001
            run.report_errors.append((i, repr(problem)))

    async def open_loop(self, request, rate, duration_s):
        """Send reports at a fixed rate whatever the answers (open loop); wait for the answers."""
        count = int(rate * duration_s)
        start = now() + 0.05
        tasks = []
        lag = 0.0
        for i in range(count):
            delay = start + i / rate - now()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                lag = max(lag, -delay)
            tasks.append(asyncio.create_task(self.report(i, request)))
        await asyncio.gather(*tasks)
        return {"reports": count, "send_lag_max_ms": round(lag * 1000, 1), "send_window_s": round(now() - start, 2)}

    async def drain(self, timeout_s):
        """Wait until every ticket has arrived (and been confirmed), or timeout."""
        deadline = now() + timeout_s
        run = self.run
        while now() < deadline:
            issued = all(t in run.issued_at for t in run.ticket_report)
            confirmed = not self.roundtrip or all(t in run.confirmed_at for t in run.ticket_report)
            if issued and confirmed:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # late duplicates

    def measure(self):
        """Latency and counting for the current run."""
        run = self.run
        expected = set(run.ticket_report)
        issued_latency, roundtrip = [], []
        lost, duplicated, misrouted = [], 0, 0
        for ticket in expected:
            arrivals = [a for a in run.issued_at.get(ticket, []) if a[2] == run.ticket_subcenter[ticket]]
            if not arrivals:
                lost.append(ticket)
                continue
            if len({a[0] for a in arrivals}) > 1 or len(arrivals) > 1:
                duplicated += 1
            sent = run.sent[run.ticket_report[ticket]]
            issued_latency.append(min(a[1] for a in arrivals) - sent)
            if ticket in run.confirmed_at:
                roundtrip.append(run.confirmed_at[ticket] - sent)
        for ticket, arrivals in run.issued_at.items():
            misrouted += sum(1 for a in arrivals if ticket in run.ticket_subcenter and a[2] != run.ticket_subcenter[ticket])
        rest = [run.response_at[i] - run.sent[i] for i in run.response_at]
        unconfirmed = len(expected) - len(roundtrip) - len(lost) if self.roundtrip else None
        clients = self.terminals + self.dispatchers
        return {
            "incidents": len(run.sent), "tickets": len(expected),
            "issued": summary_ms(issued_latency),
            "roundtrip_confirmed": summary_ms(roundtrip) if self.roundtrip else None,
            "rest_report": summary_ms(rest),
            "lost": len(lost), "lost_tickets": sorted(lost)[:20], "duplicated": duplicated,
            "unconfirmed": unconfirmed, "misrouted": misrouted,
            "duplicate_frames_dropped_by_seq": sum(c.duplicate_frames for c in clients),
            "out_of_order_frames": sum(c.out_of_order for c in clients),
            "foreign_tickets": sum(c.foreign for c in clients),
            "report_errors": len(run.report_errors), "report_error_samples": [str(e) for e in run.report_errors[:5]],
            "action_errors": len(run.action_errors), "action_error_samples": [str(e) for e in run.action_errors[:5]],
            "confirm_errors": len(run.confirm_errors), "confirm_error_samples": [str(e) for e in run.confirm_errors[:5]],
            "overdue_events": run.overdue,
        }

    def errors(self, m):
        return m["lost"] + m["duplicated"] + m["report_errors"] + m["action_errors"] + m["confirm_errors"] + m["misrouted"] + (m["unconfirmed"] or 0)

    async def step(self, request, rate, duration_s, drain_s=20):
        self.run = Run()
        say(f"  rate {rate}/s for {duration_s} s ({'our system' if not self.bare else 'bare'})")
        sending = await self.open_loop(request, rate, duration_s)
        await self.drain(drain_s)
        m = self.measure()
        return {"rate_per_s": rate, "duration_s": duration_s, **sending, **m}

    async def close(self):
        await asyncio.gather(*(c.close() for c in self.terminals + self.dispatchers), return_exceptions=True)
        await self.http.aclose()
