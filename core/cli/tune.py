"""``python -m core tune``: run a keras-tuner search from the shell, through the same store.

    python -m core tune --tuner hyperband --max-epochs 9 [--space space.json | --preset report000]
                        [--set key=value ...] [--time-budget 600] [--json]
    python -m core tune --resume STUDY [--time-budget 300] [--json]
    python -m core tune --preset report000 --dry-run [--json]

``tune`` records the search in the store (so it shows on the Tune page), trains its untuned
baseline and then the search in this process, printing one line per finished trial. The space
comes from a preset (``report000``, ``report002``, ``report004``, ``report004cv``), a JSON file
of dimensions, or both (the file's dimensions replace the preset's keys). ``--resume`` goes on
with a stopped search from its keras-tuner project folder; with ``--time-budget`` it adds that
many seconds.
With ``--json`` the last line is one JSON object with ``study``, ``state``, ``trials_done``,
``trials_planned``, ``best_trial``, ``best_value``, ``best_epochs`` (the epochs the tuner gave
the best trial) and ``schedule_epochs`` (the epochs of a fully trained one),
``best_config``, ``best_test_accuracy``, ``best_fold_values`` (a cross-validated search's best
trial on each fold; null otherwise), ``baseline_value`` (the baseline's best objective),
``baseline_test_accuracy``, ``baseline_better`` (true when the untuned baseline beats every
trial), ``verdict`` (those two facts in words, or null), ``note`` and ``error`` (why the
search, or every trial of it, failed; null otherwise). Bad input prints one line and exits
with status 2; a search that failed or was cancelled exits with status 1.

``--dry-run`` queues nothing and trains nothing: it prints the plan and how long it would take
here (``core.worker.estimates``), one sentence with its basis, or with ``--json`` one object with
``trials``, ``epochs``, ``schedule``, ``estimate_s``, ``basis``, ``sentence``, ``ready`` and
``problem`` (why the search could not start here, such as missing ImageNet weights; it then
exits with status 2).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.cli.args import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    config_flags,
    config_from_args,
    json_flag,
    print_error,
    read_text_file,
)
from core.spec.config import ConfigError, RunConfig, load_json
from core.spec.formats import loss, percent, setting
from core.spec.search_checks import TUNERS
from core.store import Status, Store, open_store, paths
from core.views import tune_tables as tune_views
from core.worker.estimates import estimate_search
from core.worker.searches import (
    SearchSettings,
    SearchSpace,
    cancel_search,
    check_files,
    launch_search,
    presets,
    resume_search,
    search_state,
    validate_search,
)

logger = logging.getLogger(__name__)

# Seconds a local tuner process may take to leave once the chief has no trials left.
_TUNER_GRACE_S = 30

# Flags that map one to one onto SearchSettings fields.
_SETTING_FLAGS = {
    "tuner": "tuner",
    "objective": "objective",
    "direction": "direction",
    "max_trials": "max_trials",
    "executions": "executions_per_trial",
    "max_epochs": "max_epochs",
    "factor": "factor",
    "iterations": "iterations",
    "min_epochs": "min_epochs",
    "early_stopping": "early_stopping_patience",
    "time_budget": "time_budget_s",
    "keep_top": "keep_top",
}


def add_tune_command(sub: Any) -> None:
    """Add ``tune`` to the subcommands of ``python -m core``."""
    tune = sub.add_parser(
        "tune",
        parents=[config_flags(), json_flag()],
        help="search hyperparameters with keras-tuner",
    )
    tune.add_argument("--resume", type=int, metavar="STUDY", help="go on with a stopped search")
    tune.add_argument("--preset", choices=sorted(presets()), help="a search from the reports")
    tune.add_argument("--space", help="a JSON file of dimensions (see core.spec.search_space)")
    tune.add_argument(
        "--tuner",
        choices=list(TUNERS),
        help="bayes-hyperband: Optuna's TPE sampler, its HyperbandPruner stopping trials early",
    )
    tune.add_argument("--objective", help="metric to optimize (default val_accuracy)")
    tune.add_argument("--direction", choices=["max", "min"])
    tune.add_argument("--max-trials", type=int)
    tune.add_argument("--executions", type=int, help="executions per trial")
    tune.add_argument("--max-epochs", type=int, help="Hyperband: most epochs of a model")
    tune.add_argument("--factor", type=int, help="Hyperband, bayes-hyperband: reduction factor")
    tune.add_argument(
        "--min-epochs", type=int, help="bayes-hyperband: epochs before a trial can be stopped"
    )
    tune.add_argument("--iterations", type=int, help="Hyperband: iterations")
    tune.add_argument("--early-stopping", type=int, metavar="PATIENCE")
    tune.add_argument("--time-budget", type=float, metavar="SECONDS")
    tune.add_argument("--keep-top", type=int, help="best trials that keep weights (default 3)")
    tune.add_argument("--no-baseline", action="store_true", help="skip the untuned baseline")
    tune.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan and how long it would take here; queue and train nothing",
    )
    tune.add_argument(
        "--workers",
        type=int,
        default=1,
        help="tuner processes; above 1 this process serves keras-tuner's chief oracle",
    )
    tune.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="where the chief's oracle listens, for other machines to join "
        "(default 127.0.0.1 and a free port)",
    )
    tune.set_defaults(run=_tune)
    worker = sub.add_parser("worker", help="train trials for a search's chief (HOST:PORT)")
    worker.add_argument("--join", required=True, metavar="HOST:PORT", help="the chief's address")
    worker.add_argument("--study", required=True, type=int, help="the search's study id")
    worker.set_defaults(run=_join)


def build_search(args: argparse.Namespace) -> tuple[RunConfig, SearchSpace, SearchSettings]:
    """The base config, space and settings the flags describe.

    Raises:
        ConfigError: naming the first bad value.
    """
    preset = presets()[args.preset] if args.preset else None
    base = config_from_args(args, preset.apply().to_dict() if preset else None)
    dims = list(preset.space.dimensions) if preset else []
    if args.space:
        text = read_text_file(args.space, "--space")
        extra = SearchSpace.from_list(load_json(text, "space", args.space)).dimensions
        replaced = {d.key for d in extra}
        dims = [d for d in dims if d.key not in replaced] + list(extra)
    if not dims:
        raise ConfigError("--space", "give a --preset or a --space file of dimensions.")
    settings = preset.settings.to_dict() if preset else {}
    for flag, key in _SETTING_FLAGS.items():
        if getattr(args, flag) is not None:
            settings[key] = getattr(args, flag)
    if args.objective and not args.direction:
        settings.pop("direction", None)
    return base, SearchSpace(tuple(dims)), SearchSettings.from_dict(settings)


def _tune(args: argparse.Namespace) -> int:
    root = paths.cache_dir()
    os.environ["KERAS_HOME"] = str(paths.keras_home(root))
    store = open_store(root)
    if args.dry_run:
        return _dry_run(store, args)
    baseline_trials: list[int] = []
    try:
        if args.workers < 1:
            raise ConfigError("--workers", "give 1 or more tuner processes.")
        listen = _address(args.listen) if args.listen else None
        if args.resume is not None:
            study_id = args.resume
            resume_search(store, study_id, args.time_budget, run_here=True)
        else:
            base, space, settings = build_search(args)
            study_id = launch_search(
                store,
                base,
                space,
                settings,
                name=args.name,
                baseline=not args.no_baseline,
                run_here=True,
            )
            baseline_study = store.study(study_id).spec.get("baseline_study")
            if baseline_study is not None:  # one run, or one per fold when cross-validated
                found = sorted(store.trials([baseline_study]), key=lambda t: t.number)
                baseline_trials = [t.id for t in found]
    except KeyError:
        print_error(f"study: there is no search {args.resume}.")
        return EXIT_USAGE
    except ConfigError as exc:
        print_error(exc)
        return EXIT_USAGE

    state = search_state(store, study_id)
    logger.info("search %d: %s trials planned", study_id, state["trials_planned"])
    for trial_id in baseline_trials:
        _baseline(store, trial_id, root)
    from core.engine.search.run import run_search  # TensorFlow and keras-tuner load here

    chief, tuners = None, []
    if args.workers > 1 or listen is not None:
        chief = listen or ("127.0.0.1", _free_port())
        local = ("127.0.0.1" if chief[0] in ("0.0.0.0", "") else chief[0], chief[1])
        tuners = [_start_tuner(local, study_id, root) for _ in range(args.workers)]
        logger.info("chief on %s:%d with %d tuner processes", chief[0], chief[1], args.workers)
        if listen is not None:
            where = socket.gethostname() if chief[0] in ("0.0.0.0", "") else chief[0]
            logger.info(
                "other machines join with: python -m core worker --join %s:%d --study %d",
                where,
                chief[1],
                study_id,
            )
    previous = signal.signal(signal.SIGINT, lambda *_: cancel_search(store, study_id))
    try:
        final = run_search(
            store, study_id, root, on_trial=lambda t: _trial_line(store, t), chief=chief
        )
    finally:
        signal.signal(signal.SIGINT, previous)
        for process in tuners:
            _stop_tuner(process)
    summary = _summary(store, study_id)
    objective = tune_views.objective_of(store.study(study_id)).name
    best = _objective_text(objective, summary["best_value"])
    logger.info("%s: %s trials, best %s %s", final, summary["trials_done"], objective, best)
    elsewhere = summary["best_trial"] and tune_views.weights_elsewhere(
        store.trial(summary["best_trial"])
    )
    if elsewhere:
        logger.info("%s Promote is on the run's page in the app.", elsewhere)
    if summary["verdict"]:
        logger.info("%s", summary["verdict"])
    if summary["note"]:
        logger.info("%s", summary["note"])
    if summary["error"]:
        logger.info("why: %s", summary["error"])
    if args.json:
        print(json.dumps(summary))
    return EXIT_OK if final in ("done", "out_of_time") else EXIT_FAILED


def _dry_run(store: Store, args: argparse.Namespace) -> int:
    """Print the search's plan and estimate; write nothing to the store."""
    try:
        if args.resume is not None:
            raise ConfigError("--dry-run", "plans a new search; leave out --resume.")
        base, space, settings = build_search(args)
        validate_search(base, space, settings)
        estimate = estimate_search(
            store, base, space, settings, baseline=not args.no_baseline, here=True
        )
    except ConfigError as exc:
        print_error(exc)
        return EXIT_USAGE
    problem = None
    try:
        check_files(base, space)
    except ConfigError as exc:
        problem = str(exc)
    if args.json:
        print(json.dumps({**estimate.to_dict(), "ready": problem is None, "problem": problem}))
    else:
        print(estimate.sentence)
    if problem is not None:
        print_error(f"it cannot start here: {problem}")
        return EXIT_USAGE
    return EXIT_OK


def _address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` as a pair.

    Raises:
        ConfigError: if it is not one.
    """
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("--listen", f"expected HOST:PORT such as 0.0.0.0:8470, got {text!r}.")
    return host, int(port)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_tuner(chief: tuple[str, int], study_id: int, root: Path) -> subprocess.Popen:
    """A local tuner process that joins the chief (``python -m core worker --join``)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "core",
            "worker",
            "--join",
            f"{chief[0]}:{chief[1]}",
            "--study",
            str(study_id),
        ],
        cwd=paths.PROJECT_ROOT,
        env={**os.environ, paths.CACHE_ENV: str(root)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop_tuner(process: subprocess.Popen) -> None:
    """Wait a little for a tuner that has no trials left; end it if it lingers."""
    try:
        process.wait(timeout=_TUNER_GRACE_S)
    except subprocess.TimeoutExpired:
        logger.warning(
            "tuner process %d still running %d s after the search; ending it",
            process.pid,
            _TUNER_GRACE_S,
        )
        process.kill()
        process.wait()


def _join(args: argparse.Namespace) -> int:
    try:
        host, port = _address(args.join)
    except ConfigError:
        print_error(f"--join: expected HOST:PORT, got {args.join!r}.")
        return EXIT_USAGE
    root = paths.cache_dir()
    os.environ["KERAS_HOME"] = str(paths.keras_home(root))
    from core.engine.search.distributed import join  # TensorFlow and keras-tuner load here

    try:
        join(host, port, args.study, root)
    except ConfigError as exc:
        print_error(exc)
        return EXIT_USAGE
    return EXIT_OK


def _baseline(store: Store, trial_id: int, root: Path) -> None:
    """Train the untuned baseline in this process."""
    from core.engine.training import TrialMonitor, run_trial

    logger.info("baseline: training the base config untuned")
    with TrialMonitor(store, trial_id) as monitor:
        status = run_trial(store, store.trial(trial_id), monitor, root)
    trial = store.trial(trial_id)
    shown = f"test accuracy {percent(trial.test_accuracy)}" if trial.test_accuracy else trial.error
    logger.info("baseline: %s %s", status, shown)


def _trial_line(store: Store, trial_id: int) -> None:
    trial = store.trial(trial_id)
    hp = ", ".join(f"{k}={setting(v)}" for k, v in trial.results.get("hp", {}).items())
    value = trial.results.get("objective")
    found = tune_views.objective_of(store.study(trial.study_id))
    objective = found.name
    shown = _objective_text(objective, value if isinstance(value, float) else None)
    why = tune_views.stop_reason(trial, len(store.epochs(trial.id)), found)
    if why:
        shown += f" ({why})"
    logger.info("trial #%d %s: %s %s  %s", trial.number, trial.status, objective, shown, hp)


def _objective_text(objective: str, value: float | None) -> str:
    """An objective's value as the app writes it: a loss to four decimals, else a percent."""
    return loss(value) if "loss" in objective else percent(value)


def _summary(store: Store, study_id: int) -> dict[str, Any]:
    """The JSON line of ``--json``."""
    state = search_state(store, study_id)
    best = store.trial(state["best_trial"]) if state["best_trial"] else None
    baseline_acc = None
    if state["baseline_study"] is not None:
        done = store.trials([state["baseline_study"]], statuses=[Status.COMPLETED])
        baseline_acc = done[0].test_accuracy if done else None
    return {
        **{k: state[k] for k in ("study", "state", "trials_done", "trials_planned")},
        "best_trial": state["best_trial"],
        "best_value": state["best_value"],
        "best_epochs": state["best_epochs"],
        "schedule_epochs": state["schedule_epochs"],
        "best_config": best.config if best else None,
        "best_hp": best.results.get("hp") if best else None,
        "best_test_accuracy": best.test_accuracy if best else None,
        # A cross-validated search: the best trial's value on each fold (its objective is
        # their mean).
        "best_fold_values": tune_views.fold_values(
            best, store.epochs(best.id), tune_views.objective_of(store.study(study_id))
        )
        if best
        else None,
        "baseline_value": state["baseline_value"],
        "baseline_test_accuracy": baseline_acc,
        "baseline_better": state["baseline_better"],
        "verdict": " ".join(tune_views.best_notes(state)) or None,
        "used_s": state["used_s"],
        "note": state["note"],
        "error": _why_failed(store, state),
    }


def _why_failed(store: Store, state: dict[str, Any]) -> str | None:
    """One line on why the search failed, or why every trial did; None when none failed.

    The search's own error (keras-tuner giving up after failed trials, say) comes first; the
    last failed trial's error says what went wrong in the trials.
    """
    trials = store.trials([state["study"]])
    failed = [t for t in trials if t.status == Status.FAILED and t.error]
    parts = [(state["error"] or "").strip().split("\n")[0]]
    if failed and (state["state"] == "failed" or len(failed) == len(trials)):
        last = max(failed, key=lambda t: t.number)
        parts.append(f"trial #{last.number} failed: {last.error.strip().splitlines()[0]}")
    parts = [p.rstrip(".") for p in parts if p]
    if not parts:
        return "the search failed without saying why." if state["state"] == "failed" else None
    return "; ".join(parts) + "."
