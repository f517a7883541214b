"""The drains: N requests wait in SQS, then one strategy approves them all (floor, serial, bulk, baseline),
each on a fresh emulator; approvals per second and AWS requests per approval."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.approvals.common import PHASE_TIMEOUT_SECONDS, aws_endpoint, post_order, thread_pool, timed
from bench.measure import AwsCallCounter, Controller, call, controller, percentile_ms
from harness.controllers import controller_config
from harness.emulator import Emulator, running_emulator

MODES = ("floor", "serial", "bulk", "baseline")
BULK_CHUNK = 100  # the most ids one bulk decision takes
CONTROLLER_SETTINGS: dict[str, dict[str, Any]] = {
    "serial": {},
    "bulk": {},
    # like the 2020 sample: no background work, one message per ReceiveMessage and per /pending
    "baseline": {"BACKGROUND": False, "PULL_BATCH_SIZE": 1, "PULL_MAX_BATCHES": 1},
}


def start_orders(outputs: dict[str, str], count: int, concurrency: int, label: str) -> float:
    """Start count orders through the API as fast as `concurrency` clients can; return orders per second."""
    began = time.perf_counter()
    with thread_pool(concurrency) as pool, tqdm(total=count, desc=f"{label}: start orders", unit="order") as bar:
        for _ in pool.map(lambda _: post_order(outputs), range(count), timeout=PHASE_TIMEOUT_SECONDS):
            bar.update()
    return count / (time.perf_counter() - began)


def wait_for_queue(env: Emulator, count: int, label: str) -> None:
    """Wait until count approval requests are visible in the queue, i.e. every execution waits for a person."""
    sqs, deadline = env.client("sqs"), time.monotonic() + PHASE_TIMEOUT_SECONDS
    with tqdm(total=count, desc=f"{label}: messages in queue", unit="msg") as bar:
        while bar.n < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {bar.n} of {count} approval requests reached the queue")
            attributes = sqs.get_queue_attributes(
                QueueUrl=env.outputs["approval_queue_url"], AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            bar.update(int(attributes["ApproximateNumberOfMessages"]) - bar.n)
            time.sleep(0.2)


@contextmanager
def filled_emulator(workdir: Path, label: str, args: argparse.Namespace) -> Iterator[tuple[Emulator, str, float]]:
    """A fresh emulator whose queue holds --orders approval requests: yield it, the AWS endpoint the
    controllers use (behind the latency proxy if asked) and the rate the orders started at."""
    with running_emulator(workdir) as env, aws_endpoint(env, args.aws_latency_ms) as endpoint:
        yield env, endpoint, fill_queue(env, label, args)


def fill_queue(env: Emulator, label: str, args: argparse.Namespace) -> float:
    """Start --orders orders and wait until each one's approval request is in the queue; return the rate
    they started at."""
    start_rate = start_orders(env.outputs, args.orders, args.start_concurrency, label)
    wait_for_queue(env, args.orders, label)
    return start_rate


def _approve_serially(url: str, durations: dict[str, list[float]], bar: tqdm) -> None:
    for row in timed(durations["pending"], call, "GET", f"{url}/pending?limit=1000")["pending"]:
        timed(durations["approve"], call, "POST", f"{url}/approve/{row['id']}")
        bar.update()


def _approve_in_bulk(url: str, durations: dict[str, list[float]], bar: tqdm) -> None:
    ids = [row["id"] for row in timed(durations["pending"], call, "GET", f"{url}/pending?limit=1000")["pending"]]
    for first in range(0, len(ids), BULK_CHUNK):
        answer = timed(durations["approve"], call, "POST", f"{url}/approve", {"ids": ids[first : first + BULK_CHUNK]})
        bar.update(answer["decided"])


def controller_drain(ctl: Controller, count: int, mode: str) -> dict[str, Any]:
    """Loop /pending and approve what it lists (one by one, or in bulk) until count are approved."""
    durations: dict[str, list[float]] = {"pending": [], "approve": []}
    step = _approve_in_bulk if mode == "bulk" else _approve_serially
    deadline = time.monotonic() + PHASE_TIMEOUT_SECONDS
    with tqdm(total=count, desc=f"{mode}: pull and approve", unit="approval") as bar:
        while bar.n < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {bar.n} of {count} requests were approved")
            step(ctl.url, durations, bar)
    return {
        "pending_calls": len(durations["pending"]),
        "seconds_in_pending": round(sum(durations["pending"]), 3),
        "seconds_in_approve": round(sum(durations["approve"]), 3),
        "approve_p50_ms": percentile_ms(durations["approve"], 50),
    }


def floor_drain(counter: AwsCallCounter, clients: dict[str, Any], queue_url: str, count: int) -> dict[str, Any]:
    """The least any controller can do: receive 10, SendTaskSuccess each, delete the 10; no HTTP, no database."""
    approved, deadline = 0, time.monotonic() + PHASE_TIMEOUT_SECONDS
    with tqdm(total=count, desc="floor: receive and approve", unit="approval") as bar:
        while approved < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {approved} of {count} requests were approved")
            messages = clients["sqs"].receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            for message in messages:
                token = json.loads(message["Body"])["TaskToken"]
                clients["stepfunctions"].send_task_success(taskToken=token, output='{"status": "APPROVED"}')
            if messages:
                entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
                clients["sqs"].delete_message_batch(QueueUrl=queue_url, Entries=entries)
            approved += len(messages)
            bar.update(len(messages))
    return {}


def _requests_of(counter: AwsCallCounter, count: int, elapsed: float) -> dict[str, Any]:
    return {
        "approvals_per_second": round(count / elapsed, 2),
        "controller_requests_per_approval": round(sum(counter.sends.values()) / count, 3),
        "controller_requests_by_operation": dict(sorted(counter.sends.items())),
        "controller_retries": counter.retries(),
        "seconds_in_aws_by_operation": {op: round(seconds, 3) for op, seconds in sorted(counter.seconds.items())},
    }


def drain(mode: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """On a fresh emulator: fill the queue with N requests, then time approving them all the mode's way.

    The controller starts only once the queue is full, so the clock covers its pulling as well as
    its deciding, as the floor's does.
    """
    with filled_emulator(workdir / mode, mode, args) as (env, endpoint, start_rate):
        queue = env.outputs["approval_queue_url"]
        if mode == "floor":
            clients = {service: env.client(service, endpoint) for service in ("sqs", "stepfunctions")}
            counter = AwsCallCounter(clients)
            began = time.perf_counter()
            timings = floor_drain(counter, clients, queue, args.orders)
        else:
            config = controller_config(
                env, queue, workdir / f"{mode}.sqlite3", AWS_ENDPOINT_URL=endpoint, **CONTROLLER_SETTINGS[mode]
            )
            began = time.perf_counter()  # the controller's start is part of the work: it pulls from its first moment
            with controller(config) as ctl:
                counter = ctl.counter
                timings = controller_drain(ctl, args.orders, mode)
        elapsed = time.perf_counter() - began
    return {**_requests_of(counter, args.orders, elapsed), **timings, "orders_started_per_second": round(start_rate, 2)}


def drains(workdir: Path, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Run every mode --rounds times, each on a fresh emulator, the order rotating each round; keep medians."""
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    for round_number in range(args.rounds):
        order_of_modes = MODES[round_number % len(MODES) :] + MODES[: round_number % len(MODES)]
        for mode in order_of_modes:
            runs[mode].append(drain(mode, workdir / f"round-{round_number}", args))
    return {mode: _median_run(results) for mode, results in runs.items()}


def _median_run(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the run with the median rate (the upper one of an even count)."""
    return sorted(results, key=lambda result: result["approvals_per_second"])[len(results) // 2]
