"""The store contract for leases on work: one owner at a time, given back when done, taken over once it ended,
also from an owner that was killed holding it; an owner refused learns whose the lease is and until when."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from controller.storage.dynamodb import DynamoDbBackend
from controller.storage.interface import Backend
from controller.storage.records import Lease
from controller.storage.sqlite import SqliteBackend
from harness.store_records import at
from harness.together import AT_ONCE, all_at_once
from harness.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
HOLD_SECONDS = 2.0  # how long the killed owner's lease lasts: the test waits that long for it to end

# A controller that takes a lease, says when, and stays until it is killed, holding it.
OWNER = """
import json, sys, time
from harness.store_records import at
from harness.together import AT_ONCE, all_at_once
recipe, work = json.loads(sys.argv[1]), sys.argv[2]
if recipe["kind"] == "sqlite":
    from controller.storage.sqlite import SqliteBackend
    backend = SqliteBackend(recipe["path"])
else:
    import boto3
    from controller.storage.dynamodb import DynamoDbBackend
    client = boto3.client("dynamodb", endpoint_url=recipe["endpoint"], region_name=recipe["region"],
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    backend = DynamoDbBackend(client, recipe["table"])
store = backend.open()
before = at(0)
lease = store.take_lease(work, "killed-owner", float(sys.argv[3]))
print(json.dumps({"taken": lease.held_by("killed-owner"), "ends": lease.expires_at, "before": before,
                  "after": at(0)}), flush=True)
time.sleep(600)
"""


def recipe(backend: Backend) -> dict[str, str]:
    """What another process needs to open the same store."""
    if isinstance(backend, SqliteBackend):
        return {"kind": "sqlite", "path": backend.path}
    assert isinstance(backend, DynamoDbBackend)
    client = backend.dynamodb
    return {
        "kind": "dynamodb",
        "endpoint": client.meta.endpoint_url,
        "region": client.meta.region_name,
        "table": backend.table,
    }


def later(timestamp: str, seconds: float) -> str:
    return (datetime.fromisoformat(timestamp) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def test_a_lease_held_refuses_other_owners_and_its_owner_extends_it(store) -> None:
    before = at(0)
    first = store.take_lease("check:exec-1", "controller-a", 300)
    assert first.held_by("controller-a") and first.expires_at >= later(before, 300)

    assert not store.take_lease("check:exec-1", "controller-b", 300).held_by("controller-b")
    extended = store.take_lease("check:exec-1", "controller-a", 600)
    assert extended.held_by("controller-a") and extended.expires_at > first.expires_at
    assert store.take_lease("check:exec-2", "controller-b", 300).held_by("controller-b")  # other work is free


def test_an_owner_refused_learns_whose_the_lease_is_and_until_when(store) -> None:
    held = store.take_lease("check:exec-1", "controller-a", 300)

    refused = store.take_lease("check:exec-1", "controller-b", 10)

    assert refused == Lease("controller-a", held.expires_at)


def test_a_lease_given_back_is_free_at_once_but_only_its_owner_can_give_it_back(store) -> None:
    store.take_lease("notify:exec-1", "controller-a", 300)

    store.drop_lease("notify:exec-1", "controller-b")
    assert store.take_lease("notify:exec-1", "controller-b", 300).owner == "controller-a"
    store.drop_lease("notify:exec-1", "controller-a")
    assert store.take_lease("notify:exec-1", "controller-b", 300).held_by("controller-b")


def test_a_lease_that_ended_is_taken_over_and_its_late_owner_cannot_give_it_back(store) -> None:
    store.take_lease("check:exec-1", "controller-a", 0)

    assert store.take_lease("check:exec-1", "controller-b", 300).held_by("controller-b")
    store.drop_lease("check:exec-1", "controller-a")  # finished too late: the lease is b's now
    assert store.take_lease("check:exec-1", "controller-c", 300).owner == "controller-b"


def test_one_piece_of_work_leased_by_several_controllers_at_once_goes_to_one(backend: Backend) -> None:
    owners = [f"controller-{number}" for number in range(AT_ONCE)]

    leases = all_at_once(backend, lambda store, owner: store.take_lease("notify:exec-1", owner, 300), owners)

    taken = [lease.held_by(owner) for lease, owner in zip(leases, owners, strict=True)]
    assert taken.count(True) == 1, leases
    assert len(set(leases)) == 1, leases  # each one refused was told of the one that got it


def test_the_lease_of_an_owner_killed_holding_it_is_taken_over_once_it_ends_and_not_before(
    backend: Backend,
) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, json.dumps(recipe(backend)), "check:exec-1", str(HOLD_SECONDS)],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert owner.stdout is not None
    held = json.loads(owner.stdout.readline())
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    owner.stdout.close()
    assert held["taken"]
    store = backend.open()

    def take_over() -> bool:
        started = at(0)
        lease = store.take_lease("check:exec-1", "controller-b", 300)
        taken = lease.held_by("controller-b")
        if taken:  # the store's clock had passed the lease's end, which is at least HOLD_SECONDS after `before`
            assert at(0) >= later(held["before"], HOLD_SECONDS)
        else:  # the lease was still running, which it does no later than HOLD_SECONDS after `after`
            assert started < later(held["after"], HOLD_SECONDS)
            assert lease == Lease("killed-owner", held["ends"])  # so asking again may wait until then
        return taken

    wait_for(take_over, HOLD_SECONDS + 30, "the killed owner's lease to be taken over")
    assert store.take_lease("check:exec-1", "killed-owner", 300).owner == "controller-b"  # b holds it now
    store.close()
