"""``python -m core train``: the same job as the app, through the same store."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.args import config_flags, config_from_args
from core.cli.main import main
from core.spec.config import ConfigError, RunConfig
from core.store import Status, Store, paths
from tests.cli.conftest import run_here

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_train_json_ends_with_one_object_and_records_the_run(cache: Path) -> None:
    out = cli("train", "--dataset", "digits", "--epochs", "2", "--set", "model=mlp", "--json")
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.strip().splitlines()  # the progress went to stderr
    summary = json.loads(line)
    assert summary["status"] == "completed"
    assert 0.5 < summary["test_accuracy"] <= 1 and summary["test_loss"] > 0
    low, high = summary["test_accuracy_ci"]
    assert summary["test_images"] == 360 and low < summary["test_accuracy"] < high
    assert summary["val_images"] == 288 and len(summary["val_accuracy_ci"]) == 2
    assert Path(summary["artifacts"]["model"]).is_file()
    assert Path(summary["artifacts"]["weights"]).is_file()
    trial = Store(paths.store_path(cache)).trial(summary["trial"])
    assert trial.study_id == summary["study"] and trial.status == Status.COMPLETED
    assert trial.config["model"] == "mlp" and trial.config["epochs"] == 2
    assert "epoch 2/2" in out.stderr


def test_without_json_the_progress_lines_are_bare_on_stdout(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--dataset", "digits", "--epochs", "2", "--set", "model=mlp"]) == 0
    out, err = capsys.readouterr()
    (trial,) = store.trials()
    first, *epochs, last = out.strip().splitlines()
    assert first == f"study {trial.study_id}: mlp on digits, 2 epochs"
    assert len(epochs) == 2
    for number, line in enumerate(epochs, start=1):
        assert re.fullmatch(rf"epoch {number}/2  (\w+=[-+.e\d]+  )+\(\d+\.\ds\)", line), line
    accuracy, loss, r = trial.test_accuracy, trial.test_loss, trial.results
    (low, high), (vlow, vhigh) = r["test_accuracy_ci"], r["val_accuracy_ci"]
    assert last == (
        f"completed: test_accuracy={accuracy:.4f} (95% CI {low:.4f}-{high:.4f}, 360 images)  "
        f"test_loss={loss:.4f}  val_accuracy={r['val_accuracy']:.4f} "
        f"(95% CI {vlow:.4f}-{vhigh:.4f}, 288 images)"
    )
    assert "epoch 1/2" not in err and "completed" not in err


def test_config_file_and_set_are_merged(tmp_path: Path) -> None:
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"model": "mlp", "epochs": 5, "batch_size": 128}))
    args = config_flags().parse_args(["--config", str(config), "--epochs", "1", "--set", "seed=3"])
    cfg = config_from_args(args)
    assert (cfg.model, cfg.epochs, cfg.batch_size, cfg.seed) == ("mlp", 1, 128, 3)


def test_later_sources_win_over_earlier_ones(tmp_path: Path) -> None:
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"model": "mlp", "dropout": 0.2}))
    flags = ["--config", str(config), "--epochs", "2", "--set", "epochs=4", "--set", "epochs=6"]
    start = {"model": "resnet", "dropout": 0.4, "learning_rate": 0.01}
    cfg = config_from_args(config_flags().parse_args(flags), start)
    # The last --set over --epochs over the file. A file describes a whole run: what it leaves
    # out is the default, not what start said.
    assert (cfg.epochs, cfg.model, cfg.dropout) == (6, "mlp", 0.2)
    assert cfg.learning_rate == RunConfig().learning_rate
    # Without a file, start is kept where no flag says otherwise.
    kept = config_from_args(config_flags().parse_args(["--set", "dropout=0.1"]), start)
    assert (kept.model, kept.dropout, kept.learning_rate) == ("resnet", 0.1, 0.01)


def test_an_unreadable_config_file_is_named_as_the_flag(tmp_path: Path) -> None:
    args = config_flags().parse_args(["--config", str(tmp_path / "gone.json")])
    with pytest.raises(ConfigError, match="cannot read") as caught:
        config_from_args(args)
    assert caught.value.field == "--config"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--set", "batch_size=0"], "batch_size"),
        (["--set", "batch_size=100000"], "larger than the training set"),
        (["--epochs", "0"], "epochs"),
        (["--epochs", "many"], "invalid int value"),
        (["--set", "learning_rate=0"], "learning_rate"),
        (["--set", "learning_rate=NaN"], "finite"),
        (["--set", "dropout=1"], "dropout"),
        (["--dataset", "imagenet"], "choose one of"),
        (["--set", "model=vgg"], "model"),
        (["--dataset", "mnist"], "mnist.npz"),
        (["--set", "colour=red"], "unknown setting"),
        (["--set", "epochs"], "key=value"),
        (["--config", "does-not-exist.json"], "cannot read"),
        (
            ["--set", "filters=16,64,128"],
            "error: filters: Filters per block: 3 values for 2 conv blocks; give 2 (one per "
            "block), or set Conv blocks to 3.",
        ),
        (
            ["--set", "conv_blocks=5", "--set", "filters=16"],
            "Conv blocks: 8×8 images allow at most 3 blocks (each halves the size); got 5.",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_queues_nothing(
    store: Store, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    status, _, err = run_here(capsys, "train", *args)
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], err
    assert "Traceback" not in err
    assert store.studies() == []


def test_several_bad_values_are_refused_in_one_go_a_line_each(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--epochs", "0", "--set", "learning_rate=0", "--set", "batch_size=100000"]
    status, _, err = run_here(capsys, "train", *args)
    assert status == 2 and "Traceback" not in err
    fields = [line.split(":")[1].strip() for line in err.strip().splitlines()]
    assert fields == ["epochs", "learning_rate", "batch_size"]
    assert store.studies() == []


def test_malformed_config_file_is_refused(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "run.json"
    config.write_text("{epochs: 3}")
    status, _, err = run_here(capsys, "train", "--config", str(config))
    assert status == 2 and "not valid JSON" in err
    assert store.studies() == []


def test_train_no_wait_prints_the_study_id_and_leaves_the_run_queued(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = run_here(capsys, "train", "--set", "model=mlp", "--epochs", "200", "--no-wait")
    assert ran.status == 0, ran.err
    *said, last = ran.out.strip().splitlines()
    study = int(last)  # the study id ends what it prints, alone on its line
    store = Store(paths.store_path(cache))
    (trial,) = store.trials(study_ids=[study])
    assert trial.status in (Status.QUEUED, Status.RUNNING) and trial.worker_pid != os.getpid()
    assert f"study {study}: 1 run queued, a worker pool started for them" in said[-1]
    store.cancel_study(study)  # the pool stops it; nothing else waits
