"""The shared DynamoDB table: 1, 2, 4... controllers drain one queue onto one table (serial and bulk), the table
requests each approval costs, what an idle controller polls, and how soon a request one controller stored is
announced on another's /events."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import zlib
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests
from tqdm import tqdm

from bench.approvals.common import PHASE_TIMEOUT_SECONDS, aws_endpoint, thread_pool
from bench.approvals.drain import BULK_CHUNK, drain, filled_emulator
from bench.approvals.flow import Flow, listen, start_steadily
from bench.approvals.report import print_targets, verdicts
from bench.measure import (
    HTTP_TIMEOUT_SECONDS,
    AwsCallCounter,
    Controller,
    call,
    controller,
    in_background,
    percentile_ms,
)
from harness.controllers import controller_config
from harness.emulator import running_emulator
from harness.tables import dynamodb_settings

MODES = ("serial", "bulk")
IDLE_WARM_UP_SECONDS = 3  # start-up reads and the first rounds of background work are not idle polling
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _machine_jiffies() -> tuple[int, int]:
    """Busy and total CPU time of the whole machine so far, every core and every process (Linux /proc)."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return sum(values) - idle, sum(values)


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


def _sums(counters: list[AwsCallCounter]) -> Counter[str]:
    total: Counter[str] = Counter()
    for counter in counters:
        total.update(counter.sends)
    return total


def shared_drain(mode: str, controllers: int, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """On a fresh emulator and table: fill the queue, then time N controllers approving it all, each client
    deciding its share on its own controller. The clock covers the controllers' start, as drain's does."""
    label = f"dynamodb {mode} x{controllers}"
    with filled_emulator(workdir / f"{mode}-{controllers}", label, args) as (env, endpoint, _):
        settings = dynamodb_settings(env)
        configs = [
            controller_config(
                env,
                env.outputs["approval_queue_url"],
                workdir / f"{mode}-{controllers}-{index}.sqlite3",
                AWS_ENDPOINT_URL=endpoint,
                **settings,
            )
            for index in range(controllers)
        ]
        emulator_cpu, machine = _process_cpu_seconds(env.process.pid), _machine_jiffies()
        began = time.perf_counter()
        with ExitStack() as stack:
            ctls: list[Controller] = [stack.enter_context(controller(config)) for config in configs]
            started = time.perf_counter() - began
            progress = Progress(args.orders, f"{label}: pull and approve")
            with thread_pool(controllers) as pool:
                shares = [
                    pool.submit(_approve_share, ctl.url, n, controllers, mode, progress) for n, ctl in enumerate(ctls)
                ]
                relisted = sum(share.result(timeout=PHASE_TIMEOUT_SECONDS) for share in shares)
            progress.bar.close()
            elapsed = time.perf_counter() - began
            table = _sums([ctl.table for ctl in ctls if ctl.table])
            aws = _sums([ctl.counter for ctl in ctls])
        busy, total = (now - then for now, then in zip(_machine_jiffies(), machine, strict=True))
        return {
            "approvals_per_second": round(args.orders / elapsed, 2),
            "seconds": round(elapsed, 2),
            "controllers_start_seconds": round(started, 2),
            "table_requests": sum(table.values()),
            "table_requests_by_operation": dict(sorted(table.items())),
            "table_seconds_by_operation": {
                operation: round(sum(ctl.table.seconds[operation] for ctl in ctls if ctl.table), 2)
                for operation in sorted(table)
            },
            "relisted_after_approval": relisted,
            "sqs_and_sfn_requests_per_approval": round(sum(aws.values()) / args.orders, 3),
            "emulator_cores_busy": round((_process_cpu_seconds(env.process.pid) - emulator_cpu) / elapsed, 2),
            "machine_cores_busy": round(busy / total * (os.cpu_count() or 1), 2),
        }


def _rates(counter: AwsCallCounter, seconds: float) -> dict[str, float]:
    return {operation: round(count / seconds, 2) for operation, count in sorted(counter.sends.items())}


def idle_polling(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One controller on an empty table and queue: its requests per second, without and with an /events stream."""
    with running_emulator(workdir / "idle") as env, aws_endpoint(env, args.aws_latency_ms) as endpoint:
        config = controller_config(
            env,
            env.outputs["approval_queue_url"],
            workdir / "idle.sqlite3",
            AWS_ENDPOINT_URL=endpoint,
            PULL_WAIT_SECONDS=20,
            **dynamodb_settings(env),
        )
        with controller(config) as ctl:
            assert ctl.table is not None
            time.sleep(IDLE_WARM_UP_SECONDS)
            measured: dict[str, Any] = {}
            for case in ("no_stream", "one_stream"):
                with ExitStack() as stack:
                    if case == "one_stream":  # a browser on the page: the events tail reads the table
                        stack.enter_context(
                            requests.get(f"{ctl.url}/events", stream=True, timeout=HTTP_TIMEOUT_SECONDS)
                        )
                        time.sleep(1)
                    ctl.table.reset()
                    ctl.counter.reset()
                    time.sleep(args.idle_seconds)
                    table = _rates(ctl.table, args.idle_seconds)
                    measured[f"idle_table_requests_per_second_{case}"] = round(sum(table.values()), 2)
                    measured[f"idle_table_requests_by_operation_{case}"] = table
                    measured[f"idle_sqs_and_sfn_requests_per_second_{case}"] = round(
                        sum(_rates(ctl.counter, args.idle_seconds).values()), 2
                    )
    return measured


def events_elsewhere(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Controller A pulls and stores; B (no background work) is only read: start -> `stored` on B's /events."""
    with running_emulator(workdir / "events") as env, aws_endpoint(env, args.aws_latency_ms) as endpoint:
        settings = {**dynamodb_settings(env), "AWS_ENDPOINT_URL": endpoint}
        queue = env.outputs["approval_queue_url"]
        with (
            controller(controller_config(env, queue, workdir / "a.sqlite3", **settings)),
            controller(controller_config(env, queue, workdir / "b.sqlite3", BACKGROUND=False, **settings)) as other,
        ):
            flow = Flow()
            listening = in_background(listen, other.url, args.steady_orders, flow)
            time.sleep(0.5)  # the stream is open before the first order starts
            start_steadily(env.outputs, args, flow)
            listening.result(timeout=PHASE_TIMEOUT_SECONDS)
    to_event = [flow.announced[name] - sent for name, sent in flow.started.items()]
    return {
        "start_to_event_elsewhere_p50_ms": percentile_ms(to_event, 50),
        "start_to_event_elsewhere_p95_ms": percentile_ms(to_event, 95),
        "start_to_event_elsewhere_max_ms": round(max(to_event) * 1000, 2),
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
    """One row per store, mode and number of controllers; the table's requests per approval net of the idle
    polling the controllers would have done in the same time; the targets of the shared store."""
    idle_rate = results["idle"]["idle_table_requests_per_second_no_stream"]
    rows: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        sqlite = results[f"sqlite_{mode}"]
        rows[f"sqlite_{mode}_x1"] = {
            "approvals_per_second": sqlite["approvals_per_second"],
            "sqs_and_sfn_requests_per_approval": sqlite["controller_requests_per_approval"],
        }
        for controllers in args.controllers:
            row = dict(results[f"dynamodb_{mode}_x{controllers}"])
            polling = idle_rate * controllers * row["seconds"]
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
        f"bulk_x{most}_over_x1": round(
            rows[f"dynamodb_bulk_x{most}"]["approvals_per_second"] / rows["dynamodb_bulk_x1"]["approvals_per_second"], 2
        ),
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
        ("table req/approval", "table_requests_per_approval"),
        ("net of polling", "table_requests_per_approval_net_of_polling"),
        ("SQS+SFN req/approval", "sqs_and_sfn_requests_per_approval"),
        ("emulator cores", "emulator_cores_busy"),
        ("machine cores", "machine_cores_busy"),
    )
    print(f"AWS latency added: {summary['aws_latency_ms']} ms per request; {summary['orders']} orders per drain")
    print(f"{'':20}" + "".join(f"{title:>22}" for title, _ in columns))
    for name, row in summary["rows"].items():
        print(f"{name:20}" + "".join(f"{row.get(key, '-')!s:>22}" for _, key in columns))
    print("\ntable requests by operation:")
    for name, row in summary["rows"].items():
        if "table_requests_by_operation" in row:
            print(f"  {name:20} {row['table_requests_by_operation']}")
            print(f"  {'':20} seconds: {row['table_seconds_by_operation']}")
            print(
                f"  {'':20} controllers' start {row['controllers_start_seconds']} s of {row['seconds']} s;"
                f" listed again after approval: {row['relisted_after_approval']}"
            )
    print()
    for key, value in summary.items():
        if key.startswith(("idle_", "start_to_event", "bulk_x")):
            print(f"{key:48} {value!s}")
    print_targets(summary)
