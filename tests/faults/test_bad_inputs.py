"""Bad input, wherever it comes in, is refused with one message that names the field to fix.

One table: the Train form (through app.py, as a browser opens it), the command line (a real
``python -m core train`` process) and the config loader. Nothing is queued for any of them.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core.data.checks import check_config
from core.spec.config import ConfigError, RunConfig
from core.spec.params import field_label
from core.store import Store, paths
from tests.app.conftest import APP, TRAIN

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
MOBILENET_32 = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"


@dataclass(frozen=True)
class Bad:
    """One bad input: where it enters, what it is, and the field the refusal must name."""

    surface: str  # "form", "cli", "dict" or "json"
    input: Any  # form: {widget key: value}; cli: argv after "train"; dict/json: the config
    field: str
    words: str = ""  # more text the message must hold

    def __str__(self) -> str:
        return f"{self.surface}:{self.field}:{self.input!r}"[:80]


NAN, INF = float("nan"), float("inf")

ROWS = [
    # -- the Train form ---------------------------------------------------------------
    Bad("form", {"epochs": 0}, "epochs"),
    Bad("form", {"epochs": 10**9}, "epochs"),
    Bad("form", {"batch_size": 10**12}, "batch_size"),
    Bad("form", {"batch_size": 5000}, "batch_size", "larger than the training set"),
    Bad("form", {"learning_rate": 0.0}, "learning_rate"),
    Bad("form", {"dropout": 1.0}, "dropout"),
    Bad("form", {"validation_split": 0.95}, "validation_split"),
    Bad("form", {"filters": ""}, "filters"),
    Bad("form", {"filters": "16, -4"}, "filters"),
    Bad("form", {"model": "transfer"}, "img_size", "at least 32"),  # and no weights here
    Bad("form", {"model": "transfer", "img_size": 32}, "pretrained", MOBILENET_32),
    Bad("form", {"dataset": "mnist"}, "dataset", "mnist.npz"),
    # -- the command line ---------------------------------------------------------------
    Bad("cli", ["--epochs", "1000000000"], "epochs"),
    Bad("cli", ["--set", "batch_size=1000000000000"], "batch_size"),
    Bad("cli", ["--set", "learning_rate=Infinity"], "learning_rate", "finite"),
    Bad("cli", ["--set", "momentum=NaN"], "momentum", "finite"),
    Bad("cli", ["--set", "optimizer=adamw2"], "optimizer", "choose one of"),
    Bad("cli", ["--set", "filters=[]"], "filters"),
    Bad("cli", ["--set", "augment=rotation:500"], "augment", "at most 180"),
    Bad("cli", ["--set", 'augment=["warp"]'], "augment", "unknown augmentation"),
    Bad("cli", ["--set", "colour=red"], "colour", "unknown setting"),
    Bad("cli", ["--set", "epochs=ten"], "epochs", "whole number"),
    Bad("cli", ["--set", "nesterov=3"], "nesterov", "true or false"),
    Bad("cli", ["--set", "model=transfer", "--set", "img_size=32"], "pretrained", MOBILENET_32),
    Bad("cli", ["--set", "model=transfer", "--set", "backbone=xception"], "img_size", "71"),
    Bad("cli", ["--config", "{malformed}"], "config", "not valid JSON"),
    Bad("cli", ["--dataset", "{missing}"], "dataset"),
    Bad("cli", ["--dataset", "{notzip}"], "dataset", "zip"),
    # -- the config loader --------------------------------------------------------------
    Bad("dict", {"epochs": "10"}, "epochs", "whole number"),
    Bad("dict", {"epochs": 2.5}, "epochs", "whole number"),
    Bad("dict", {"batch_size": 10**12}, "batch_size"),
    Bad("dict", {"batch_size": 2000}, "batch_size", "larger than the training set"),
    Bad("dict", {"nesterov": "yes"}, "nesterov"),
    Bad("dict", {"filters": ""}, "filters"),
    Bad("dict", {"filters": [16, True]}, "filters"),
    Bad("dict", {"colour": 1}, "colour", "unknown setting"),
    Bad("dict", {"dropout": INF}, "dropout", "finite"),
    Bad("dict", {"learning_rate": NAN}, "learning_rate", "finite"),
    Bad("dict", {"augment": ["zoom:2"]}, "augment", "at most 0.9"),
    Bad("dict", {"augment": ["flip", "flip"]}, "augment", "twice"),
    Bad("dict", {"dataset": "/no/such/folder"}, "dataset"),
    Bad("dict", {"model": "transfer", "backbone": "xception", "img_size": 32}, "img_size"),
    Bad("dict", {"loss": "hinge2"}, "loss", "choose one of"),
    Bad("dict", {"pooling": None}, "pooling"),
    Bad("dict", {"learning_rate": 10**400}, "learning_rate", "too large"),
    Bad("dict", {"filters": "16," + "9" * 5000}, "filters", "whole number"),
    Bad("dict", {"dataset": "/" + "x" * 300}, "dataset", "folder"),
    Bad("dict", {"dataset": "~no-such-user-here/photos"}, "dataset"),
    Bad("json", "{epochs: 3}", "config", "not valid JSON"),
    Bad("json", "[1, 2]", "config", "JSON object"),
    Bad("json", '{"learning_rate": NaN}', "learning_rate", "finite"),
    Bad("json", '{"epochs": 1e999}', "epochs"),
    Bad("json", '{"seed": -1}', "seed"),
    Bad("json", "[" * 100_000 + "]" * 100_000, "config", "too deeply"),
    Bad("json", '{"epochs": ' + "9" * 5000 + "}", "config", "4,300 digits"),
    Bad("dict", {"lr_decay_steps": 2**63}, "lr_decay_steps", "at most 10,000"),
    Bad("dict", {"gradient_clip": 1e308}, "gradient_clip", "at most 1,000,000"),
    Bad("dict", {"warmup_epochs": 10}, "warmup_epochs", "fewer warm-up epochs than epochs"),
]


def _form(row: Bad) -> str:
    at = AppTest.from_file(APP, default_timeout=30)
    at.switch_page(TRAIN)
    at.run()
    for key, value in row.input.items():
        if key in ("dataset", "model"):
            at.selectbox(key=key).set_value(value)
        elif key == "filters":
            at.text_input(key=key).set_value(value)
        else:
            at.number_input(key=key).set_value(value)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    # One sum-up beside the button names the field by its label, as a person reads it, not
    # by its config key; the message is said at the field.
    assert len(at.error) == 1, [e.value for e in at.error]
    assert field_label(row.field) in at.error[0].value.partition("marked above:")[2]
    return "\n".join(m.value for m in at.markdown if m.value.startswith(":red["))


def _cli(row: Bad, tmp_path: Path) -> str:
    malformed = tmp_path / "run.json"
    malformed.write_text('{"epochs": 3,,}')
    notzip = tmp_path / "photos.zip"
    notzip.write_bytes(b"these are not the bytes of a zip file\n" * 20)
    fill = {
        "{malformed}": str(malformed),
        "{missing}": str(tmp_path / "no-such-folder"),
        "{notzip}": str(notzip),
    }
    args = [fill.get(a, a) for a in row.input]
    out = subprocess.run(
        [sys.executable, "-m", "core", "train", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert lines[0].startswith(f"error: {row.field}:"), lines[0]
    return lines[0]


def _loader(row: Bad) -> str:
    # A config is read, then checked against its dataset when it would be launched.
    with pytest.raises(ConfigError) as caught:
        if row.surface == "json":
            check_config(RunConfig.from_json(row.input))
        else:
            check_config(RunConfig.from_dict(row.input))
    assert caught.value.field == row.field, str(caught.value)
    return str(caught.value)


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_bad_input_is_refused_naming_its_field(row: Bad, store: Store, tmp_path: Path) -> None:
    if row.surface == "form":
        message = _form(row)
    elif row.surface == "cli":
        message = _cli(row, tmp_path)
    else:
        message = _loader(row)
    assert row.words in message, message
    assert store.studies() == []
    assert Store(paths.store_path(paths.cache_dir())).trials() == []
