"""Measure what one approval costs: throughput, start-to-pending latency, AWS requests, Lambda overhead,
/pending at scale.

Everything runs on this machine: the bench starts its own emulator process and serves its own
controllers over HTTP in threads, then stops them however the run ends.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import platform
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from queue import Queue
from tempfile import TemporaryDirectory
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/approvals.py` from the repo root

import requests
from tqdm import tqdm

from bench.latency_proxy import LatencyProxy
from bench.measure import (
    HTTP_TIMEOUT_SECONDS,
    AwsCallCounter,
    Controller,
    call,
    controller,
    in_background,
    percentile_ms,
)
from controller.approval import inbox
from controller.core import states
from controller.storage.sqlite import SqliteBackend
from harness.controllers import controller_config
from harness.emulator import Emulator, running_emulator
from harness.orders import ITEMS as ORDER_ITEMS
from stack.paths import LAMBDA_SOURCE_DIR

METHOD = """\
methods (each drain on a fresh emulator; with --rounds R, R runs per strategy in rotating order, median kept):
  drain                  N orders are started and all N messages wait in the SQS queue (counted with the
                         bench's own client); then the clock starts, and with it the strategy, until the N-th
                         approval answers:
    floor                raw boto3, no controller: ReceiveMessage(10), SendTaskSuccess for each, one
                         DeleteMessageBatch; serial. The least any controller can do.
    serial               a controller starts (its background worker pulls at once); one client loops
                         GET /pending?limit=1000 and POST /approve/<id> for each listed id.
    bulk                 the same controller; the client sends POST /approve {"ids": [...]} per 100 listed.
    baseline             like the 2020 sample: BACKGROUND=false, PULL_BATCH_SIZE=1, PULL_MAX_BATCHES=1;
                         one message per ReceiveMessage and per /pending, one delete per message; serial.
  --aws-latency-ms N     a proxy on loopback delays each request of the controllers' and the floor's boto3
                         clients by N ms (the round trip to AWS); the emulator's own calls are not delayed.
  requests per approval  the boto3 clients' HTTP requests (botocore before-send, retries included) during the
                         drain, divided by N.
  steady flow            --steady-orders orders start at --rate per second while one thread polls
                         GET /pending?limit=1000 back to back and another approves what it lists.
                         start_to_pending = from just before POST /start/workflow is sent until the /pending
                         answer that first lists the id; start_to_event = until GET /events announces it.
  idle /pending          GET /pending on an empty queue while the background worker long-polls (20 s).
  warm Lambda            boto3 Invoke of order_function_arn against the emulator after a warm-up; overhead =
                         round trip minus the handler's own time when called in-process.
  10,000 stored          a fresh database with --stored requests (all but --stored-pending decided), an empty
                         queue; the time of GET /pending (default limit) over HTTP.
"""
LAMBDA_WARM_UP = 20
PHASE_TIMEOUT_SECONDS = 300
DECIDED_STATES = states.DECIDED
_order_numbers = itertools.count(1)


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="bench/approvals.py",
        description=__doc__,
        epilog=METHOD,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--orders",
        type=int,
        default=500,
        help="orders in each drain (the controller's and the baseline's; default: 500)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    parser.add_argument(
        "--aws-latency-ms",
        type=float,
        default=0,
        help="delay added to every AWS request of the controllers and the floor, by a local proxy (default: 0)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of each drain, in rotating order; the median is kept (default: 1)"
    )
    parser.add_argument("--steady-orders", type=int, default=200, help="orders in the steady flow (default: 200)")
    parser.add_argument(
        "--rate",
        type=float,
        default=5,
        help="orders started per second in the steady flow (default: 5; keep it below what the emulator sustains)",
    )
    parser.add_argument(
        "--poll-interval-ms", type=float, default=0, help="pause between /pending polls in the steady flow (default: 0)"
    )
    parser.add_argument("--start-concurrency", type=int, default=8, help="clients starting orders at once (default: 8)")
    parser.add_argument("--invokes", type=int, default=200, help="timed warm Lambda invocations (default: 200)")
    parser.add_argument(
        "--stored", type=int, default=10_000, help="requests stored for the /pending test (default: 10000)"
    )
    parser.add_argument("--stored-pending", type=int, default=1_000, help="of which still pending (default: 1000)")
    parser.add_argument(
        "--pending-calls", type=int, default=100, help="timed GET /pending calls on that store (default: 100)"
    )
    return parser.parse_args()


def order() -> dict[str, Any]:
    """Return a valid order with a fresh order_id."""
    number = next(_order_numbers)
    return {"order_id": f"BENCH-{number}", "customer": {"id": f"C-{number % 97}", "name": "Ada"}, "items": ORDER_ITEMS}


def timed(durations: list[float], function: Callable[..., Any], *args: Any) -> Any:
    """Call function(*args), append how long it took (seconds) to durations, return its result."""
    began = time.perf_counter()
    result = function(*args)
    durations.append(time.perf_counter() - began)
    return result


@contextmanager
def thread_pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    """A pool that, unlike `with ThreadPoolExecutor`, drops queued work at once on Ctrl-C or an error."""
    pool = ThreadPoolExecutor(workers)
    try:
        yield pool
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


# --- steady flow: start-to-pending latency --------------------------------------------------------


@dataclass
class Flow:
    """When each order was sent, announced on /events, first listed and approved (time.perf_counter seconds)."""

    started: dict[str, float] = field(default_factory=dict)
    announced: dict[str, float] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)
    polls: list[float] = field(default_factory=list)
    approved: list[float] = field(default_factory=list)
    approvals: Queue = field(default_factory=Queue)


def post_order(outputs: dict[str, str]) -> Any:
    """POST one order to the emulator's API with its API key; return the answer."""
    return call("POST", outputs["api_url"], order(), headers={"x-api-key": outputs["api_key"]})


def _start_one(outputs: dict[str, str], flow: Flow) -> None:
    sent = time.perf_counter()
    flow.started[post_order(outputs)["name"]] = sent


def _start_steadily(outputs: dict[str, str], args: argparse.Namespace, flow: Flow) -> None:
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


def _listen(url: str, orders: int, flow: Flow) -> None:
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
        listening = in_background(_listen, ctl.url, args.steady_orders, flow)
        time.sleep(0.5)  # the stream is open before the first order starts
        polling = in_background(_poll, ctl.url, args.steady_orders, flow, args.poll_interval_ms / 1000)
        approving = in_background(_approve_seen, ctl.url, args.steady_orders, flow, bar)
        _start_steadily(env.outputs, args, flow)
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


# --- drain: throughput and AWS requests per approval, one fresh emulator per strategy -------------

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
    with running_emulator(workdir / mode) as env, aws_endpoint(env, args.aws_latency_ms) as endpoint:
        start_rate = start_orders(env.outputs, args.orders, args.start_concurrency, mode)
        wait_for_queue(env, args.orders, mode)
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


@contextmanager
def aws_endpoint(env: Emulator, latency_ms: float) -> Iterator[str]:
    """Yield the AWS endpoint the controller and the floor use: the emulator, behind a delay proxy if asked."""
    if not latency_ms:
        yield env.outputs["aws_endpoint_url"]
        return
    with LatencyProxy(int(env.outputs["aws_endpoint_url"].rsplit(":", 1)[1]), latency_ms) as proxy:
        yield proxy.url


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


# --- warm Lambda invocation -----------------------------------------------------------------------


def _invoke(client: Any, function_arn: str, payload: str) -> None:
    response = client.invoke(FunctionName=function_arn, Payload=payload)
    if "FunctionError" in response:
        raise RuntimeError(f"the order function failed: {response['Payload'].read()[:500]!r}")
    response["Payload"].read()


def _order_handler() -> Callable[[Any, Any], Any]:
    """Load lambda/function.py in this process (the directory name `lambda` cannot be imported as a package)."""
    spec = importlib.util.spec_from_file_location("bench_order_function", LAMBDA_SOURCE_DIR / "function.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def lambda_overhead(env: Emulator, invokes: int) -> dict[str, Any]:
    """Time warm Invoke round trips against the emulator and the same handler called in-process."""
    client, function_arn, payload = env.client("lambda"), env.outputs["order_function_arn"], json.dumps(order())
    for _ in range(LAMBDA_WARM_UP):
        _invoke(client, function_arn, payload)
    round_trips: list[float] = []
    for _ in tqdm(range(invokes), desc="lambda: warm Invoke", unit="call"):
        timed(round_trips, _invoke, client, function_arn, payload)
    handler, in_process = _order_handler(), []
    for _ in range(invokes):
        timed(in_process, handler, json.loads(payload), None)
    handler_p50 = percentile_ms(in_process, 50)
    return {
        "warm_lambda_invoke_p50_ms": percentile_ms(round_trips, 50),
        "warm_lambda_invoke_p95_ms": percentile_ms(round_trips, 95),
        "lambda_handler_in_process_p50_ms": handler_p50,
        "warm_lambda_overhead_p50_ms": round(percentile_ms(round_trips, 50) - handler_p50, 2),
        "warm_lambda_overhead_p95_ms": round(percentile_ms(round_trips, 95) - handler_p50, 2),
    }


# --- /pending with many stored requests -----------------------------------------------------------


def _approval_message(env: Emulator, number: int) -> str:
    """Return a Request Approval message body shaped as the state machine sends it."""
    name = str(uuid.uuid4())
    return json.dumps(
        {
            "TaskToken": uuid.uuid4().hex,
            "ExecutionName": name,
            "ExecutionArn": env.outputs["state_machine_arn"].replace(":stateMachine:", ":execution:") + ":" + name,
            "Order": order(),
            "RequestedAt": datetime.now(timezone.utc).isoformat(),
            "TimeoutSeconds": 86400 + number,  # expiry in the future, so /pending's expiry sweep has nothing to do
        }
    )


def fill_store(env: Emulator, database: Path, total: int, still_pending: int) -> None:
    """Store total requests through the controller's own store functions; all but still_pending decided."""
    backend = SqliteBackend(str(database))
    backend.migrate()
    with closing(backend.open()) as store:
        store.connection.execute("BEGIN")  # one commit: 10,000 fsyncs would only measure the disk
        for number in tqdm(range(total), desc="store: insert requests", unit="row"):
            request = inbox.parse_message(_approval_message(env, number))
            store.save_request(request)
            if number >= still_pending:
                store.finish(request.id, DECIDED_STATES[number % 2], None, from_state="pending")
        store.connection.execute("COMMIT")


def stored_pending(env: Emulator, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Time GET /pending (default limit) against a database of --stored requests and an empty queue."""
    database = workdir / "stored.sqlite3"
    fill_store(env, database, args.stored, args.stored_pending)
    empty_queue = env.client("sqs").create_queue(QueueName=f"bench-empty-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    with controller(controller_config(env, empty_queue, database)) as ctl:
        listed = call("GET", f"{ctl.url}/pending")  # also the warm-up
        if listed["count"] != args.stored_pending:
            raise RuntimeError(f"/pending counts {listed['count']} pending requests, expected {args.stored_pending}")
        ctl.counter.reset()
        durations: list[float] = []
        for _ in tqdm(range(args.pending_calls), desc=f"store: GET /pending with {args.stored} stored", unit="call"):
            timed(durations, call, "GET", f"{ctl.url}/pending")
        return {
            f"pending_p50_ms_with_{args.stored}_stored": percentile_ms(durations, 50),
            f"pending_p95_ms_with_{args.stored}_stored": percentile_ms(durations, 95),
            "pending_aws_requests_by_operation": dict(sorted(ctl.counter.sends.items())),
        }


# --- the run and its report -----------------------------------------------------------------------


def idle_pending(env: Emulator, endpoint: str, workdir: Path, calls: int) -> dict[str, Any]:
    """Time GET /pending on an empty queue while the background worker long-polls it."""
    empty_queue = env.client("sqs").create_queue(QueueName=f"bench-idle-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    config = controller_config(
        env, empty_queue, workdir / "idle.sqlite3", AWS_ENDPOINT_URL=endpoint, PULL_WAIT_SECONDS=20
    )
    with controller(config) as ctl:
        call("GET", f"{ctl.url}/pending")  # the warm-up
        durations: list[float] = []
        for _ in tqdm(range(calls), desc="idle: GET /pending, empty queue", unit="call"):
            timed(durations, call, "GET", f"{ctl.url}/pending")
    return {"idle_pending_p50_ms": percentile_ms(durations, 50), "idle_pending_p95_ms": percentile_ms(durations, 95)}


def run(workdir: Path, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Run every phase: the drains on emulators of their own, the rest on one more."""
    results = drains(workdir, args)
    with running_emulator(workdir / "flow") as env, aws_endpoint(env, args.aws_latency_ms) as endpoint:
        config = controller_config(env, env.outputs["approval_queue_url"], workdir / "flow.sqlite3")
        with controller({**config, "AWS_ENDPOINT_URL": endpoint}) as ctl:
            results["steady"] = steady_flow(env, ctl, args)
        results["idle"] = idle_pending(env, endpoint, workdir, args.pending_calls)
        results["lambda"] = lambda_overhead(env, args.invokes)
        results["stored"] = stored_pending(env, workdir, args)
    return results


def targets(summary: dict[str, Any], stored: int) -> list[dict[str, Any]]:
    """Compare the measured values with the targets (marks for the reader, not assertions)."""
    wanted = [
        ("controller_requests_per_approval", "<=", 1.2),
        ("bulk_speedup", ">=", 3.0),
        ("idle_pending_p95_ms", "<", 50.0),
        ("start_to_event_p95_ms", "<", 300.0),
        ("warm_lambda_overhead_p95_ms", "<", 10.0),
        (f"pending_p95_ms_with_{stored}_stored", "<", 100.0),
    ]
    if summary["aws_latency_ms"]:  # the floor comparison is meant for a realistic round trip
        wanted.insert(0, ("serial_share_of_floor", ">=", 0.85))
    compare = {"<=": float.__le__, ">=": float.__ge__, "<": float.__lt__}
    return [
        {
            "metric": key,
            "target": f"{op} {limit:g}",
            "measured": summary[key],
            "met": compare[op](float(summary[key]), limit),
        }
        for key, op, limit in wanted
    ]


def summarize(args: argparse.Namespace, results: dict[str, dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Flatten the phases into one summary: the serial controller's figures plain, the others prefixed."""
    serial, baseline = results["serial"], results["baseline"]
    summary: dict[str, Any] = {"orders": args.orders, "aws_latency_ms": args.aws_latency_ms, "rounds": args.rounds}
    summary.update({**serial, **results["steady"], **results["idle"], **results["lambda"], **results["stored"]})
    for mode in ("baseline", "bulk", "floor"):
        summary.update({f"{mode}_{key}": value for key, value in results[mode].items()})
    summary["speedup"] = round(serial["approvals_per_second"] / baseline["approvals_per_second"], 2)
    summary["bulk_speedup"] = round(results["bulk"]["approvals_per_second"] / baseline["approvals_per_second"], 2)
    summary["serial_share_of_floor"] = round(
        serial["approvals_per_second"] / results["floor"]["approvals_per_second"], 3
    )
    summary["requests_ratio"] = round(
        baseline["controller_requests_per_approval"] / serial["controller_requests_per_approval"], 2
    )
    summary["targets"] = targets(summary, args.stored)
    summary["machine"] = {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    summary["bench_seconds"] = round(seconds, 1)
    return summary


def print_table(summary: dict[str, Any]) -> None:
    """Print the summary for a person: the four strategies side by side, then the other figures and targets."""
    rows = [
        ("approvals per second (drain)", "approvals_per_second"),
        ("AWS requests per approval", "controller_requests_per_approval"),
        ("orders started per second", "orders_started_per_second"),
    ]
    columns = {"serial": "", "bulk": "bulk_", "baseline": "baseline_", "floor": "floor_"}
    print(f"AWS latency added: {summary['aws_latency_ms']} ms per request")
    print(f"{'':32}" + "".join(f"{name:>14}" for name in columns))
    for label, key in rows:
        print(f"{label:32}" + "".join(f"{summary[prefix + key]!s:>14}" for prefix in columns.values()))
    print()
    for key in (
        "speedup",
        "bulk_speedup",
        "serial_share_of_floor",
        "requests_ratio",
        "start_to_pending_p50_ms",
        "start_to_pending_p95_ms",
        "start_to_event_p50_ms",
        "start_to_event_p95_ms",
        "idle_pending_p95_ms",
        "steady_approvals_per_second",
        "warm_lambda_invoke_p50_ms",
        "warm_lambda_invoke_p95_ms",
        "lambda_handler_in_process_p50_ms",
        *(k for k in summary if k.startswith("pending_p") and k.endswith("_stored")),
    ):
        print(f"{key:40} {summary[key]:>30}")
    print("\ntargets:")
    for target in summary["targets"]:
        verdict = "PASS" if target["met"] else "MISS"
        print(f"  {verdict}  {target['metric']:40} {target['measured']:>10} (target {target['target']})")
    print(f"\nmachine: {summary['machine']}; the bench took {summary['bench_seconds']} s")


def _exit_on_sigterm(*_: Any) -> None:
    sys.exit(143)  # raises SystemExit in the main thread, so every `finally` stops what it started


def main() -> None:
    """Run the benchmark and print its summary."""
    args = parse_args()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    began = time.perf_counter()
    try:
        with TemporaryDirectory(prefix="bench-approvals-") as workdir:
            results = run(Path(workdir), args)
    except KeyboardInterrupt:
        sys.exit("interrupted; the emulator and the controllers are stopped")
    summary = summarize(args, results, time.perf_counter() - began)
    if args.json:
        print(json.dumps(summary))
    else:
        print_table(summary)


if __name__ == "__main__":
    main()
