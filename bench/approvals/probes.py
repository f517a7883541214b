"""The single measures: /pending while the queue is idle, a warm Lambda Invoke, /pending over 10,000 stored requests."""

from __future__ import annotations

import argparse
import importlib.util
import json
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.approvals.common import order, timed
from bench.measure import call, controller, percentile_ms
from controller.approval import inbox
from controller.core import states
from controller.storage.sqlite import SqliteBackend
from harness.controllers import controller_config
from harness.emulator import Emulator
from stack.paths import LAMBDA_SOURCE_DIR

LAMBDA_WARM_UP = 20
DECIDED_STATES = states.DECIDED


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
