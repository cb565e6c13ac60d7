"""A search's schedule: Hyperband's brackets and rounds, trials of epochs, executions."""

from __future__ import annotations

from core.spec.config import RunConfig
from core.spec.hyperband import hyperband_plan, hyperband_rounds
from core.spec.schedule import mean_value, planned_epochs, search_schedule
from core.spec.search_space import Dimension, SearchSettings, SearchSpace

SPACE = SearchSpace.from_list([{"key": "dropout", "kind": "float", "low": 0.1, "high": 0.5}])


def test_report_000_hyperband_runs_30_trials_and_120_epochs_widest_bracket_first() -> None:
    # max_epochs 10, factor 3: 3 brackets, ceil(1 + log3 10) = 4 models at the end of each.
    # Bracket 2: 12 models to epoch 2, the best 4 on to 4, the best 2 on to 10;
    # bracket 1: 6 models to 4, the best 2 on to 10; bracket 0: 4 models to 10.
    rounds = [(r.bracket, r.round, r.models, r.start, r.end) for r in hyperband_rounds(10, 3)]
    assert rounds == [
        (2, 0, 12, 0, 2),
        (2, 1, 4, 2, 4),
        (2, 2, 2, 4, 10),
        (1, 0, 6, 0, 4),
        (1, 1, 2, 4, 10),
        (0, 0, 4, 0, 10),
    ]
    assert hyperband_plan(10, 3) == (30, 12 * 2 + 4 * 2 + 2 * 6 + 6 * 4 + 2 * 6 + 4 * 10)
    settings = SearchSettings(max_epochs=10, factor=3, iterations=2)
    stages = search_schedule(RunConfig(), SPACE, settings)
    assert [s.label for s in stages[:2]] == ["bracket 2, round 0", "bracket 2, round 1"]
    assert sum(s.trials for s in stages) == 60
    assert planned_epochs(stages) == 240 and planned_epochs(stages, executions=2) == 480


def test_other_tuners_run_their_trials_for_the_epochs_of_the_base_or_the_space() -> None:
    settings = SearchSettings(tuner="random", max_trials=6)
    (stage,) = search_schedule(RunConfig(epochs=10), SPACE, settings)
    assert (stage.trials, stage.epochs) == (6, 10)
    space = SearchSpace.from_list(
        [*SPACE.to_list(), {"key": "epochs", "kind": "int", "low": 10, "high": 25}]
    )
    (stage,) = search_schedule(RunConfig(), space, settings.replace(max_trials=20))
    assert stage.epochs == 17.5 and planned_epochs([stage], executions=2) == 700


def test_mean_value_averages_steps_choices_and_log_ranges() -> None:
    assert mean_value(Dimension("epochs", "choice", values=(2, 4, 9))) == 5
    assert mean_value(Dimension("epochs", "int", low=1, high=10, step=3)) == 5.5  # 1 4 7 10
    assert mean_value(Dimension("epochs", "int", low=2, high=32, step=2, log=True)) == 12.4
    assert mean_value(Dimension("dropout", "float", low=0.01, high=1.0, log=True)) == 0.1
