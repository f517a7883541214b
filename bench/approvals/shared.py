"""The shared DynamoDB table: 1, 2, 4... controller processes drain one queue onto one table (serial and bulk),
the table requests each approval costs and the cores each process used; with the idle polling and the events
elsewhere (shared_probes.py), the summary and the targets."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.approvals.common import PHASE_TIMEOUT_SECONDS, thread_pool
from bench.approvals.counted import Requests, counted_emulator
from bench.approvals.drain import BULK_CHUNK, drain, fill_queue
from bench.approvals.report import print_targets, verdicts
from bench.approvals.shared_probes import events_elsewhere, idle_polling
from bench.cpu import CpuMeter
from bench.measure import call
from harness.processes import running_controllers
from harness.tables import dynamodb_settings

MODES = ("serial", "bulk")


class Progress:
    """Approvals made so far by every client thread, counted under one lock."""

    def __init__(self, total: int, label: str) -> None:
        self.lock, self.total = threading.Lock(), total
        self.bar = tqdm(total=total, desc=label, unit="approval")

    def add(self, count: int) -> None:
        with self.lock:
            self.bar.update(count)

    def done(self) -> bool:
        return self.bar.n >= self.total


def _approve_share(url: str, index: int, controllers: int, mode: str, progress: Progress) -> int:
    """Approve, on this controller, the pending ids whose hash falls to it, so no two clients decide one request.

    Return how many ids /pending listed again after their approval had answered 200: those are not sent
    twice (the second would be refused with 409), but counted, as the reader should see them.
    """
    deadline, approved, relisted = time.monotonic() + PHASE_TIMEOUT_SECONDS, set(), 0
    while not progress.done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {progress.bar.n} of {progress.total} requests were approved")
        listed = call("GET", f"{url}/pending?limit=1000")["pending"]
        mine = [row["id"] for row in listed if zlib.crc32(row["id"].encode()) % controllers == index]
        ids = [request_id for request_id in mine if request_id not in approved]
        relisted += len(mine) - len(ids)
        if not ids:
            time.sleep(0.05)  # the others' share, or nothing pulled yet: do not hammer /pending
        elif mode == "bulk":
            for first in range(0, len(ids), BULK_CHUNK):
                chunk = ids[first : first + BULK_CHUNK]
                progress.add(call("POST", f"{url}/approve", {"ids": chunk})["decided"])
                approved.update(chunk)
        else:
            for request_id in ids:
                call("POST", f"{url}/approve/{request_id}")
                approved.add(request_id)
                progress.add(1)
    return relisted


def shared_drain(mode: str, controllers: int, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """On a fresh emulator and table: fill the queue, then time N controller processes approving it all, each
    client deciding its share on its own controller. The clock covers the controllers' start, as drain's does."""
    label, run_dir = f"dynamodb {mode} x{controllers}", workdir / f"{mode}-{controllers}"
    with counted_emulator(run_dir, args.aws_latency_ms) as (env, proxy):
        fill_queue(env, label, args)
        settings, queue = dynamodb_settings(env), env.outputs["approval_queue_url"]
        proxy.reset_counts()
        meter = CpuMeter(env.process.pid)
        with running_controllers(env, queue, run_dir, controllers, proxy.url, **settings) as ctls:
            started = time.perf_counter() - meter.began
            progress = Progress(args.orders, f"{label}: pull and approve")
            with thread_pool(controllers) as pool:
                shares = [
                    pool.submit(_approve_share, ctl.url, n, controllers, mode, progress) for n, ctl in enumerate(ctls)
                ]
                relisted = sum(share.result(timeout=PHASE_TIMEOUT_SECONDS) for share in shares)
            progress.bar.close()
            cpu = meter.use({f"controller {n}": ctl.process.pid for n, ctl in enumerate(ctls) if ctl.process})
        counted = Requests.of(proxy)
    controller_cores = [cores for name, cores in cpu.cores_by_process.items() if name.startswith("controller")]
    return {
        "approvals_per_second": round(args.orders / cpu.wall_seconds, 2),
        # without the processes' start (interpreter and imports; their pulling begins just before they serve)
        "approvals_per_second_once_serving": round(args.orders / (cpu.wall_seconds - started), 2),
        "seconds": cpu.wall_seconds,
        "controllers_start_seconds": round(started, 2),
        "table_requests": sum(counted.table.values()),
        "table_requests_by_operation": counted.table,
        "table_errors_by_type": counted.errors,
        "table_seconds_at_emulator_by_operation": counted.table_seconds,
        "relisted_after_approval": relisted,
        "sqs_and_sfn_requests_per_approval": round(sum(counted.others.values()) / args.orders, 3),
        "cores_by_process": cpu.cores_by_process,
        "controllers_cores_busy": round(sum(controller_cores), 2),
        "emulator_cores_busy": cpu.cores_by_process["emulator"],
        "bench_cores_busy": cpu.cores_by_process["bench"],
        "run_cores_busy": round(sum(cpu.cores_by_process.values()), 2),  # the rest of the machine's is others'
        # above 1 while the emulator's own cores stay low: requests queue for its DynamoDB lock, or for a core
        "table_requests_at_emulator_on_average": round(sum(counted.table_seconds.values()) / cpu.wall_seconds, 2),
        "machine_cores_busy": cpu.machine_cores,
    }


def run_shared(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """SQLite's serial and bulk drains, then the same on the table with each number of controllers, the idle
    polling and the cross-controller events; each on a fresh emulator."""
    results: dict[str, Any] = {f"sqlite_{mode}": drain(mode, workdir / "sqlite", args) for mode in MODES}
    for controllers in args.controllers:
        for mode in MODES:
            key = f"dynamodb_{mode}_x{controllers}"
            results[key] = shared_drain(mode, controllers, workdir, args)
            print(json.dumps({key: results[key]}), file=sys.stderr)  # kept in the log should a later phase fail
    results["idle"] = idle_polling(workdir, args)
    results["events"] = events_elsewhere(workdir, args)
    return results


def summarize_shared(args: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    """One row per store, mode and number of controllers; the table's requests per approval net of what the
    controllers would have sent idle: each one's start-up and its idle polling in the same time; the targets."""
    idle_rate = results["idle"]["idle_table_requests_per_second_no_stream"]
    start_up = results["idle"]["start_up_table_requests"]
    rows: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        sqlite = results[f"sqlite_{mode}"]
        rows[f"sqlite_{mode}_x1"] = {
            "approvals_per_second": sqlite["approvals_per_second"],
            "sqs_and_sfn_requests_per_approval": sqlite["controller_requests_per_approval"],
        }
        for controllers in args.controllers:
            row = dict(results[f"dynamodb_{mode}_x{controllers}"])
            polling = controllers * (start_up + idle_rate * row["seconds"])
            row["table_requests_per_approval"] = round(row["table_requests"] / args.orders, 2)
            row["table_requests_per_approval_net_of_polling"] = round(
                (row["table_requests"] - polling) / args.orders, 2
            )
            rows[f"dynamodb_{mode}_x{controllers}"] = row
    most = max(args.controllers)
    summary: dict[str, Any] = {
        "orders": args.orders,
        "aws_latency_ms": args.aws_latency_ms,
        "rows": rows,
        **results["idle"],
        **results["events"],
        **{
            f"bulk_x{most}_over_x1{suffix}": round(
                rows[f"dynamodb_bulk_x{most}"][f"approvals_per_second{suffix}"]
                / rows["dynamodb_bulk_x1"][f"approvals_per_second{suffix}"],
                2,
            )
            for suffix in ("", "_once_serving")
        },
        "table_requests_per_approval_net_of_polling": max(
            rows[f"dynamodb_{mode}_x1"]["table_requests_per_approval_net_of_polling"] for mode in MODES
        ),
    }
    summary["targets"] = verdicts(
        summary,
        [
            ("table_requests_per_approval_net_of_polling", "<=", 6.0),
            ("idle_table_requests_per_second_no_stream", "<=", 5.0),
            (f"bulk_x{most}_over_x1", ">=", 2.5),
        ],
    )
    return summary


def print_shared(summary: dict[str, Any]) -> None:
    """Print the rows side by side, then the idle polling, the events elsewhere and the targets."""
    columns = (
        ("approvals/s", "approvals_per_second"),
        ("once serving", "approvals_per_second_once_serving"),
        ("table req/approval", "table_requests_per_approval"),
        ("net of polling", "table_requests_per_approval_net_of_polling"),
        ("SQS+SFN req/approval", "sqs_and_sfn_requests_per_approval"),
        ("controllers cores", "controllers_cores_busy"),
        ("emulator cores", "emulator_cores_busy"),
        ("bench cores", "bench_cores_busy"),
        ("run cores", "run_cores_busy"),
        ("machine cores", "machine_cores_busy"),
        ("at emulator", "table_requests_at_emulator_on_average"),
    )
    print(f"AWS latency added: {summary['aws_latency_ms']} ms per request; {summary['orders']} orders per drain")
    print(f"{'':20}" + "".join(f"{title:>{len(title) + 2}}" for title, _ in columns))
    for name, row in summary["rows"].items():
        print(f"{name:20}" + "".join(f"{row.get(key, '-')!s:>{len(title) + 2}}" for title, key in columns))
    print("\ntable requests by operation, the answers' errors, each process's busy cores:")
    for name, row in summary["rows"].items():
        if "table_requests_by_operation" in row:
            print(f"  {name:20} {row['table_requests_by_operation']}")
            print(f"  {'':20} errors: {row['table_errors_by_type']}")
            print(f"  {'':20} seconds at the emulator: {row['table_seconds_at_emulator_by_operation']}")
            print(f"  {'':20} cores: {row['cores_by_process']}")
            print(
                f"  {'':20} controllers' start {row['controllers_start_seconds']} s of {row['seconds']} s;"
                f" listed again after approval: {row['relisted_after_approval']}"
            )
    print()
    for key, value in summary.items():
        if key.startswith(("idle_", "start_up_", "start_to_event", "bulk_x")):
            print(f"{key:48} {value!s}")
    print_targets(summary)
