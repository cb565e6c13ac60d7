"""What ``python -m core`` prints of what people typed: one line each, drawn as it reads.

Names, folders and values reach the output as they were typed; a control character among
them (ESC, a newline, a bidi override) is printed as an escape such as ``\\x1b``, while the
letters of every script are printed as they are. Each test runs the command as its own
process over a store built directly, so none of them trains.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cli.args import show_progress
from core.spec.config import RunConfig
from core.store import Status, Store

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "a\x1b[2Jb\nfake line"  # clears the screen, then forges a line
KOREAN = "해파리 café"
# Anything a terminal acts on or draws as nothing, C0 and C1 controls, bidi overrides, zero width.
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        env=env,
    )


@pytest.fixture
def typed(store: Store, tmp_path: Path) -> dict[str, int]:
    """Three trials whose names people typed: one finished after 2 of its 3 epochs."""
    _, (hostile,) = store.create_study(HOSTILE, "single", [RunConfig(epochs=3)], reserve_for=1)
    assert store.claim(hostile, pid=1)
    for epoch, accuracy in enumerate([0.5, 0.6]):
        store.add_epoch(hostile, epoch, {"val_accuracy": accuracy, "val_loss": 1.0}, 1.0)
    store.finish_trial(hostile, Status.CANCELLED, error="stopped\x1b[31m\nby hand")
    _, (korean,) = store.create_study(KOREAN, "single", [RunConfig(epochs=4)])
    folder = tmp_path / "imgs\x1b]0;owned\x07\u202e"  # sets the window title, then reverses
    _, (images,) = store.create_study("folder", "single", [RunConfig(dataset=str(folder))])
    return {"hostile": hostile, "korean": korean, "images": images}


def test_runs_prints_typed_names_escaped_one_row_per_trial(typed: dict[str, int]) -> None:
    out = cli("runs")
    assert out.returncode == 0, out.stderr
    assert not CONTROL.search(out.stdout)
    header, *rows = out.stdout.splitlines()
    assert len(rows) == 3 and header.split()[10:13] == ["epochs", "done", "status"]
    row = {int(line.split()[0]): line for line in rows}
    assert "a\\x1b[2Jb\\nfake line" in row[typed["hostile"]]
    assert row[typed["hostile"]].split()[-9:-7] == ["2", "cancelled"]  # done, then status
    assert KOREAN in row[typed["korean"]]
    assert "imgs\\x1b]0;owned\\x07\\u202e" in row[typed["images"]]


def test_runs_json_counts_finished_epochs_and_escapes_control_characters(
    store: Store, typed: dict[str, int]
) -> None:
    out = cli("runs", "--json")
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.splitlines()
    assert not CONTROL.search(line)
    rows = {r["trial"]: r for r in json.loads(line)["rows"]}
    for trial in typed.values():
        assert rows[trial]["epochs_run"] == len(store.epochs(trial))
    assert rows[typed["hostile"]]["epochs_run"] == 2 and rows[typed["hostile"]]["epochs"] == 3
    assert rows[typed["hostile"]]["study_name"] == HOSTILE  # the JSON holds the name as typed
    assert rows[typed["korean"]]["study_name"] == KOREAN


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["train", "--set", "x\x1b[2Jy=1"], "x\\x1b[2Jy: unknown setting."),
        (["train", "--dataset", "/no/such\x1b[2J\nfake"], "there is no folder at /no/such\\x1b"),
        (["sweep", "--param", "lr\u202e", "--values", "1,2"], "lr\\u202e: cannot be swept"),
        (["tune", "--space", "/no/space\x1b[1A.json"], "cannot read /no/space\\x1b[1A.json"),
        (["runs", "\x1b[2J\nerror: forged"], "unrecognized arguments: \\x1b[2J\\nerror: forged"),
    ],
    ids=["unknown-setting", "dataset-folder", "swept-setting", "space-file", "extra-argument"],
)
def test_an_error_quoting_typed_text_is_one_escaped_line(
    cache: Path, argv: list[str], shown: str
) -> None:
    out = cli(*argv)
    assert out.returncode == 2
    (line,) = out.stderr.splitlines()
    assert line.startswith("error: ") and shown in line and not CONTROL.search(line)


def test_a_damaged_store_under_a_typed_folder_is_named_on_one_line(tmp_path: Path) -> None:
    root = tmp_path / "cache\x1b[2J\nfake"
    root.mkdir()
    (root / "store.sqlite").write_bytes(b"not a database" * 400)
    out = cli("runs", env={**os.environ, "HPE_CACHE_DIR": str(root)})
    assert out.returncode == 1
    (line,) = out.stderr.splitlines()
    assert "cache\\x1b[2J\\nfake" in line and "damaged" in line and not CONTROL.search(line)


@pytest.fixture
def _cli_logger() -> Iterator[None]:
    """Put the ``core.cli`` logger back as it was after the test."""
    target = logging.getLogger("core.cli")
    handlers, level, propagate = list(target.handlers), target.level, target.propagate
    yield
    target.handlers[:] = handlers
    target.setLevel(level)
    target.propagate = propagate


@pytest.mark.usefixtures("_cli_logger")
def test_a_progress_line_quoting_a_name_is_one_escaped_line() -> None:
    stream = io.StringIO()
    show_progress(stream)  # what train, sweep, tune and fork write their lines through
    logging.getLogger("core.cli.train").info("study %d: %s, %d epochs", 3, HOSTILE, 5)
    logging.getLogger("core.cli.tune").info("why: %s", f"trial #2 failed: {KOREAN}\u202e")
    assert stream.getvalue().splitlines() == [
        "study 3: a\\x1b[2Jb\\nfake line, 5 epochs",
        f"why: trial #2 failed: {KOREAN}\\u202e",
    ]
