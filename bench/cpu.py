"""Where a run's CPU time goes: each named process's, the emulator's helpers', the whole machine's (Linux /proc)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces); [] once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return []


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far; 0 for one that is gone (or not started yet)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS if fields else 0.0


def helpers_cpu_seconds(leader: int) -> float:
    """CPU time so far of the processes in the session `leader` started, other than the leader (the emulator's
    Lambda runners); a helper that has ended is no longer counted."""
    helpers = (
        int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit() and entry.name != str(leader)
    )
    return sum(
        process_cpu_seconds(pid) for pid in helpers if (fields := _stat_fields(pid)) and fields[3] == str(leader)
    )


def _machine_jiffies() -> tuple[int, int]:
    """Busy and total CPU time of the whole machine so far, every core and every process (Linux /proc)."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return sum(values) - idle, sum(values)


@dataclass(frozen=True)
class CpuUse:
    """Cores busy over one stretch of wall time: CPU seconds over wall seconds, per process and machine-wide."""

    wall_seconds: float
    cores_by_process: dict[str, float]
    machine_cores: float  # every process of every user, this run's and others'


class CpuMeter:
    """Started at a moment; tells the cores each named process (and the emulator's helpers) used since then.

    Processes are named at reading time by pid, so one started after the meter counts from its start.
    """

    def __init__(self, emulator_pid: int) -> None:
        self.emulator_pid = emulator_pid
        self.began = time.perf_counter()
        self.before = self._read({})
        self.machine = _machine_jiffies()

    def _read(self, processes: Mapping[str, int]) -> dict[str, float]:
        return {
            "bench": process_cpu_seconds(os.getpid()),
            "emulator": process_cpu_seconds(self.emulator_pid),
            "emulator helpers": helpers_cpu_seconds(self.emulator_pid),
            **{name: process_cpu_seconds(pid) for name, pid in processes.items()},
        }

    def use(self, processes: Mapping[str, int]) -> CpuUse:
        """The cores used since the start, by the bench, the emulator, its helpers and these processes."""
        wall = time.perf_counter() - self.began
        now = self._read(processes)
        busy, total = (later - earlier for later, earlier in zip(_machine_jiffies(), self.machine, strict=True))
        return CpuUse(
            wall_seconds=round(wall, 2),
            cores_by_process={name: round((now[name] - self.before.get(name, 0.0)) / wall, 2) for name in now},
            machine_cores=round(busy / total * (os.cpu_count() or 1), 2),
        )
