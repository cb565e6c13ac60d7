"""Inputs past the spec's limits are refused by a real ``python -m core`` in one line.

Config and search-space files that are not small UTF-8 text (UTF-16, Latin-1, random bytes, a
FIFO, a 100 MB file, ``/dev/zero``) or that Python cannot parse (100,000-deep nesting, a
5,000-digit number); grids too large to run; searches keras-tuner or training would fail
whole; values training cannot honour. Each exits with status 2, prints one line naming the
field or the file, no traceback, and queues nothing. Every process has a timeout and a memory
limit, so a hang or a runaway read fails its test rather than the suite or the machine.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.store import Store

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
# Refusals come before TensorFlow is imported; a process that reads on is stopped here.
MEMORY_LIMIT = 2 * 2**30
TIMEOUT_S = 60


SPACES = {
    "grid_int": [{"key": "batch_size", "kind": "int", "low": 1, "high": 10**12}],
    "grid_float": [
        {"key": "learning_rate", "kind": "float", "low": 1e-6, "high": 1e6, "step": 1e-6}
    ],
    "float_epochs": [{"key": "epochs", "kind": "float", "low": 2, "high": 5}],
    "list_choices": [{"key": "filters", "kind": "choice", "values": [[16, 64], [32, 128]]}],
    "text_step": [{"key": "dropout", "kind": "float", "low": 0.1, "high": 0.5, "step": "0.1"}],
    "int_log": [{"key": "dense_units", "kind": "int", "low": 16, "high": 1024, "log": True}],
}


def _files(folder: Path) -> dict[str, str]:
    """Write each bad file once; return placeholder -> path."""
    made = {
        "utf16": '{"epochs": 3}'.encode("utf-16"),
        "latin1": '{"dataset": "café"}'.encode("latin-1"),
        "random": random.Random(0).randbytes(4096),
        "deep": b"[" * 100_000 + b"]" * 100_000,
        "digits": b'{"epochs": ' + b"1" * 5000 + b"}",
        "bom": '\ufeff{"epochs": 0}'.encode(),
        "deep_space": b"[" * 100_000 + b"]" * 100_000,
    }
    paths = {}
    for name, data in made.items():
        path = folder / f"{name}.json"
        path.write_bytes(data)
        paths[f"{{{name}}}"] = str(path)
    big = folder / "big.json"
    with big.open("wb") as handle:
        handle.truncate(100 * 2**20)  # sparse: 100 MB long, no disk used
    fifo = folder / "fifo.json"
    os.mkfifo(fifo)
    paths.update({"{big}": str(big), "{fifo}": str(fifo), "{zero}": "/dev/zero"})
    for name, space in SPACES.items():
        path = folder / f"space_{name}.json"
        path.write_text(json.dumps(space))
        paths[f"{{space_{name}}}"] = str(path)
    return paths


@dataclass(frozen=True)
class Bad:
    """A command line past a limit, the field its refusal names, and words it must say."""

    argv: tuple[str, ...]
    field: str
    words: str

    def __str__(self) -> str:
        return " ".join(self.argv)[:70]


GRID = ("tune", "--tuner", "grid", "--max-trials", "5", "--space")
RANDOM = ("tune", "--tuner", "random", "--max-trials", "3", "--space")
ROWS = [
    # -- config files ---------------------------------------------------------------
    Bad(("train", "--config", "{utf16}"), "--config", "{utf16} is not UTF-8 text"),
    Bad(("train", "--config", "{latin1}"), "--config", "{latin1} is not UTF-8 text"),
    Bad(("train", "--config", "{random}"), "--config", "{random} is not UTF-8 text"),
    Bad(("train", "--config", "{deep}"), "config", "{deep} nests lists or objects too deeply"),
    Bad(("train", "--config", "{digits}"), "config", "{digits} holds a number of more than"),
    Bad(("train", "--config", "{fifo}"), "--config", "{fifo} is a named pipe (FIFO)"),
    Bad(("train", "--config", "{big}"), "--config", "{big} is 104,857,600 bytes"),
    Bad(("train", "--config", "{zero}"), "--config", "/dev/zero is a device"),
    Bad(("train", "--config", "{bom}"), "epochs", "at least 1"),  # a UTF-8 BOM reads fine
    # -- search-space files ---------------------------------------------------------
    Bad((*RANDOM, "{utf16}"), "--space", "{utf16} is not UTF-8 text"),
    Bad((*RANDOM, "{fifo}"), "--space", "{fifo} is a named pipe (FIFO)"),
    Bad((*RANDOM, "{zero}"), "--space", "/dev/zero is a device"),
    Bad((*RANDOM, "{deep_space}"), "space", "{deep_space} nests lists or objects too deeply"),
    # -- grids too large to run -----------------------------------------------------
    Bad(
        (*GRID, "{space_grid_int}"),
        "batch_size",
        "grid search would try 1,000,000,000,000 combinations; the most it runs is 100,000",
    ),
    Bad(
        (*GRID, "{space_grid_float}"),
        "learning_rate",
        "grid search would try 1,000,000,000,000 combinations",
    ),
    # -- searches keras-tuner or training would fail whole --------------------------
    Bad((*RANDOM, "{space_float_epochs}"), "epochs", "use an int range"),
    Bad((*RANDOM, "{space_list_choices}"), "filters", "is not a single value"),
    Bad((*RANDOM, "{space_text_step}"), "dropout", "needs a number for step"),
    Bad((*RANDOM, "{space_int_log}"), "dense_units", "step of 2 or more"),
    Bad(
        ("tune", "--preset", "report000", "--set", "warmup_epochs=2"),
        "warmup_epochs",
        "Hyperband's first rounds train 2 epoch(s)",
    ),
    # -- values training cannot honour ----------------------------------------------
    Bad(("train", "--set", f"lr_decay_steps={2**63}"), "lr_decay_steps", "at most 10,000"),
    Bad(("train", "--set", "gradient_clip=1e308"), "gradient_clip", "at most 1,000,000"),
    Bad(("train", "--set", "lr_patience=1000000000"), "lr_patience", "at most 10,000"),
    Bad(
        ("train", "--set", "early_stopping_patience=1000000000"),
        "early_stopping_patience",
        "at most 10,000",
    ),
    Bad(
        ("train", "--epochs", "5", "--set", "warmup_epochs=20"),
        "warmup_epochs",
        "fewer warm-up epochs than epochs",
    ),
    Bad(("train", "--set", "epochs=" + "1" * 5000), "epochs", "must be a whole number"),
]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _files(tmp_path_factory.mktemp("bad-files"))


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_input_past_a_limit_is_refused_in_one_line(
    row: Bad, files: dict[str, str], store: Store
) -> None:
    argv = [files.get(a, a) for a in row.argv]
    words = row.words
    for placeholder, path in files.items():
        words = words.replace(placeholder, path)
    out = subprocess.run(
        [sys.executable, "-m", "core", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        preexec_fn=_limit_memory,
    )
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr[-2000:]
    assert lines[0].startswith(f"error: {row.field}: "), lines[0]
    assert words in lines[0], lines[0]
    assert len(lines[0]) < 400
    assert store.studies() == [] and store.trials() == []
