"""The UI process never imports TensorFlow, Keras or keras-tuner, on any page in any state."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from core.spec.config import RunConfig
from core.store import Status, Store

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys
    from streamlit.testing.v1 import AppTest

    for page, query in [("app.py", {}), ("pages/1_Train.py", {}),
                        ("pages/1_Train.py", {"trial": "1"}), ("pages/1_Train.py", {"trial": "2"}),
                        ("pages/2_Runs.py", {"trial": "1"})]:
        at = AppTest.from_file("app.py", default_timeout=30)
        for key, value in query.items():
            at.query_params[key] = value
        if page != "app.py":
            at.switch_page(page)
        at.run()
        assert not at.exception, (page, at.exception)
    banned = ("tensorflow", "keras", "keras_tuner")
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in banned)
    print("HEAVY:", heavy)
    """
)


def test_pages_render_every_state_without_tensorflow(store: Store, cache: Path) -> None:
    _, (done,) = store.create_study("done", "single", [RunConfig()], claim_pid=1)
    model = cache / "model.keras"
    model.write_bytes(b"not read by the page until downloaded")
    store.add_epoch(
        done, 0, {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.1, "val_accuracy": 0.4}, 1
    )
    store.finish_trial(
        done,
        Status.COMPLETED,
        results={
            "test_accuracy": 0.9,
            "test_loss": 0.3,
            "seconds_per_epoch": 1.0,
            "summary": [
                {"layer": "dense", "type": "Dense", "output_shape": "(None, 10)", "params": 10}
            ],
            "params": 10,
            "artifacts": {"model": str(model), "weights": str(model)},
        },
    )
    store.create_study("running", "single", [RunConfig()], claim_pid=1)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "HEAVY: []" in out.stdout, out.stdout
