"""The shared table's two single measures, with controller processes behind the counting proxy: what an idle
controller polls, and how soon a request one controller stored is announced on another's /events."""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests

from bench.approvals.common import PHASE_TIMEOUT_SECONDS
from bench.approvals.counted import Requests, counted_emulator, rates
from bench.approvals.flow import Flow, listen, start_steadily
from bench.measure import HTTP_TIMEOUT_SECONDS, in_background, percentile_ms
from harness.processes import running_controllers
from harness.tables import dynamodb_settings

IDLE_WARM_UP_SECONDS = 3  # the first rounds of background work are not idle polling


def idle_polling(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One controller on an empty table and queue: the table requests of its start-up (until it serves), then
    its requests per second, without and with an /events stream."""
    with (
        counted_emulator(workdir / "idle", args.aws_latency_ms) as (env, proxy),
        running_controllers(
            env,
            env.outputs["approval_queue_url"],
            workdir / "idle",
            1,
            proxy.url,
            PULL_WAIT_SECONDS="20",
            **dynamodb_settings(env),
        ) as (ctl,),
    ):
        measured: dict[str, Any] = {"start_up_table_requests": sum(Requests.of(proxy).table.values())}
        time.sleep(IDLE_WARM_UP_SECONDS)
        for case in ("no_stream", "one_stream"):
            with ExitStack() as stack:
                if case == "one_stream":  # a browser on the page: the events tail reads the table
                    stack.enter_context(requests.get(f"{ctl.url}/events", stream=True, timeout=HTTP_TIMEOUT_SECONDS))
                    time.sleep(1)
                proxy.reset_counts()
                time.sleep(args.idle_seconds)
                counted = Requests.of(proxy)
                table = rates(counted.table, args.idle_seconds)
                measured[f"idle_table_requests_per_second_{case}"] = round(sum(table.values()), 2)
                measured[f"idle_table_requests_by_operation_{case}"] = table
                measured[f"idle_sqs_and_sfn_requests_per_second_{case}"] = round(
                    sum(counted.others.values()) / args.idle_seconds, 2
                )
    return measured


def events_elsewhere(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Controller A pulls and stores; B (no background work) is only read: start -> `stored` on B's /events."""
    with counted_emulator(workdir / "events", args.aws_latency_ms) as (env, proxy):
        settings, queue = dynamodb_settings(env), env.outputs["approval_queue_url"]
        with (
            running_controllers(env, queue, workdir / "events-a", 1, proxy.url, **settings),
            running_controllers(env, queue, workdir / "events-b", 1, proxy.url, BACKGROUND="false", **settings) as (
                other,
            ),
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
