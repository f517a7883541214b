"""The steady flow: orders start at a fixed rate while one client lists /pending and another approves;
how long from the start of an order until /pending lists it and /events announces it."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from queue import Queue
from typing import Any

import requests
from tqdm import tqdm

from bench.approvals.common import PHASE_TIMEOUT_SECONDS, post_order, thread_pool, timed
from bench.measure import HTTP_TIMEOUT_SECONDS, Controller, call, in_background, percentile_ms
from harness.emulator import Emulator


@dataclass
class Flow:
    """When each order was sent, announced on /events, first listed and approved (time.perf_counter seconds)."""

    started: dict[str, float] = field(default_factory=dict)
    announced: dict[str, float] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)
    polls: list[float] = field(default_factory=list)
    approved: list[float] = field(default_factory=list)
    approvals: Queue = field(default_factory=Queue)


def _start_one(outputs: dict[str, str], flow: Flow) -> None:
    sent = time.perf_counter()
    flow.started[post_order(outputs)["name"]] = sent


def start_steadily(outputs: dict[str, str], args: argparse.Namespace, flow: Flow) -> None:
    """Send order i at first + i/rate; a pool sends them, so a slow answer does not delay the next start."""
    with thread_pool(args.start_concurrency) as pool:
        first = time.perf_counter()
        sending = []
        for index in range(args.steady_orders):
            time.sleep(max(0.0, first + index / args.rate - time.perf_counter()))
            sending.append(pool.submit(_start_one, outputs, flow))
        for sent in sending:
            sent.result(timeout=PHASE_TIMEOUT_SECONDS)


def _poll(url: str, orders: int, flow: Flow, pause: float) -> None:
    """List /pending back to back; note when each id is first listed and hand it to the approver."""
    deadline = time.monotonic() + PHASE_TIMEOUT_SECONDS
    while len(flow.seen) < orders:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(flow.seen)} of {orders} orders reached /pending")
        rows = timed(flow.polls, call, "GET", f"{url}/pending?limit=1000")["pending"]
        answered = time.perf_counter()
        for row in rows:
            if row["id"] not in flow.seen:
                flow.seen[row["id"]] = answered
                flow.approvals.put(row["id"])
        time.sleep(pause)


def listen(url: str, orders: int, flow: Flow) -> None:
    """Read /events (reconnecting as a browser does) and note when each request's `stored` event arrives."""
    deadline, last_id = time.monotonic() + PHASE_TIMEOUT_SECONDS, None
    while len(flow.announced) < orders and time.monotonic() < deadline:
        headers = {"Last-Event-ID": last_id} if last_id else {}
        with requests.get(f"{url}/events", stream=True, timeout=HTTP_TIMEOUT_SECONDS, headers=headers) as stream:
            frame: dict[str, str] = {}
            for line in stream.iter_lines(decode_unicode=True):
                if line:
                    field_name, _, value = line.partition(": ")
                    frame[field_name] = value
                    continue
                if frame.get("event") == "stored":
                    flow.announced.setdefault(json.loads(frame["data"])["id"], time.perf_counter())
                last_id, frame = frame.get("id", last_id), {}
                if len(flow.announced) >= orders:
                    return


def _approve_seen(url: str, orders: int, flow: Flow, bar: tqdm) -> None:
    for _ in range(orders):
        call("POST", f"{url}/approve/{flow.approvals.get(timeout=PHASE_TIMEOUT_SECONDS)}")
        flow.approved.append(time.perf_counter())
        bar.update()


def steady_flow(env: Emulator, ctl: Controller, args: argparse.Namespace) -> dict[str, Any]:
    """Start orders at a steady rate while polling and approving; return latency and end-to-end rate."""
    flow = Flow()
    with tqdm(total=args.steady_orders, desc="steady flow: start, list, approve", unit="order") as bar:
        listening = in_background(listen, ctl.url, args.steady_orders, flow)
        time.sleep(0.5)  # the stream is open before the first order starts
        polling = in_background(_poll, ctl.url, args.steady_orders, flow, args.poll_interval_ms / 1000)
        approving = in_background(_approve_seen, ctl.url, args.steady_orders, flow, bar)
        start_steadily(env.outputs, args, flow)
        polling.result(timeout=PHASE_TIMEOUT_SECONDS)
        approving.result(timeout=PHASE_TIMEOUT_SECONDS)
        listening.result(timeout=PHASE_TIMEOUT_SECONDS)
    latencies = [flow.seen[name] - sent for name, sent in flow.started.items()]
    to_event = [flow.announced[name] - sent for name, sent in flow.started.items()]
    first_start = min(flow.started.values())
    return {
        "start_to_pending_p50_ms": percentile_ms(latencies, 50),
        "start_to_pending_p95_ms": percentile_ms(latencies, 95),
        "start_to_pending_max_ms": round(max(latencies) * 1000, 2),
        "start_to_event_p50_ms": percentile_ms(to_event, 50),
        "start_to_event_p95_ms": percentile_ms(to_event, 95),
        "pending_poll_p50_ms": percentile_ms(flow.polls, 50),
        "steady_orders": args.steady_orders,
        "steady_offered_orders_per_second": args.rate,
        "steady_approvals_per_second": round(args.steady_orders / (max(flow.approved) - first_start), 2),
    }
