"""python -m emulator --empty: an AWS endpoint with nothing in it, for Terraform to deploy into."""

from __future__ import annotations

from pathlib import Path

from harness.emulator import running_emulator


def test_an_empty_emulator_creates_nothing_and_writes_only_where_it_serves(tmp_path: Path) -> None:
    with running_emulator(tmp_path, "--empty") as emulator:
        assert set(emulator.outputs) == {"aws_endpoint_url", "aws_region", "api_gateway_url"}
        assert emulator.client("sqs").list_queues().get("QueueUrls", []) == []
        assert emulator.client("lambda").list_functions()["Functions"] == []
        assert emulator.client("stepfunctions").list_state_machines()["stateMachines"] == []
