"""A fresh emulator with the latency proxy in front, through which every controller process of a shared-table
phase sends its AWS requests, so they are counted at one place: the table's per operation, and the rest."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.approvals.common import latency_proxy
from bench.latency_proxy import LatencyProxy
from harness.emulator import Emulator, running_emulator

TABLE_TARGET = "DynamoDB_20120810."  # X-Amz-Target's prefix for the table's operations


@dataclass(frozen=True)
class Requests:
    """What the proxy counted: the table's requests per operation, SQS's and Step Functions', the answers'
    error types (TransactionCanceledException: a transaction another writer beat to the head), and the
    seconds the table's requests waited for the emulator's answers, summed per operation."""

    table: dict[str, int]
    others: dict[str, int]
    errors: dict[str, int]
    table_seconds: dict[str, float]

    @classmethod
    def of(cls, proxy: LatencyProxy) -> Requests:
        operations, waits = proxy.operations.snapshot(), proxy.waits.snapshot()
        return cls(
            table={
                op.removeprefix(TABLE_TARGET): n for op, n in sorted(operations.items()) if op.startswith(TABLE_TARGET)
            },
            others={op: n for op, n in sorted(operations.items()) if not op.startswith(TABLE_TARGET)},
            errors=dict(sorted(proxy.errors.snapshot().items())),
            table_seconds={
                op.removeprefix(TABLE_TARGET): round(s, 2)
                for op, s in sorted(waits.items())
                if op.startswith(TABLE_TARGET)
            },
        )


def rates(counts: dict[str, int], seconds: float) -> dict[str, float]:
    """Requests per second of each operation."""
    return {operation: round(count / seconds, 2) for operation, count in counts.items()}


@contextmanager
def counted_emulator(workdir: Path, latency_ms: float) -> Iterator[tuple[Emulator, LatencyProxy]]:
    """A fresh emulator and the proxy in front of it (delaying each request by latency_ms, 0: none), until the
    block ends."""
    with running_emulator(workdir) as env, latency_proxy(env, latency_ms) as proxy:
        yield env, proxy
