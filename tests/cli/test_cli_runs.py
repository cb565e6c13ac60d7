"""``python -m core runs`` and ``python -m core export`` on a real, tiny, completed run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.main import main
from core.spec.config import RunConfig
from core.store import Store
from core.store.checkpoint_files import checkpoint_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def completed(completed_trial: int) -> int:
    """A real 2-epoch mlp run on digits in this test's store (``tests/conftest.py``); its id."""
    return completed_trial


def test_runs_json_is_one_line_with_every_trial(store: Store, completed: int) -> None:
    queued, (waiting,) = store.create_study("later <b>one</b>", "single", [RunConfig()])
    out = subprocess.run(
        [sys.executable, "-m", "core", "runs", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    rows = {r["trial"]: r for r in json.loads(lines[0])["rows"]}
    assert set(rows) == {completed, waiting}
    done, trial = rows[completed], store.trial(completed)
    assert done["status"] == "completed" and done["kind"] == "single"
    assert done["test_accuracy"] == trial.test_accuracy and done["test_loss"] == trial.test_loss
    assert (
        done["test_images"] == 360 and done["test_accuracy_ci"] == trial.results["test_accuracy_ci"]
    )
    assert "test_ci_low" not in done and rows[waiting]["test_accuracy_ci"] is None
    best = max(e.metrics["val_accuracy"] for e in store.epochs(completed))
    assert done["best_val_accuracy"] == best
    assert done["epochs_run"] == len(store.epochs(completed)) == done["epochs"]
    assert rows[waiting]["epochs_run"] == 0
    assert rows[waiting]["study"] == queued and rows[waiting]["status"] == "queued"
    assert rows[waiting]["test_accuracy"] is None and rows[waiting]["best_val_accuracy"] is None
    # What its two checkpoints take on disk; none for a run not started.
    folder = checkpoint_dir(trial)
    assert done["checkpoint_bytes"] == sum(p.stat().st_size for p in folder.glob("epoch_*.npz"))
    assert done["checkpoint_bytes"] > 0 and rows[waiting]["checkpoint_bytes"] == 0


def test_runs_prints_a_table(
    store: Store, completed: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs"]) == 0
    header, row = capsys.readouterr().out.strip().splitlines()
    assert header.split()[:3] == ["trial", "study", "name"]
    trial = store.trial(completed)
    assert row.split()[0] == str(completed) and "completed" in row
    low, high = trial.results["test_accuracy_ci"]
    assert f"{trial.test_accuracy:.1%} {low * 100:.1f}–{high * 100:.1f}% 360" in " ".join(
        row.split()
    )


def test_runs_of_an_empty_store(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs"]) == 0
    assert "No runs yet" in capsys.readouterr().out
    assert main(["runs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"rows": []}


def test_export_writes_the_bundle_under_descriptive_names(
    store: Store, completed: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "exported"
    assert main(["export", str(completed), "--out", str(out_dir)]) == 0
    printed = [Path(p) for p in capsys.readouterr().out.strip().splitlines()]
    trial = store.trial(completed)
    stem = f"study{trial.study_id}-run{completed}-digits-mlp-acc{trial.test_accuracy * 100:.1f}"
    assert [p.name for p in printed] == [
        f"{stem}.keras",
        f"{stem}.weights.h5",
        f"{stem}.config.json",
        f"{stem}-train.py",
        f"{stem}-logs",
    ]
    for copy, key in zip(printed[:3], ("model", "weights", "config"), strict=True):
        assert copy.parent == out_dir.resolve()
        assert copy.read_bytes() == Path(trial.results["artifacts"][key]).read_bytes()
    assert json.loads(printed[2].read_text())["model"] == "mlp"
    script = printed[3].read_text()
    assert "import keras" in script and "from core" not in script and "import core" not in script
    assert any(printed[4].rglob("events.out.tfevents.*"))


def test_export_of_an_unknown_run_says_so_in_one_line(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "99", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no run 99" in err


def test_export_of_a_run_without_files_fails_without_copying(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, (tid,) = store.create_study("queued", "single", [RunConfig()])
    out_dir = tmp_path / "out"
    assert main(["export", str(tid), "--out", str(out_dir)]) == 1
    assert "no saved model.keras" in capsys.readouterr().err
    assert not out_dir.exists()
