"""What each worker of a pool may use: its GPU, or its share of the CPU's cores.

Read without TensorFlow, so the pool's supervisor stays light: the GPUs are the ones
``nvidia-smi`` lists, narrowed by ``CUDA_VISIBLE_DEVICES`` when it is set, and the cores are
the ones this process may run on. With GPUs, worker ``i`` sees only GPU ``i`` (round robin
when there are more workers than GPUs); every worker also gets its own share of the cores,
so that several workers on one CPU do not fight over the same ones.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

import psutil

GPU_ENV = "CUDA_VISIBLE_DEVICES"
CPUS_ENV = "HPE_WORKER_CPUS"  # the cores a pool gives one worker, as "0,1"
_QUERY_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Share:
    """What one worker of a pool may use.

    Attributes:
        gpu: The GPU it sees (an index or UUID as ``CUDA_VISIBLE_DEVICES`` takes it), or None
            on a machine without GPUs.
        cpus: The cores it runs on.
    """

    gpu: str | None
    cpus: tuple[int, ...]

    def env(self) -> dict[str, str]:
        """The environment variables that give a worker process this share."""
        values = {CPUS_ENV: ",".join(str(cpu) for cpu in self.cpus)}
        if self.gpu is not None:
            values[GPU_ENV] = self.gpu
        return values

    def describe(self) -> str:
        """``GPU 1, cores 8-15``, as the worker's log says it."""
        first, last = self.cpus[0], self.cpus[-1]
        span = f"core {first}" if first == last else f"cores {first}-{last}"
        if len(self.cpus) > 1 and list(self.cpus) != list(range(first, last + 1)):
            span = "cores " + ",".join(str(cpu) for cpu in self.cpus)
        return span if self.gpu is None else f"GPU {self.gpu}, {span}"


def visible_gpus() -> list[str]:
    """The GPUs a process started from here may use, as ``CUDA_VISIBLE_DEVICES`` names them.

    An empty list on a machine without an NVIDIA driver, or when ``CUDA_VISIBLE_DEVICES`` is
    set to nothing (or to ``-1``), which hides every GPU.
    """
    listed = os.environ.get(GPU_ENV)
    if listed is not None:
        names = [name.strip() for name in listed.split(",") if name.strip()]
        return [] if names[:1] == ["-1"] else names
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return []
    try:
        done = subprocess.run(
            [tool, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=_QUERY_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip().isdigit()]


def usable_cpus() -> list[int]:
    """The cores this process may run on (all of them where the system cannot say)."""
    try:
        return sorted(psutil.Process().cpu_affinity())
    except (AttributeError, psutil.Error, OSError):  # macOS has no CPU affinity
        return list(range(os.cpu_count() or 1))


def default_workers() -> int:
    """How many workers ``HPE_WORKERS=auto`` starts: one per visible GPU, else one."""
    return max(1, len(visible_gpus()))


def shares(
    workers: int, gpus: list[str] | None = None, cpus: list[int] | None = None
) -> list[Share]:
    """Split this machine among ``workers`` workers.

    Args:
        workers: How many workers the pool runs.
        gpus: The GPUs to hand out (default: :func:`visible_gpus`).
        cpus: The cores to hand out (default: :func:`usable_cpus`).

    Returns:
        One share per worker: GPUs round robin, cores in contiguous blocks as even as they can
        be (each worker gets at least one core; more workers than cores share them in turn).
    """
    gpus = visible_gpus() if gpus is None else gpus
    cpus = usable_cpus() if cpus is None else cpus
    result = []
    for index in range(workers):
        if workers <= len(cpus):
            block = tuple(cpus[index * len(cpus) // workers : (index + 1) * len(cpus) // workers])
        else:
            block = (cpus[index % len(cpus)],)
        result.append(Share(gpus[index % len(gpus)] if gpus else None, block))
    return result


def given_cpus() -> tuple[int, ...] | None:
    """The cores the pool gave this worker process (``HPE_WORKER_CPUS``), or None if none."""
    raw = os.environ.get(CPUS_ENV, "").strip()
    if not raw:
        return None
    try:
        cpus = tuple(int(part) for part in raw.split(","))
    except ValueError:
        return None
    return cpus or None


def take_cpus(cpus: tuple[int, ...]) -> bool:
    """Run this process (and the processes it starts) on ``cpus`` only, where the system can.

    Returns:
        True if the system pinned it; False where it cannot (macOS), in which case only the
        thread counts a worker sets keep it to its share.
    """
    try:
        psutil.Process().cpu_affinity(list(cpus))
    except (AttributeError, psutil.Error, OSError, ValueError):
        return False
    return True
