"""Planning a sweep: values checked before anything queues, repeats as seeds, LR scaling."""

from __future__ import annotations

import pytest

from core.data.checks import train_size
from core.spec.config import ConfigError, RunConfig
from core.spec.sweeps import (
    SweepSpec,
    default_batch_sizes,
    default_values,
    plan_sweep,
)
from core.store import Store

BASE = RunConfig(model="mlp", epochs=2, seed=7)


def test_repeats_run_every_value_once_before_any_value_twice() -> None:
    plan, spec = plan_sweep(BASE, {"batch_size": "20, 100, 1000"}, repeats=2)
    assert plan.kind == "sweep"
    assert [(c.batch_size, c.seed) for c in plan.configs] == [
        (20, 7), (100, 7), (1000, 7), (20, 8), (100, 8), (1000, 8),
    ]  # fmt: skip
    assert spec.seeds == (0, 0, 0, 1, 1, 1)
    assert [spec.label(c) for c in spec.cells] == ["20", "100", "1000"] * 2
    assert all(c.model == "mlp" and c.epochs == 2 for c in plan.configs)


def test_linear_scaling_rule_scales_the_learning_rate_with_the_batch_size() -> None:
    plan, spec = plan_sweep(BASE, {"batch_size": [32, 64, 256]}, scale_lr=True)
    assert [c.learning_rate for c in plan.configs] == pytest.approx([5e-4, 1e-3, 4e-3])
    assert spec.scale_lr


def test_a_grid_trains_every_combination_and_the_spec_survives_the_store(store: Store) -> None:
    plan, spec = plan_sweep(BASE, {"optimizer": "adam, sgd", "learning_rate": "0.01, 1e-3"})
    assert [(c.optimizer, c.learning_rate) for c in plan.configs] == [
        ("adam", 0.01), ("adam", 0.001), ("sgd", 0.01), ("sgd", 0.001),
    ]  # fmt: skip
    study_id, _ = store.create_study(plan.name, plan.kind, plan.configs, spec=spec.to_dict())
    assert SweepSpec.from_dict(store.study(study_id).spec) == spec
    assert spec.title == "Optimizer × Learning rate"


def test_list_values_are_separated_by_semicolons() -> None:
    plan, spec = plan_sweep(BASE.replace(model="cnn"), {"filters": "16,64; 32,128"})
    assert [c.filters for c in plan.configs] == [(16, 64), (32, 128)]
    assert spec.label(spec.cells[1]) == "32, 128"


@pytest.mark.parametrize(
    ("values", "kwargs", "field", "words"),
    [
        ({"batch_size": "20, 100, 5000"}, {}, "batch_size", "'5000'.*larger than the training"),
        ({"batch_size": "20, abc"}, {}, "batch_size", "'abc'.*whole number"),
        ({"batch_size": "100, 100.0"}, {}, "batch_size", "listed twice"),
        ({"learning_rate": "0.001, 1e-3"}, {}, "learning_rate", "listed twice"),
        ({"batch_size": " , "}, {}, "batch_size", "at least one value"),
        ({"optimizer": "adam, adamax"}, {}, "optimizer", "'adamax'.*choose one of"),
        ({"seed": "1, 2"}, {}, "seed", "use repeats"),
        ({"batch_size": "20"}, {"repeats": 0}, "repeats", "from 1 to 10"),
        ({"batch_size": "20"}, {"repeats": 11}, "repeats", "from 1 to 10"),
        ({"dropout": "0.1"}, {"scale_lr": True}, "scale_lr", "vary batch_size"),
        ({"dropout": "0.1", "l2": "0", "l1": "0"}, {}, "param", "at most 2"),
        ({"batch_size": "500, 1000"}, {"scale_lr": True}, "learning_rate", "batch_size=1000"),
    ],
)
def test_a_bad_values_list_names_the_field_before_anything_is_planned(
    values: dict, kwargs: dict, field: str, words: str
) -> None:
    base = BASE.replace(learning_rate=1e5) if field == "learning_rate" and kwargs else BASE
    with pytest.raises(ConfigError, match=words) as caught:
        plan_sweep(base, values, **kwargs)
    assert caught.value.field == field


def test_a_values_list_longer_than_a_sweep_is_refused_before_each_value_is_checked() -> None:
    values = ", ".join(f"{i + 1}e-6" for i in range(2000))
    with pytest.raises(ConfigError, match="2,000 values is too many") as caught:
        plan_sweep(BASE, {"learning_rate": values})
    assert caught.value.field == "learning_rate"


def test_a_k_fold_base_is_refused() -> None:
    with pytest.raises(ConfigError, match="set folds to 1") as caught:
        plan_sweep(BASE.replace(folds=3), {"batch_size": "20"})
    assert caught.value.field == "folds"


def test_default_batch_sizes_follow_report_003_scaled_to_the_dataset() -> None:
    assert default_batch_sizes(48_000) == [20, 100, 1000, 10000, 48000]  # MNIST after the split
    assert default_batch_sizes(1149) == [20, 40, 100, 300, 1149]  # digits
    small = default_batch_sizes(30)
    assert small[-1] == 30 and small == sorted(set(small))
    assert (
        default_values("batch_size", RunConfig(), train_size(RunConfig()))
        == "20, 40, 100, 300, 1149"
    )


@pytest.mark.parametrize("key", ["optimizer", "learning_rate", "dropout", "batch_norm", "epochs"])
def test_default_values_always_make_a_valid_sweep(key: str) -> None:
    plan, _ = plan_sweep(
        RunConfig(), {key: default_values(key, RunConfig(), train_size(RunConfig()))}
    )
    assert len(plan.configs) >= 2
