"""Duration estimates from trials built with known timelines through the store."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from core.spec.catalog import DATASETS
from core.spec.config import RunConfig
from core.store import Status, Store
from core.store.searches import HANDOVER_GROWTH_MIB, TRIAL_GROWTH_MIB
from core.worker.estimates import default_phases, estimate_search
from core.worker.searches import SearchSettings, SearchSpace, presets
from core.worker.timings import past_timings

BASE = RunConfig(epochs=4)  # report 000's CNN on digits
# Only the learning rate varies: every trial costs what the base config costs.
SPACE = SearchSpace.from_list(
    [{"key": "learning_rate", "kind": "float", "low": 1e-4, "high": 1e-2, "log": True}]
)
RANDOM = SearchSettings(tuner="random", max_trials=4, keep_top=1)


def _trial(
    store: Store,
    cfg: RunConfig,
    begin: float,
    epochs: Sequence[float] = (1.5, 0.5, 0.5, 0.5),
    build: float = 2.0,
    pause: float = 0.1,
    finish: float = 1.5,
    search: bool = True,
    process: tuple[str, float] = ("host:7", 0.0),
) -> float:
    """A completed trial whose phases are known: started at ``begin``, built for ``build``
    seconds, then ``epochs`` with ``pause`` between them, ended ``finish`` after the last.

    Returns:
        When it ended.
    """
    _, (trial_id,) = store.create_study("timed", "single", [cfg])
    store.claim(trial_id)
    for number, seconds in enumerate(epochs):
        store.add_epoch(trial_id, number, {"loss": 1.0}, seconds)
    results = {"tuner_trial_id": str(trial_id)} if search else {}
    store.finish_trial(trial_id, Status.COMPLETED, results=results)
    clock, rows = begin + build, []
    for number, seconds in enumerate(epochs):
        clock += (pause if number else 0.0) + seconds
        rows.append((clock, trial_id, number))
    with store._write() as db:
        db.execute(
            "UPDATE trials SET started_at=?, finished_at=?, worker=?, worker_started=? WHERE id=?",
            (begin, clock + finish, *process, trial_id),
        )
        db.executemany("UPDATE epochs SET recorded_at=? WHERE trial_id=? AND epoch=?", rows)
    return clock + finish


def _search_process(store: Store, trials: int = 3, started: float = 1000.0, pid: int = 7) -> None:
    """A process that started at ``started`` and, 10 s later, ran ``trials`` search trials;
    its first epoch ran 1 s longer than a later trial's, and each later one took 2 s to
    build, 1 s to trace, 0.5 s an epoch with 0.1 s between, and 1.5 s to end."""
    process = (f"host:{pid}", started)
    end = _trial(store, BASE, started + 10, epochs=(2.5, 0.5, 0.5, 0.5), process=process)
    for _ in range(trials - 1):
        end = _trial(store, BASE, end + 0.1, process=process)


def test_phases_are_read_back_from_a_trial_s_timeline(store: Store) -> None:
    _search_process(store)
    first, *later = sorted(past_timings(store), key=lambda t: t.first, reverse=True)
    assert first.first and first.since_start_s == pytest.approx(12.0)  # 10 s, then its build
    assert first.tracing_s == pytest.approx(2.0) and first.build_s is None
    for timing in later:
        assert not timing.first and timing.search and timing.epochs == 4
        assert timing.build_s == pytest.approx(2.0)
        assert timing.epoch_s == pytest.approx(0.5) and timing.pause_s == pytest.approx(0.1)
        assert timing.tracing_s == pytest.approx(1.0)
        assert timing.finish_s == pytest.approx(1.5)


def test_a_search_like_the_past_ones_adds_up_their_measured_phases(store: Store) -> None:
    _search_process(store)
    _search_process(store, started=2000.0, pid=8)
    est = estimate_search(store, BASE, SPACE, RANDOM, baseline=False, here=True)
    assert est.basis == "measured" and est.trials_measured == 6
    assert est.epoch_s == pytest.approx(0.6)  # an epoch and the pause after it
    assert est.trial_s == pytest.approx(2.0 + 1.0 + 1.5)  # build, tracing, keras-tuner's end
    assert est.parts["trials"] == pytest.approx(4 * 4.5)
    assert est.parts["epochs"] == pytest.approx(4 * 4 * 0.6)
    # A fresh process: 12 s to its first epoch, less the build a later trial has, plus the
    # extra second its first epoch took.
    assert est.processes == 1 and est.parts["start"] == pytest.approx(12.0 - 2.0 + 1.0)
    assert est.sentence.startswith("About ")
    assert ": 4 trials, 16 epochs at ~0.6 s (measured on 18 past digits/cnn epochs)" in est.sentence
    assert "plus ~4.5 s per trial to build, trace and save (measured)" in est.sentence


def test_executions_repeat_the_build_tracing_and_epochs_of_every_trial(store: Store) -> None:
    _search_process(store)
    _search_process(store, started=2000.0, pid=8)
    twice = estimate_search(
        store, BASE, SPACE, RANDOM.replace(executions_per_trial=2), baseline=False, here=True
    )
    assert twice.epochs == 32 and twice.trial_s == pytest.approx(2 * (2.0 + 1.0) + 1.5)
    assert "4 trials × 2 executions, 32 epochs" in twice.sentence


def test_twice_the_training_images_take_about_twice_as_long_an_epoch() -> None:
    digits = DATASETS["digits"]
    double = digits.__class__(**{**digits.__dict__, "n_train": 2 * digits.n_train})
    for cfg in (BASE, BASE.replace(model="mlp"), BASE.replace(img_size=32, filters=(64, 128))):
        ratio = default_phases(cfg, double)["epoch"] / default_phases(cfg, digits)["epoch"]
        assert 1.9 < ratio < 2.1, cfg.model


def test_a_measured_epoch_carries_over_to_another_batch_size(store: Store) -> None:
    for begin in (1000.0, 2000.0):  # two runs: a phase measured once counts for less
        _trial(store, BASE, begin, epochs=(3.0, 0.4, 0.4, 0.4), search=False)
    at_64 = estimate_search(store, BASE, SPACE, RANDOM).epoch_s
    at_16 = estimate_search(store, BASE.replace(batch_size=16), SPACE, RANDOM).epoch_s
    at_256 = estimate_search(store, BASE.replace(batch_size=256), SPACE, RANDOM).epoch_s
    assert at_64 == pytest.approx(0.4 + 0.1)
    # Digits' small CNN costs its steps, not its arithmetic: four times the steps at batch 16.
    assert 3.0 < (at_16 - 0.1) / 0.4 < 4.5
    assert at_256 < at_64


def test_a_single_run_scales_the_search_trials_it_has_not_seen(store: Store) -> None:
    # The command line's calibration run: alone in its process, tested and saved at the end.
    calibration = BASE.replace(epochs=2)
    _trial(store, calibration, 1002.0, (3.0, 0.4), search=False, process=("host:9", 1000.0))
    est = estimate_search(store, BASE, SPACE, RANDOM, here=True)
    assert est.basis == "measured" and est.trials_measured == 0 and est.runs_measured == 1
    assert "(scaled from 1 past run)" in est.sentence
    defaults = default_phases(calibration, DATASETS["digits"])
    # Its first epoch traced the model for 2.6 s: measured once, the scale lies between that
    # and the machine's overall one; a search trial's tracing scales alike.
    ratio = 2.6 / defaults["first_tracing"]
    overall = est.factors["keep"]  # nothing measures keeping the best: the overall scale
    assert min(ratio, overall) < est.factors["first_tracing"] < max(ratio, overall)
    assert est.factors["tracing"] == est.factors["first_tracing"]
    assert all(est.parts[p] > 0 for p in ("start", "baseline", "trials", "keep", "end"))


def test_a_model_never_run_here_is_rough_from_its_flops_and_the_measured_speed(
    store: Store,
) -> None:
    _trial(store, BASE.replace(model="mlp"), 1000.0, epochs=(3.0, 0.2, 0.2, 0.2))
    preset = presets()["report002"]
    est = estimate_search(store, preset.apply(), preset.space, preset.settings)
    assert est.basis == "machine"
    assert est.sentence.startswith("Rough, about ")
    assert "digits/resnet50 never ran here" in est.sentence
    assert "MFLOPs per image and this machine's measured speed" in est.sentence
    # One child process: 10 trials grow it about 160 MiB, short of a hand-over.
    assert est.processes == 1 + 10 * TRIAL_GROWTH_MIB // HANDOVER_GROWTH_MIB == 1
    assert est.trials == 10 and est.epochs == 200


def test_with_nothing_measured_the_estimate_says_it_rests_on_defaults(store: Store) -> None:
    preset = presets()["report000"]
    est = estimate_search(store, preset.apply(), preset.space, preset.settings, here=True)
    assert est.basis == "default" and (est.trials, est.epochs) == (30, 120)
    assert "nothing ran here yet" in est.sentence and "default speed" in est.sentence
    assert "early stopping can only shorten it" in est.sentence
    assert est.seconds == pytest.approx(sum(est.parts.values()))


def test_a_time_budget_shorter_than_the_plan_is_said_to_end_it(store: Store) -> None:
    est = estimate_search(store, BASE, SPACE, RANDOM.replace(time_budget_s=10))
    assert est.capped and est.sentence.endswith("; the 10 s time budget ends it first.")


def test_the_estimate_is_quick_enough_for_every_rerun_of_the_page(store: Store) -> None:
    # A busy store: the latest 200 trials are read back, 10 epochs each.
    _, ids = store.create_study("busy", "single", [BASE.replace(epochs=10)] * 200)
    now = time.time()
    with store._write() as db:
        db.executemany(
            "UPDATE trials SET status=?, started_at=?, finished_at=? WHERE id=?",
            [(Status.COMPLETED, now, now + 9, i) for i in ids],
        )
        db.executemany(
            "INSERT INTO epochs VALUES (?, ?, ?, ?, ?)",
            [(i, e, '{"loss": 1.0}', 0.5, now + 1 + e * 0.6) for i in ids for e in range(10)],
        )
    preset = presets()["report000"]
    assert len(past_timings(store)) == 200
    start = time.perf_counter()
    estimate_search(store, preset.apply(), preset.space, preset.settings)
    assert time.perf_counter() - start < 0.25  # about 40 ms here; room for a busy machine
