"""Every private Keras and keras-tuner name the app relies on, each behind one small function.

Keras, keras-tuner and TensorFlow leave a few things the app needs without a public API:
where Keras's dataset loaders cache files, the affine matrices of two preprocessing layers, the
schedule behind an optimizer's learning rate, the file of a trial's best weights, a chief
oracle's gRPC service, the tuner methods keras-tuner documents as its override points but names
with a leading underscore, turning TensorFlow's op determinism off again, an oracle's project
folder, and in Optuna a running trial's handle and what its Hyperband pruner compared. Each is
used here and nowhere else in ``core``, and ``tests/engine/test_compat.py`` pins the behaviour
relied on, so a Keras, keras-tuner or Optuna upgrade that changes one fails there, with the
name that moved.

Only the standard library is imported at module level: :func:`keras_home` must run before the
first ``import keras`` to point Keras at the app's folder, and importing this module must not
cost TensorFlow's start-up.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras
    import keras_tuner as kt
    import optuna

# keras-tuner's Tuner methods that a subclass overrides to change how one execution is built
# and trained, and how the search space is declared before the first trial. keras-tuner's
# guides name them as the places to override, but both start with an underscore.
BUILD_AND_FIT = "_build_and_fit_model"
POPULATE_SPACE = "_populate_initial_space"
TUNER_OVERRIDES = (BUILD_AND_FIT, POPULATE_SPACE)
# The parameters each override point is called with, as keras-tuner 1.4 defines them.
_OVERRIDE_PARAMETERS = {
    BUILD_AND_FIT: ("self", "trial", "args", "kwargs"),
    POPULATE_SPACE: ("self",),
}

_keras_home_lock = threading.Lock()


def quiet_trial_failures() -> None:
    """Stop keras-tuner printing the traceback of every failed trial to the terminal.

    Its ``config.DEBUG`` flag, on by default and public nowhere else, prints them; the store
    keeps each failed trial's error and traceback, and the command line says it in one line.
    """
    from keras_tuner.src import config

    config.DEBUG = False


def disable_op_determinism() -> None:
    """Turn TensorFlow's op determinism off again.

    ``tf.config.experimental`` exports only ``enable_op_determinism``; its counterpart,
    ``disable_op_determinism``, lives beside it in ``tensorflow.python.framework.config``.
    """
    from tensorflow.python.framework import config as tf_config

    tf_config.disable_op_determinism()


@contextlib.contextmanager
def keras_home(home: str) -> Iterator[None]:
    """Make Keras's ``get_file`` (every ``keras.datasets`` loader) use ``home`` while inside.

    Relies on ``keras.src.backend.config._KERAS_DIR``: Keras reads ``KERAS_HOME`` into it once,
    when it is first imported, and ``get_file(cache_dir=None)``, as every ``load_data`` calls
    it, reads it back at call time. Keras has no public way to change it after import and the
    loaders take no folder, so:

    - before the first import, ``KERAS_HOME`` is set (the documented way; Keras then also
      keeps its ``keras.json`` there, away from the user's ``~/.keras``);
    - in every case, ``_KERAS_DIR`` points at ``home`` for the duration of the block, under a
      lock, and gets its old value back. This also works when Keras was already imported with
      another home (the worker imports Keras first; tests use a folder per test). Copying or
      linking the files into Keras's current home would write outside the app's cache.

    Args:
        home: The folder to use as ``KERAS_HOME``.

    Raises:
        RuntimeError: if this Keras version no longer has ``_KERAS_DIR``.
    """
    if "keras" not in sys.modules:
        os.environ["KERAS_HOME"] = home
    from keras.src.backend import config as keras_config

    if not hasattr(keras_config, "_KERAS_DIR"):
        raise RuntimeError(
            "keras.src.backend.config._KERAS_DIR is gone in this Keras version; "
            "core.engine.compat.keras_home needs updating."
        )
    with _keras_home_lock:
        previous = keras_config._KERAS_DIR
        keras_config._KERAS_DIR = home
        try:
            yield
        finally:
            keras_config._KERAS_DIR = previous


def translation_matrix(layer: keras.layers.RandomTranslation, translations: Any) -> Any:
    """The ``(batch, 8)`` output-to-input matrices of a ``RandomTranslation`` draw.

    Relies on ``RandomTranslation._get_translation_matrix``, the helper the layer's own
    ``transform_images`` passes to ``affine_transform``; no public API returns the matrix,
    which the pipeline needs to apply several geometric layers as one resampling.

    Args:
        layer: The layer that drew the transformation.
        translations: The draw's ``"translations"``: ``(batch, 2)`` shifts in pixels, x then y.
    """
    return layer._get_translation_matrix(translations)


def zoom_matrix(layer: keras.layers.RandomZoom, zooms: Any, height: Any, width: Any) -> Any:
    """The ``(batch, 8)`` output-to-input matrices of a ``RandomZoom`` draw.

    Relies on ``RandomZoom._get_zoom_matrix`` (see :func:`translation_matrix` for why).

    Args:
        layer: The layer that drew the transformation.
        zooms: float32 ``(batch, 2)``: the draw's ``"width_zoom"`` then ``"height_zoom"``.
        height: Height of the images in pixels.
        width: Width of the images in pixels.
    """
    return layer._get_zoom_matrix(zooms, height, width)


def learning_rate_schedule(
    optimizer: keras.optimizers.Optimizer,
) -> keras.optimizers.schedules.LearningRateSchedule | None:
    """The schedule an optimizer's learning rate follows, or None for a plain rate.

    Relies on ``Optimizer._learning_rate``, where Keras keeps the schedule object: the public
    ``learning_rate`` returns the schedule's value at ``iterations`` (the *next* update), and
    ``get_config`` would rebuild the schedule from its serialised form on every call.

    Args:
        optimizer: A Keras optimizer.
    """
    import keras

    schedule = getattr(optimizer, "_learning_rate", None)
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        return schedule
    return None


def checkpoint_path(tuner: kt.Tuner, trial_id: str) -> Path:
    """Where keras-tuner keeps a trial's best-epoch weights in the tuner's project folder.

    Relies on ``Tuner._get_checkpoint_fname``: ``load_model`` reads that file, but no public
    method says whether it exists (a trial another machine trained has it only there).

    Args:
        tuner: The search's tuner.
        trial_id: keras-tuner's id of the trial.
    """
    return Path(tuner._get_checkpoint_fname(trial_id))


def chief_trial(host: str, port: int, trial_id: str, timeout_s: float) -> kt.engine.trial.Trial:
    """Ask the chief oracle at ``host:port`` for one trial, waiting at most ``timeout_s``.

    Relies on ``keras_tuner.src.protos``, keras-tuner's gRPC messages and service stub: its
    ``OracleClient.get_trial`` does the same call but waits up to an hour for the chief and
    reads the address from the environment, and keras-tuner exports neither.

    Args:
        host: The chief's host name or address.
        port: The port its oracle listens on.
        trial_id: The trial to ask for.
        timeout_s: How long to wait for the chief to answer.

    Raises:
        grpc.RpcError: when the chief does not answer in time or cannot be reached.
    """
    import grpc
    import keras_tuner as kt
    from keras_tuner.src import protos

    with grpc.insecure_channel(f"{host}:{port}") as channel:
        stub = protos.get_service_grpc().OracleStub(channel)
        request = protos.get_service().GetTrialRequest(trial_id=trial_id)
        reply = stub.GetTrial(request, wait_for_ready=True, timeout=timeout_s)
    return kt.engine.trial.Trial.from_proto(reply.trial)


def mix_into(obj: Any, mixin: type, prefix: str) -> Any:
    """Give an existing object a mixin's methods, keeping all of its state; return it.

    Swaps ``obj.__class__`` for a subclass of ``(mixin, type(obj))`` named ``prefix`` and the
    old class's name. keras-tuner's tuners build their oracle inside their constructor, from
    their own arguments, and take no oracle class, so an oracle that also writes the store can
    only be made from the one the tuner built.

    Args:
        obj: The object (a keras-tuner oracle).
        mixin: A class whose methods come first; ``super()`` in them reaches the old class.
        prefix: What the new class's name starts with.
    """
    base = type(obj)
    obj.__class__ = type(f"{prefix}{base.__name__}", (mixin, base), {})
    return obj


def check_tuner_overrides() -> None:
    """Fail unless keras-tuner's ``Tuner`` still has the override points the app overrides.

    Raises:
        RuntimeError: naming the method that is gone or now takes other parameters.
    """
    import keras_tuner as kt

    for name, expected in _OVERRIDE_PARAMETERS.items():
        method = getattr(kt.Tuner, name, None)
        found = None if method is None else tuple(inspect.signature(method).parameters)
        if found != expected:
            raise RuntimeError(
                f"keras_tuner.Tuner.{name} takes {found} in this keras-tuner version, not "
                f"{expected}; core.engine.compat needs updating."
            )


def tuner_hooks(
    build_and_fit: Callable[..., Any], populate_space: Callable[..., Any]
) -> dict[str, Callable[..., Any]]:
    """Class attributes that plug public methods into keras-tuner's private override points.

    Put them in the class dictionary of a Tuner subclass (``type(name, bases, hooks)``).

    Args:
        build_and_fit: ``(tuner, trial, *args, **kwargs) -> history``: builds and trains one
            execution of a trial (keras-tuner passes ``callbacks`` in ``kwargs``).
        populate_space: ``(tuner) -> None``: declares the search space before the first trial
            (keras-tuner calls it on a fresh project only, never when reloading one).

    Raises:
        RuntimeError: as :func:`check_tuner_overrides`.
    """
    check_tuner_overrides()
    return {BUILD_AND_FIT: build_and_fit, POPULATE_SPACE: populate_space}


def base_build_and_fit(mixin: type, tuner: kt.Tuner, trial: Any, *args: Any, **kwargs: Any) -> Any:
    """keras-tuner's own build-and-train of one execution, from a mixin's override of it.

    Args:
        mixin: The class whose override is calling (the next class after it is asked).
        tuner: The tuner.
        trial: The trial; ``args`` and ``kwargs`` as keras-tuner passed them.

    Returns:
        What keras-tuner returns: the execution's ``History`` (or its metrics).
    """
    return getattr(super(mixin, tuner), BUILD_AND_FIT)(trial, *args, **kwargs)


def project_dir(oracle: kt.Oracle) -> Path:
    """An oracle's project folder (``directory/project_name``), which its tuner sets on it."""
    return Path(oracle._project_dir)


def running_optuna_trial(study: optuna.Study, frozen: optuna.trial.FrozenTrial) -> optuna.Trial:
    """A handle on a running Optuna trial, to report to it from another process than the one
    that asked for it (a resumed search): ``optuna.Trial`` takes the storage's trial id, which
    only the record's private attribute holds."""
    import optuna

    return optuna.Trial(study, frozen._trial_id)


def pruner_bracket(
    study: optuna.Study, trial: optuna.Trial
) -> tuple[optuna.trial.FrozenTrial, int, list[optuna.trial.FrozenTrial]]:
    """A trial's record, its ``HyperbandPruner`` bracket and that bracket's trials: what the
    pruner compared it with (Optuna returns only whether to prune)."""
    frozen = study._storage.get_trial(trial._trial_id)
    pruner = study.pruner
    bracket = pruner._get_bracket_id(study, frozen)
    return frozen, bracket, pruner._create_bracket_study(study, bracket).get_trials(deepcopy=False)
