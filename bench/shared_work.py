"""Measure what several controllers on one DynamoDB table spend on background work, with the leases that make them
take turns and, for comparison, without them (`Backend.shared` turned off, as if each were alone):

1. idle: DynamoDB requests a second per controller, by operation, with a webhook configured: the mean of the
   controllers, and the busiest one's (the one holding the leases does the rounds for all);
2. liveness: DescribeExecution calls of all controllers for --pending requests whose checks are due every 2 s.

Counted from each controller's own metrics (controller_aws_calls), in the emulator.

    .venv/bin/python -m bench.shared_work --controllers 3 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections import Counter
from pathlib import Path
from tempfile import TemporaryDirectory

from emulator.provision.table import create_approvals_table
from harness.controllers import ServedController, controller_config
from harness.emulator import Emulator, running_emulator
from harness.stacks import make_stack
from harness.webhooks import WebhookReceiver
from stack.definition import load_stack

CHECK_EVERY_SECONDS = 2


def calls(controller: ServedController, service: str) -> Counter[str]:
    """Return the controller's AWS calls of one service so far, by operation."""
    counted: Counter[str] = Counter()
    for family in controller.app.extensions["metrics"].registry.collect():
        for sample in family.samples:
            if sample.name == "controller_aws_calls_total" and sample.labels["service"] == service:
                counted[sample.labels["operation"]] += int(sample.value)
    return counted


def per_second(counted: Counter[str], seconds: float) -> dict[str, float]:
    return {operation: round(count / seconds, 2) for operation, count in sorted(counted.items())}


def run(
    emulator: Emulator, workdir: Path, controllers: int, seconds: float, pending: int, leases: bool
) -> dict[str, object]:
    stack, table = make_stack(emulator), f"bench-{uuid.uuid4().hex[:12]}"
    create_approvals_table(emulator.client("dynamodb"), load_stack()["approvals_table"], table)
    webhook = WebhookReceiver()
    settings = {"STORE": "dynamodb", "DYNAMODB_TABLE": table, "SECRET_KEY": "x" * 40, "NOTIFY_WEBHOOK_URL": webhook.url}
    started = []
    for number in range(controllers):
        config = controller_config(emulator, stack.queue_url, workdir / f"unused-{number}.sqlite3", **settings)
        started.append(ServedController({**config, "LIVENESS_CHECK_SECONDS": CHECK_EVERY_SECONDS}))
        started[-1].app.extensions["store"].shared = leases
    try:
        time.sleep(3)  # past the start-up work
        before = [calls(controller, "dynamodb") for controller in started]
        time.sleep(seconds)
        each = [calls(c, "dynamodb") - b for c, b in zip(started, before, strict=True)]
        idle = sum(each, Counter())
        for name in [stack.start() for _ in range(pending)]:
            started[0].wait_for_pending(name, timeout=60)
        before = [calls(controller, "stepfunctions") for controller in started]
        time.sleep(seconds)
        checks = sum(
            calls(c, "stepfunctions")["DescribeExecution"] - b["DescribeExecution"]
            for c, b in zip(started, before, strict=True)
        )
    finally:
        for controller in started:
            controller.stop()
        webhook.stop()
    busiest = max(each, key=lambda counted: sum(counted.values()))
    return {
        "leases": leases,
        "idle_dynamodb_requests_per_second_per_controller": round(sum(idle.values()) / seconds / controllers, 2),
        "idle_by_operation": per_second(idle, seconds * controllers),
        "idle_busiest_controller_requests_per_second": round(sum(busiest.values()) / seconds, 2),
        "idle_busiest_by_operation": per_second(busiest, seconds),
        "describe_execution_calls": checks,
        "checks_if_each_request_once_per_interval": pending * int(seconds / CHECK_EVERY_SECONDS),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controllers", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--pending", type=int, default=8)
    args = parser.parse_args()
    with TemporaryDirectory() as workdir, running_emulator(Path(workdir) / "emulator") as emulator:
        for leases in (True, False):
            print(json.dumps(run(emulator, Path(workdir), args.controllers, args.seconds, args.pending, leases)))


if __name__ == "__main__":
    main()
