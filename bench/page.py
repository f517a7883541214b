"""Measure the approver's page at scale: GET / and GET /pending?limit=100 with 100, 1,000 and 10,000
pending, finding one order by its id at each size, and the time of a /metrics scrape.

Sizes up to --flow-up-to are filled through the real flow (POST /start/workflow through the emulator's
API Gateway and Lambda, the state machine's message on the queue, the controller's background pull);
larger ones through the store's own save path (SqliteStore.save_request), every request pointing at one
real waiting execution, so that the controller's start-up check of each execution finds it running.
Each size gets a database and a controller of its own; the bench starts its own emulator and stops
everything however the run ends.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from tqdm import tqdm

from bench.approvals.common import PHASE_TIMEOUT_SECONDS, order, timed
from bench.approvals.drain import start_orders
from bench.measure import Controller, call, controller, http, percentile_ms
from controller.storage.records import NewRequest
from controller.storage.sqlite import SqliteBackend
from harness.controllers import controller_config
from harness.emulator import Emulator, running_emulator

START_CONCURRENCY = 8
CARD_TITLE = re.compile(r'<h3 id="title-[^"]+"[^>]*>Order ([^<]+)</h3>')


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.page", description=__doc__)
    parser.add_argument("--sizes", default="100,1000,10000", help="pending requests, comma-separated")
    parser.add_argument("--flow-up-to", type=int, default=1000, help="fill sizes up to this through the real flow")
    parser.add_argument("--calls", type=int, default=50, help="timed calls per measure and size")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return parser.parse_args()


def get_page(url: str) -> str:
    """GET an HTML page; a status other than 200 stops the run."""
    response = http().get(url, timeout=60)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}: {response.text[:500]}")
    return response.text


def pending_count(ctl: Controller) -> int:
    return int(call("GET", f"{ctl.url}/pending?limit=1")["count"])


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + PHASE_TIMEOUT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.5)


def fill_through_the_flow(env: Emulator, ctl: Controller, size: int) -> None:
    """Start size orders through the API and wait until the controller has pulled and stored them all."""
    start_orders(env.outputs, size, START_CONCURRENCY, f"{size}: start orders")
    wait_until(lambda: pending_count(ctl) == size, f"{size} pending requests")


def fill_through_the_store(env: Emulator, database: Path, size: int) -> None:
    """Save size requests with the store's own save path, each pointing at one real waiting execution."""
    waiting = env.client("stepfunctions").start_execution(
        stateMachineArn=env.outputs["state_machine_arn"], name=str(uuid.uuid4()), input=json.dumps(order())
    )["executionArn"]
    backend = SqliteBackend(str(database))
    backend.migrate()
    store = backend.open()
    requested = datetime.now(timezone.utc)
    try:
        for number in tqdm(range(size), desc=f"{size}: save requests", unit="request"):
            store.save_request(
                NewRequest(
                    id=str(uuid.uuid4()),
                    execution_arn=waiting,
                    task_token=uuid.uuid4().hex,
                    order=order(),
                    requested_at=(requested + timedelta(milliseconds=number)).isoformat(),
                    expires_at=(requested + timedelta(days=1)).isoformat(),
                )
            )
    finally:
        store.close()


def start_up_check_done() -> bool:
    """Say whether the controller's start-up check of pending executions (a thread of its own) has ended."""
    return not any(thread.name == "startup-liveness" for thread in threading.enumerate())


def order_ids(ctl: Controller, size: int) -> list[str]:
    """Return every pending order id, read through /pending's pages."""
    ids: list[str] = []
    for page in range(1, size // 1000 + 2):
        listed = call("GET", f"{ctl.url}/pending?limit=1000&page={page}")["pending"]
        ids.extend(item["order"]["order_id"] for item in listed)
    return ids


def timings(url: str, calls: int, fetch: Any = get_page) -> dict[str, float]:
    fetch(url)  # the warm-up
    durations: list[float] = []
    for _ in range(calls):
        timed(durations, fetch, url)
    return {"p50_ms": percentile_ms(durations, 50), "p95_ms": percentile_ms(durations, 95)}


def find_orders(ctl: Controller, ids: list[str], calls: int) -> dict[str, Any]:
    """Time GET /?q=<order id> for random orders; each must be on the first page of what is found."""
    durations: list[float] = []
    for wanted in random.sample(ids, min(calls, len(ids))):
        shown = timed(durations, get_page, f"{ctl.url}/?q={wanted}")
        if wanted not in CARD_TITLE.findall(shown):
            raise RuntimeError(f"/?q={wanted} does not show order {wanted}")
    return {"p50_ms": percentile_ms(durations, 50), "p95_ms": percentile_ms(durations, 95), "found": len(durations)}


def measure(env: Emulator, workdir: Path, size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Fill a fresh database with size pending requests and time the page, /pending, a find and /metrics."""
    database = workdir / f"page-{size}.sqlite3"
    through_flow = size <= args.flow_up_to
    queue = env.outputs["approval_queue_url"]
    if not through_flow:
        fill_through_the_store(env, database, size)
        queue = env.client("sqs").create_queue(QueueName=f"bench-page-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    with controller(controller_config(env, queue, database)) as ctl:
        if through_flow:
            fill_through_the_flow(env, ctl, size)
        wait_until(start_up_check_done, "the start-up check of the pending executions")
        if pending_count(ctl) != size:
            raise RuntimeError(f"{pending_count(ctl)} pending, expected {size}")
        ids = order_ids(ctl, size)
        results = {
            "pending": size,
            "filled": "flow" if through_flow else "store",
            "page": timings(f"{ctl.url}/", args.calls),
            "pending_limit_100": timings(f"{ctl.url}/pending?limit=100", args.calls, lambda url: call("GET", url)),
            "find_by_order_id": find_orders(ctl, ids, args.calls),
            "metrics_scrape": timings(f"{ctl.url}/metrics", args.calls),
        }
        if pending_count(ctl) != size:
            raise RuntimeError(f"the run changed the pending requests: {pending_count(ctl)}, expected {size}")
        return results


def print_table(results: list[dict[str, Any]]) -> None:
    """Print one row per size: p50 / p95 in milliseconds."""
    columns = ("page", "pending_limit_100", "find_by_order_id", "metrics_scrape")
    print("| pending | filled by | " + " | ".join(f"{column} p50 / p95 ms" for column in columns) + " |")
    print("| --- | --- |" + " --- |" * len(columns))
    for row in results:
        cells = [f"{row[column]['p50_ms']} / {row[column]['p95_ms']}" for column in columns]
        print(f"| {row['pending']:,} | {row['filled']} | " + " | ".join(cells) + " |")


def main() -> None:
    """Run every size and print the results."""
    args = parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    with TemporaryDirectory(prefix="bench-page-") as workdir, running_emulator(Path(workdir) / "emulator") as env:
        results = [measure(env, Path(workdir), size, args) for size in sizes]
    if args.json:
        print(json.dumps(results))
    else:
        print_table(results)


if __name__ == "__main__":
    main()
