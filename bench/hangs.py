"""Measure what a hung AWS endpoint and slow clients cost the controller's other answers.

1. The emulator is stopped with SIGSTOP for --hang-seconds while ten clients load the page (which
   needs AWS): /health's latency throughout, and how long a decision sent during the hang takes
   to be answered (and with what).
2. --slow connections each send half a request and wait: /health's and /pending's latency then.

    .venv/bin/python -m bench.hangs --hang-seconds 40 --slow 120
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import requests

from bench.measure import percentile_ms
from harness.controllers import controller_config, served_controller
from harness.emulator import hung, running_emulator
from harness.proxy import half_requests
from harness.stacks import make_stack

LOADERS = 10


def _timed(method: str, url: str, timeout: float = 120) -> tuple[float, int]:
    started = time.perf_counter()
    status = requests.request(method, url, timeout=timeout).status_code
    return time.perf_counter() - started, status


def _load(url: str, stop: threading.Event) -> None:
    with requests.Session() as session:
        while not stop.is_set():
            session.get(url, timeout=120)


def during_hang(workdir: Path, hang_seconds: float) -> dict[str, Any]:
    """Return /health's latencies and a decision's answer while AWS hangs under page load."""
    with running_emulator(workdir / "emulator") as emulator:
        stack = make_stack(emulator)
        config = controller_config(emulator, stack.queue_url, workdir / "hang.sqlite3")
        with served_controller(config) as controller:
            name = stack.start()
            controller.wait_for_pending(name)
            health: list[float] = []
            stop = threading.Event()
            with hung(emulator), ThreadPoolExecutor(LOADERS + 1) as pool:
                for _ in range(LOADERS):
                    pool.submit(_load, controller.url + "/", stop)
                time.sleep(1)  # let the loaders take the AWS slots first
                decision = pool.submit(_timed, "POST", f"{controller.url}/approve/{name}")
                deadline = time.monotonic() + hang_seconds
                while time.monotonic() < deadline:
                    health.append(_timed("GET", controller.url + "/health", timeout=hang_seconds)[0])
                    time.sleep(0.2)
                stop.set()
                decided_seconds, decided_status = decision.result()
    return {
        "health_requests": len(health),
        "health_p50_ms": percentile_ms(health, 50),
        "health_p99_ms": percentile_ms(health, 99),
        "health_max_ms": round(max(health) * 1000, 1),
        "decision_status": decided_status,
        "decision_seconds": round(decided_seconds, 2),
    }


def with_slow_clients(workdir: Path, count: int) -> dict[str, Any]:
    """Return /health's and /pending's latency while `count` connections each hold half a request."""
    with running_emulator(workdir / "emulator-slow") as emulator:
        stack = make_stack(emulator)
        config = controller_config(emulator, stack.queue_url, workdir / "slow.sqlite3")
        with served_controller(config) as controller:
            slow = half_requests(controller.url, count)
            try:
                health = [_timed("GET", controller.url + "/health", timeout=30)[0] for _ in range(50)]
                pending = [_timed("GET", controller.url + "/pending", timeout=30)[0] for _ in range(20)]
            finally:
                for connection in slow:
                    connection.close()
    return {
        "slow_connections": count,
        "health_p50_ms": percentile_ms(health, 50),
        "health_max_ms": round(max(health) * 1000, 1),
        "pending_p50_ms": percentile_ms(pending, 50),
        "pending_max_ms": round(max(pending) * 1000, 1),
    }


def main() -> None:
    """Run both measurements and print them as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.hangs", description=__doc__.splitlines()[0])
    parser.add_argument("--hang-seconds", type=float, default=40)
    parser.add_argument("--slow", type=int, default=120)
    args = parser.parse_args()
    with TemporaryDirectory(prefix="bench-hangs-") as workdir:
        results = {
            "aws_hang": during_hang(Path(workdir), args.hang_seconds),
            "slow_clients": with_slow_clients(Path(workdir), args.slow),
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
