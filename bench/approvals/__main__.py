"""Measure what one approval costs: throughput, start-to-pending latency, AWS requests, Lambda overhead,
/pending at scale.

Everything runs on this machine: the bench starts its own emulator process and serves its own
controllers over HTTP in threads, then stops them however the run ends.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from bench.approvals.common import aws_endpoint
from bench.approvals.drain import drains
from bench.approvals.flow import steady_flow
from bench.approvals.probes import idle_pending, lambda_overhead, stored_pending
from bench.approvals.report import finished, print_table, summarize
from bench.approvals.shared import print_shared, run_shared, summarize_shared
from bench.measure import controller
from harness.controllers import controller_config
from harness.emulator import running_emulator

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


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.approvals",
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
    parser.add_argument(
        "--shared",
        action="store_true",
        help="measure the shared DynamoDB table instead: the drains with each --controllers count, SQLite's beside",
    )
    parser.add_argument(
        "--controllers",
        type=lambda text: [int(count) for count in text.split(",")],
        default=[1, 2, 4],
        help="with --shared: the numbers of controllers on one table, comma-separated (default: 1,2,4)",
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=20, help="with --shared: how long idle polling is counted (default: 20)"
    )
    return parser.parse_args()


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


def _exit_on_sigterm(*_: Any) -> None:
    sys.exit(143)  # raises SystemExit in the main thread, so every `finally` stops what it started


def main() -> None:
    """Run the benchmark and print its summary."""
    args = parse_args()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    began = time.perf_counter()
    try:
        with TemporaryDirectory(prefix="bench-approvals-") as workdir:
            results = (run_shared if args.shared else run)(Path(workdir), args)
    except KeyboardInterrupt:
        sys.exit("interrupted; the emulator and the controllers are stopped")
    if args.shared:
        summary, show = summarize_shared(args, results), print_shared
    else:
        summary, show = summarize(args, results), print_table
    finished(summary, time.perf_counter() - began)
    if args.json:
        print(json.dumps(summary))
    else:
        show(summary)


if __name__ == "__main__":
    main()
