"""The run config: defaults, validation messages, JSON round trip, stable hash."""

from __future__ import annotations

import contextlib
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.data.checks import check_config, train_size
from core.spec.config import ConfigError, RunConfig, parse_assignment, parse_value


def test_defaults_are_the_offline_digits_cnn() -> None:
    cfg = RunConfig()
    assert (cfg.dataset, cfg.model, cfg.optimizer) == ("digits", "cnn", "adam")
    assert (cfg.learning_rate, cfg.batch_size, cfg.epochs, cfg.seed) == (1e-3, 64, 10, 0)


def test_json_round_trip_gives_an_equal_config() -> None:
    cfg = RunConfig(dataset="cifar10", batch_size=20, learning_rate=3e-4, dropout=0.1)
    again = RunConfig.from_json(cfg.to_json())
    assert again == cfg
    assert json.loads(cfg.to_json()) == cfg.to_dict()


def test_hash_is_stable_and_depends_on_values() -> None:
    assert RunConfig().config_hash() == RunConfig().config_hash()
    assert RunConfig(seed=1).config_hash() != RunConfig().config_hash()
    # The hash of a known config is fixed across processes and releases.
    assert RunConfig().config_hash() == RunConfig.from_json(RunConfig().to_json()).config_hash()


def test_whole_float_is_accepted_for_integer_fields() -> None:
    assert RunConfig.from_dict({"epochs": 3.0}).epochs == 3


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"batch_size": 0}, "batch_size", "at least 1 and at most 1,000,000"),
        ({"batch_size": -5}, "batch_size", "at least 1"),
        ({"batch_size": 5000}, "batch_size", "larger than the training set"),
        ({"batch_size": 2.5}, "batch_size", "whole number"),
        ({"epochs": 0}, "epochs", "at least 1"),
        ({"epochs": "ten"}, "epochs", "whole number"),
        ({"learning_rate": 0}, "learning_rate", "above 0"),
        ({"learning_rate": -1e-3}, "learning_rate", "above 0"),
        ({"learning_rate": float("nan")}, "learning_rate", "finite"),
        ({"learning_rate": float("inf")}, "learning_rate", "finite"),
        ({"dropout": 1.0}, "dropout", "at most 0.95"),
        ({"dropout": -0.1}, "dropout", "at least 0"),
        ({"dataset": "imagenet"}, "dataset", "choose one of"),
        ({"model": "vgg"}, "model", "choose one of"),
        ({"optimizer": "lbfgs"}, "optimizer", "choose one of"),
        ({"loss": "mse"}, "loss", "choose one of"),
        ({"validation_split": 0.0}, "validation_split", "above 0"),
        ({"early_stopping_patience": -1}, "early_stopping_patience", "at least 0"),
        ({"early_stopping_patience": 10**9}, "early_stopping_patience", "at most 10,000"),
        ({"lr_decay_steps": 2**63}, "lr_decay_steps", "at most 10,000"),
        ({"lr_patience": 10**6}, "lr_patience", "at most 10,000"),
        ({"gradient_clip": 1e308}, "gradient_clip", "at most 1,000,000"),
        ({"warmup_epochs": 10, "epochs": 10}, "warmup_epochs", "fewer warm-up epochs"),
        ({"warmup_epochs": 50, "epochs": 5}, "warmup_epochs", "50 warm-up, 5 epochs"),
        ({"seed": -1}, "seed", "at most 4,294,967,295"),
        ({"seed": True}, "seed", "number"),
        ({"colour": "red"}, "colour", "unknown setting"),
    ],
)
def test_bad_values_name_the_field(changes: dict, field: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        check_config(RunConfig.from_dict(changes))  # a dataset is looked up at launch
    assert caught.value.field == field


def test_batch_size_limit_follows_the_validation_split() -> None:
    ok = RunConfig(batch_size=train_size(RunConfig()))
    with pytest.raises(ConfigError, match="larger than the training set"):
        ok.replace(validation_split=0.5)


def test_malformed_json_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not valid JSON"):
        RunConfig.from_json("{epochs: 3")
    with pytest.raises(ConfigError, match="JSON object"):
        RunConfig.from_json("[1, 2]")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[" * 100_000 + "]" * 100_000, "nests lists or objects too deeply"),
        ('{"epochs": ' + "1" * 5000 + "}", "more than 4,300 digits"),
    ],
    ids=["deep", "digits"],
)
def test_json_python_cannot_read_is_one_config_error(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(words)) as caught:
        RunConfig.from_json(text)
    assert caught.value.field == "config"


def test_a_long_value_is_quoted_short() -> None:
    with pytest.raises(ConfigError) as caught:
        RunConfig.from_dict({"optimizer": "x" * 1_000_000})
    assert len(str(caught.value)) < 300


def test_parse_assignment_reads_json_values() -> None:
    assert parse_assignment("learning_rate=1e-4") == ("learning_rate", 1e-4)
    assert parse_assignment("optimizer=sgd") == ("optimizer", "sgd")
    with pytest.raises(ConfigError, match="key=value"):
        parse_assignment("epochs")
    with pytest.raises(ConfigError, match="unknown setting"):
        parse_assignment("colour=red")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        (" 1e-4 ", 1e-4),
        ("true", True),
        ("null", None),
        ("[16, 32]", [16, 32]),
        ('"adam"', "adam"),
        ("sgd", "sgd"),
        ("  rotation:15 ", "rotation:15"),  # text is kept without the spaces around it
        ("", ""),
        ("1" * 5000, "1" * 5000),  # past Python's digit limit: text, refused as a number later
        ("[" * 100_000, "[" * 100_000),  # past the nesting Python parses: text too
    ],
    ids=lambda v: repr(v)[:20],
)
def test_a_typed_value_is_json_when_it_parses_else_its_stripped_text(
    text: str, value: object
) -> None:
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)


@given(
    st.dictionaries(
        st.text(max_size=20),
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
        max_size=6,
    )
)
def test_loader_raises_only_config_errors(data: dict) -> None:
    with contextlib.suppress(ConfigError):
        RunConfig.from_dict(data)


def test_every_config_key_is_described_once_in_the_parameter_table() -> None:
    from dataclasses import fields

    from core.spec.params import GROUPS, PARAMS

    assert sorted(p.key for p in PARAMS) == sorted(f.name for f in fields(RunConfig))
    assert all(p.group in GROUPS and p.help.endswith(".") for p in PARAMS)


def test_augment_is_made_canonical_and_checked() -> None:
    cfg = RunConfig(augment="flip, rotation:15, translation")
    assert cfg.augment == ("flip", "rotation:15", "translation:0.1")
    assert RunConfig.from_json(cfg.to_json()) == cfg
    for bad, words in [
        ("blur", "unknown augmentation"),
        ("rotation:400", "at most 180"),
        ("zoom:x", "must be a number"),
        ("flip,flip", "twice"),
        ("flip:2", "takes no strength"),
    ]:
        with pytest.raises(ConfigError, match=words):
            RunConfig(augment=bad)


def test_lists_bools_and_choices_of_the_catalog() -> None:
    cfg = RunConfig.from_dict({"filters": "32, 64,128", "conv_blocks": 3, "nesterov": True})
    assert cfg.filters == (32, 64, 128) and cfg.nesterov is True
    assert cfg.to_dict()["filters"] == [32, 64, 128]
    with pytest.raises(ConfigError, match="true or false"):
        RunConfig(nesterov="yes")
    with pytest.raises(ConfigError, match="at least one"):
        RunConfig(filters=[])
    with pytest.raises(ConfigError, match="filters per block must be"):
        RunConfig(filters=[16, 0])
    for key, value in [
        ("lr_schedule", "linear"),
        ("activation", "relu6"),
        ("pooling", "min"),
        ("backbone", "vgg16"),
        ("pretrained", "coco"),
    ]:
        with pytest.raises(ConfigError, match="choose one of") as caught:
            RunConfig.from_dict({key: value})
        assert caught.value.field == key


def test_transfer_backbones_need_their_smallest_input() -> None:
    with pytest.raises(ConfigError, match="at least 71 pixels") as caught:
        RunConfig(model="transfer", backbone="xception", dataset="cifar10")
    assert caught.value.field == "img_size"
    assert RunConfig(model="transfer", backbone="xception", dataset="cifar10", img_size=96)


def test_folds_hold_out_one_fold_for_validation() -> None:
    assert train_size(RunConfig(folds=5)) == 1437 - 288
    with pytest.raises(ConfigError, match="larger than the training set"):
        RunConfig(folds=2, batch_size=720)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"precision": "float16"}, "precision", "choose one of: float32, mixed_float16"),
        ({"jit_compile": "yes"}, "jit_compile", "choose one of: auto, on, off"),
        ({"jit_compile": True}, "jit_compile", "non-empty text"),
        ({"deterministic": "off"}, "deterministic", "true or false"),
        ({"steps_per_execution": -1}, "steps_per_execution", "batches per call must be at least 0"),
        ({"steps_per_execution": 1.5}, "steps_per_execution", "whole number"),
        ({"jit_compile": "on"}, "jit_compile", "needs Deterministic ops off"),
    ],
)
def test_device_settings_refuse_bad_values_by_name(changes: dict, field: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        RunConfig(**changes)
    assert caught.value.field == field


def test_device_settings_default_to_exact_float32_runs_keras_decides_the_rest() -> None:
    cfg = RunConfig()
    assert (cfg.deterministic, cfg.precision, cfg.jit_compile, cfg.steps_per_execution) == (
        True,
        "float32",
        "auto",
        0,
    )
    fast = RunConfig(deterministic=False, jit_compile="on", precision="mixed_bfloat16")
    assert RunConfig.from_json(fast.to_json()) == fast
    # A config saved before these settings existed reads back with their defaults.
    old = {k: v for k, v in cfg.to_dict().items() if k not in ("precision", "jit_compile")}
    assert RunConfig.from_dict(old) == cfg


def test_every_problem_of_a_config_is_found_at_once_in_field_order() -> None:
    with pytest.raises(ConfigError) as caught:
        RunConfig.from_dict({"learning_rate": 0, "epochs": 0, "batch_size": "many", "oops": 1})
    fields = [p.field for p in caught.value.problems]
    assert fields == ["oops", "epochs", "batch_size", "learning_rate"]
    assert caught.value.field == "oops" and all(p.unusable for p in caught.value.problems[1:])


def test_a_value_with_a_problem_is_not_checked_with_the_others() -> None:
    # Epochs 0 is refused, so the warm-up is not compared with a count nobody gave.
    cfg, problems = RunConfig.checked({"epochs": 0, "warmup_epochs": 3})
    assert [p.field for p in problems] == ["epochs"]
    assert cfg.epochs == RunConfig().epochs  # the default stands in for the refused value
    # Values that are each fine but do not go together are all named.
    _, problems = RunConfig.checked(
        {"epochs": 3, "warmup_epochs": 3, "filters": "8,8,8", "model": "transfer"}
    )
    assert [(p.field, p.unusable) for p in problems] == [
        ("warmup_epochs", False),
        ("img_size", False),
    ]


def test_a_valid_config_checks_clean_and_equals_the_built_one() -> None:
    cfg, problems = RunConfig.checked({"batch_size": 32.0, "augment": ["flip"]})
    assert problems == [] and cfg == RunConfig(batch_size=32, augment=("flip",))
