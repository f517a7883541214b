"""A store that cannot be written for minutes while orders arrive, with the stack's own queue settings.

The tests shorten the queue's visibility timeout and maxReceiveCount to show the same in seconds; this
run keeps stack.json's (60 s, 5 receives: a request the controller could not store would reach the
dead-letter queue after about 5 minutes) and holds the database's disk full for --minutes (10).
Needs root, to mount the tmpfs that is filled. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import requests

from harness.controllers import controller_config, served_controller
from harness.disk import small_disk
from harness.emulator import running_emulator
from harness.stacks import make_stack
from harness.waiting import wait_for
from stack.definition import load_stack

SAMPLE_SECONDS = 5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10, help="how long the disk stays full")
    parser.add_argument("--order-every", type=float, default=30, help="seconds between orders during the outage")
    return parser.parse_args()


def outage(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Fill the disk, start orders throughout, free it; return what happened to every order."""
    queue = load_stack()["approval_queue"]
    with running_emulator(workdir / "emulator") as env, small_disk() as disk:
        stack = make_stack(
            env,
            visibility_timeout_seconds=queue["visibility_timeout_seconds"],
            max_receive_count=queue["max_receive_count"],
        )
        # the controller leaves the dead-letter queue alone, so it shows whatever reached it
        config = controller_config(env, stack.queue_url, disk.path / "approvals.sqlite3", DEAD_LETTER_QUEUE_URL=None)
        with served_controller(config) as ctl:
            disk.fill()
            names, health, dead, next_order = [], [], [], 0.0
            began = time.monotonic()
            while (elapsed := time.monotonic() - began) < args.minutes * 60:
                if elapsed >= next_order:
                    names.append(stack.start())
                    next_order += args.order_every
                health.append(requests.get(ctl.url + "/health", timeout=10).status_code)
                dead.append(stack.dead_letter_depth())
                time.sleep(SAMPLE_SECONDS)
            disk.free()
            freed = time.monotonic()
            wait_for(lambda: requests.get(ctl.url + "/health", timeout=10).status_code == 200, 60, "/health ok")
            for name in names:
                ctl.wait_for_pending(name, timeout=120)
            recovered = time.monotonic() - freed
            decided = requests.post(ctl.url + "/approve", json={"ids": names}, timeout=120).json()
            return {
                "outage_minutes": args.minutes,
                "visibility_timeout_seconds": queue["visibility_timeout_seconds"],
                "max_receive_count": queue["max_receive_count"],
                "orders_during_outage": len(names),
                "health_samples": len(health),
                "health_503_samples": health.count(503),
                "dead_letter_max": max(dead),
                "dead_letter_after": stack.dead_letter_depth(),
                "all_pending_seconds_after_freeing": round(recovered, 1),
                "approved": decided["decided"],
            }


def main() -> None:
    args = parse_args()
    with TemporaryDirectory() as workdir:
        print(json.dumps(outage(args, Path(workdir)), indent=2))


if __name__ == "__main__":
    main()
