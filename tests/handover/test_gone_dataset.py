"""A finished run whose dataset folder was deleted still opens, exports and offers its files;
only what would train on that data again (fork, promote) refuses, in one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.data.checks import check_config
from core.engine.training import TrialMonitor, run_trial
from core.handover.bundle import write_bundle
from core.handover.promote import PromoteError, promoted_config
from core.spec.config import ConfigError, RunConfig
from core.store import Status, Store
from core.worker.forks import plan_fork
from tests.app.conftest import APP
from tests.data.test_folders import class_members, write_folder


@pytest.fixture
def orphan(store: Store, cache: Path, tmp_path: Path) -> int:
    """A run trained on a folder of photos, whose folder is then deleted; its trial id."""
    folder = write_folder(tmp_path / "photos", class_members(per_class=12))
    cfg = check_config(RunConfig(dataset=str(folder), model="mlp", epochs=2, batch_size=8))
    _, (trial_id,) = store.create_study("photos", "single", [cfg], reserve_for=1)
    with TrialMonitor(store, trial_id) as monitor:
        assert run_trial(store, store.trial(trial_id), monitor, cache) == Status.COMPLETED
    shutil.rmtree(folder)
    return trial_id


def test_a_run_on_a_deleted_folder_opens_exports_and_refuses_to_train_again(
    store: Store, cache: Path, tmp_path: Path, orphan: int
) -> None:
    trial = store.trial(orphan)
    assert trial.run_config.dataset == trial.config["dataset"]  # read back without the disk

    written = write_bundle(store, orphan, tmp_path / "out", cache)
    names = {p.name for p in written}
    assert any(n.endswith(".keras") for n in names) and any(n.endswith("train.py") for n in names)

    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["trial"] = str(orphan)
    at.switch_page("pages/runs.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]

    with pytest.raises(ConfigError, match="there is no folder at") as caught:
        plan_fork(store, orphan, 1, {"learning_rate": 1e-4}, cache)
    assert caught.value.field == "dataset" and "\n" not in str(caught.value)
    with pytest.raises(PromoteError, match="there is no folder at") as refused:
        promoted_config(trial)
    assert "\n" not in str(refused.value)
