"""A standalone Keras ``train.py`` written from a run's config: the run, without this app.

The script is put together from the templates in ``core/script_templates``: a header holding
the config, a data loader for the run's dataset (scikit-learn's digits, a ``keras.datasets``
loader, or a folder read with ``keras.utils.image_dataset_from_directory``), the builder of the
run's model kind, and the compile/fit/evaluate code. It splits the data as the app does (the
same fixed test set, a stratified validation share drawn with the run's seed), seeds Keras,
turns on op determinism (``deterministic``), builds under the run's ``precision`` and compiles
with its ``jit_compile`` and batches per call, so on the same machine it repeats the run's
test accuracy. It ends by
printing ``test_accuracy=0.9731 test_loss=0.0912``.

What the script does not reproduce is listed in its docstring (:func:`differences`).
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.spec.catalog import DATASETS
from core.spec.config import RunConfig

TEMPLATES = Path(__file__).with_name("script_templates")

# keras.datasets loader arguments per built-in dataset (digits comes from scikit-learn).
_KERAS_LOADERS = {
    "mnist": "",
    "fashion_mnist": "",
    "cifar10": "",
    "cifar100": 'label_mode="fine"',
}
# backbone key: (keras.applications class, module holding its preprocess_input)
_APPLICATIONS = {
    "mobilenet_v2": ("MobileNetV2", "mobilenet_v2"),
    "xception": ("Xception", "xception"),
    "resnet50": ("ResNet50", "resnet50"),
    "efficientnet_b0": ("EfficientNetB0", "efficientnet"),
}


def _template(name: str, **values: str) -> str:
    text = (TEMPLATES / f"{name}.py.tmpl").read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def differences(config: RunConfig) -> list[str]:
    """Return what the generated script does differently from the app, one sentence each.

    Every config key not named here is reproduced exactly.
    """
    notes = [
        "The macro F1 metric the app logs is left out (it does not change training).",
    ]
    if config.folds > 1:
        notes.append(
            f"folds={config.folds}: the app trained a {config.folds}-fold cross-validation; "
            f"this script trains once, holding out validation_split={config.validation_split:g}."
        )
    if config.lr_schedule == "reduce_on_plateau" and config.warmup_epochs:
        notes.append(
            f"warmup_epochs={config.warmup_epochs} with reduce_on_plateau: the warm-up is left "
            "out; the rate starts at learning_rate."
        )
    if not config.steps_per_execution:
        notes.append(
            "steps_per_execution=0 (auto): the script runs one batch per call into "
            "TensorFlow, where the app runs more on a GPU after timing a step; this changes "
            "speed, not results."
        )
    if config.model == "transfer" and config.pretrained != "none":
        notes.append(
            "pretrained=imagenet: Keras downloads the ImageNet weights itself, where the app "
            "used its local copy of the same file."
        )
    if config.dataset not in DATASETS:
        notes.append(
            "The images are read from the folder below, on this computer; copy it along "
            "and change FOLDER to train elsewhere."
        )
    return notes


def export_script(
    config: RunConfig,
    source: str = "a run",
    promoted: bool = False,
    recorded: Mapping[str, Any] | None = None,
) -> str:
    """Return the text of a standalone ``train.py`` that trains ``config`` with plain Keras.

    Args:
        config: The run's config.
        source: What the config comes from, for the script's docstring (``run 7 (study 3)``).
        promoted: Whether the run was a promotion (trained on train + validation, no
            validation data).
        recorded: The run's results. A folder dataset is read for its class names and image
            side; once the folder is gone, the ones the run recorded are used.

    Returns:
        Python source needing only tensorflow, keras, numpy and scikit-learn.
    """
    about = (
        f"Written by Hyperparameter Explorer from the config of {source}; nothing here "
        "imports the app. It loads the same data with the same splits, builds the same model, "
        "compiles and fits it the same way, then prints its test accuracy and loss. Needs "
        f"tensorflow, keras, numpy and scikit-learn; the original run used {_versions_text()}."
    )
    notes = ["Not reproduced:"] + [_wrap(f"- {note}", indent="  ") for note in differences(config)]
    header = _template(
        "header",
        TITLE=_docstring_text(
            _wrap(f"{config.model} on {_dataset_title(config.dataset)}, trained again with Keras.")
        ),
        ABOUT=_docstring_text(_wrap(about)),
        NOTES=_docstring_text("\n".join(notes)),
        CONFIG=_literal(config.to_dict()),
        PROMOTED=str(bool(promoted)),
    )
    model_values = {"MODEL": config.model}
    parts = [header, _data_part(config, recorded or {}), _template("model_common", **model_values)]
    if config.model == "transfer":
        application, module = _APPLICATIONS[config.backbone]
        parts.append(_template("model_transfer", APPLICATION=application, PREPROCESS=module))
    else:
        parts.append(_template(f"model_{config.model}"))
    parts.append(_template("train"))
    return "".join(parts)


def _data_part(config: RunConfig, recorded: Mapping[str, Any]) -> str:
    name = config.dataset
    if name == "digits":
        return _template("data_digits")
    if name in DATASETS:
        return _template(
            "data_keras",
            DATASET=name,
            LOAD_ARGS=_KERAS_LOADERS[name],
            CLASSES=str(DATASETS[name].num_classes),
        )
    from core.data.folder_scan import folder_test_size, scan_folder
    from core.data.folders import FOLDER_IMAGE_SIZE, dataset_info

    # The test images the run set aside (runs under an earlier rule set aside fewer), else
    # what the folder's runs set aside now.
    n_test = (recorded.get("sizes") or {}).get("test")
    if Path(name).is_dir():
        info = scan_folder(name)
        folder, classes = str(info.path), list(info.class_names)
        side = config.img_size or dataset_info(name).shape[0]
        n_test = folder_test_size(info.counts) if n_test is None else n_test
    else:  # the folder was deleted since: what the run recorded of it
        if not recorded.get("class_names") or n_test is None:
            raise FileNotFoundError(
                f"the dataset folder {name} is gone and the run recorded no class names "
                "or split sizes"
            )
        folder, classes = name, list(recorded["class_names"])
        shape = recorded.get("input_shape")  # (runs before it was recorded: the default side)
        side = config.img_size or (int(shape[0]) if shape else FOLDER_IMAGE_SIZE)
    return _template(
        "data_folder",
        FOLDER=repr(folder),
        CLASS_NAMES=_literal(classes),
        SIDE=str(side),
        N_TEST=str(int(n_test)),
    )


def _wrap(text: str, indent: str = "") -> str:
    """Text wrapped to 96 columns (continuation lines indented by ``indent``)."""
    return textwrap.fill(text, width=96, subsequent_indent=indent, break_on_hyphens=False)


def _docstring_text(text: str) -> str:
    """Text that cannot end or break the script's docstring (names come from people)."""
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _dataset_title(dataset: str) -> str:
    from core.data.names import dataset_name

    return dataset_name(dataset)


def _literal(value: Any) -> str:
    """A Python literal of a JSON-like value: a dict one key per line, sorted."""
    if isinstance(value, dict):
        lines = "".join(f"    {_text(key)}: {_text(value[key])},\n" for key in sorted(value))
        return "{\n" + lines + "}"
    return _text(value)


def _text(value: Any) -> str:
    """A JSON-like value as Python source, strings in double quotes as ruff formats them."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_text(item) for item in value) + "]"
    return json.dumps(value)


def _versions_text() -> str:
    from core.data.fingerprint import library_versions

    versions = library_versions()
    return ", ".join(f"{name} {version}" for name, version in versions.items())
