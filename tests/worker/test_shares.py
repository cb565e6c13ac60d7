"""How a pool splits the machine: one GPU per worker, or a block of cores each."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.worker import shares
from core.worker.shares import Share


def test_workers_get_contiguous_blocks_of_cores_as_even_as_they_can_be() -> None:
    got = shares.shares(3, gpus=[], cpus=list(range(8)))
    assert [s.cpus for s in got] == [(0, 1), (2, 3, 4), (5, 6, 7)]
    assert all(s.gpu is None for s in got)
    assert sorted(c for s in got for c in s.cpus) == list(range(8))  # every core, once


def test_more_workers_than_cores_share_them_in_turn() -> None:
    assert [s.cpus for s in shares.shares(3, gpus=[], cpus=[4, 5])] == [(4,), (5,), (4,)]


def test_each_worker_sees_its_own_gpu_round_robin() -> None:
    got = shares.shares(3, gpus=["0", "1"], cpus=list(range(4)))
    assert [s.gpu for s in got] == ["0", "1", "0"]
    assert got[1].env() == {shares.GPU_ENV: "1", shares.CPUS_ENV: "1"}
    assert got[1].describe() == "GPU 1, core 1"
    assert Share(None, (0, 1, 2)).describe() == "cores 0-2"
    assert Share(None, (0, 2)).describe() == "cores 0,2"


@pytest.mark.parametrize(
    ("listed", "expected"), [("0,2", ["0", "2"]), ("", []), ("-1", []), (" 3 ", ["3"])]
)
def test_cuda_visible_devices_decides_which_gpus_are_seen(
    listed: str, expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(shares.GPU_ENV, listed)
    assert shares.visible_gpus() == expected
    assert shares.default_workers() == max(1, len(expected))


def test_a_machine_without_gpus_runs_one_worker_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.delenv(shares.GPU_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi to ask
    assert shares.visible_gpus() == []
    assert shares.default_workers() == 1


def test_the_cores_given_to_a_worker_are_read_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(shares.CPUS_ENV, "0,1")
    assert shares.given_cpus() == (0, 1)
    monkeypatch.setenv(shares.CPUS_ENV, "nonsense")
    assert shares.given_cpus() is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux pins processes to cores")
def test_a_worker_is_pinned_to_its_cores_on_linux() -> None:
    code = (
        "from core.worker import shares; assert shares.take_cpus((0,)); print(shares.usable_cpus())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[0]"
