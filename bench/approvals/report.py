"""The summary of a run: one flat dictionary, the targets it is compared with, and the table a person reads."""

from __future__ import annotations

import argparse
import os
import platform
from typing import Any


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
    return verdicts(summary, wanted)


def verdicts(summary: dict[str, Any], wanted: list[tuple[str, str, float]]) -> list[dict[str, Any]]:
    """Each (metric, comparison, limit) with the measured value and whether it is met."""
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


def summarize(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
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
    return summary


def finished(summary: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Add the machine's conditions and the bench's duration to a summary."""
    summary["machine"] = {
        "cpu_count": os.cpu_count(),
        "load_average_at_end": [round(load, 2) for load in os.getloadavg()],
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
    print_targets(summary)


def print_targets(summary: dict[str, Any]) -> None:
    """Print the targets' verdicts and the machine's conditions."""
    print("\ntargets:")
    for target in summary["targets"]:
        verdict = "PASS" if target["met"] else "MISS"
        print(f"  {verdict}  {target['metric']:40} {target['measured']:>10} (target {target['target']})")
    print(f"\nmachine: {summary['machine']}; the bench took {summary['bench_seconds']} s")
