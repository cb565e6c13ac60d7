"""The reports' experiments as recipes: one click sets one up, adapted to what runs offline.

Each recipe names the page it opens (Compare for a one-setting study, Tune for a search), what
it sets there, and, in plain words, how it differs from the report's own setup on a machine
without network and with the embedded digits: a report that ran on CIFAR-10 runs on digits,
a backbone whose ImageNet weights are not cached trains from its random start (say so
rather than fail), and runs that would take hours on a laptop CPU are made shorter.

Pure data: the pages apply a recipe to their widgets, and nothing is queued until Launch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.spec.search_space import Dimension, SearchSpace, presets


@dataclass(frozen=True)
class Recipe:
    """One report's experiment, ready to launch from the page it opens.

    Attributes:
        name: Its key in links (``?recipe=report003``).
        title: What a person calls it.
        report: Which report it comes from, as ``Report 003``.
        summary: What it runs, in one sentence.
        offline: How it differs from the report here, in one sentence.
        page: ``compare`` (a one-setting study) or ``tune`` (a search).
        sweep: For Compare: the setting varied, its repeats and the epochs of each run.
        preset: For Tune: the search preset it starts from.
        space: For Tune: keys of the preset's space replaced or added (``Dimension`` dicts).
        settings: For Tune: tuner settings changed from the preset's.
        without_weights: For Tune: fixed keys added when the backbones' ImageNet weights are
            not on this machine, and ``weights_note`` says so.
        weights_note: The sentence shown when ``without_weights`` applies.
    """

    name: str
    title: str
    report: str
    summary: str
    offline: str
    page: str
    sweep: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None
    space: tuple[dict[str, Any], ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    without_weights: dict[str, Any] = field(default_factory=dict)
    weights_note: str = ""

    def search_space(self, without_weights: bool = False) -> SearchSpace:
        """The preset's space with this recipe's keys replaced or added (Tune recipes).

        Args:
            without_weights: Also fix the keys of ``without_weights`` (in place of the
                preset's own dimension of that key, if any).
        """
        if self.preset is None:
            return SearchSpace()
        dims = {d.key: d for d in presets()[self.preset].space.dimensions}
        for changed in SearchSpace.from_list(list(self.space)).dimensions:
            dims[changed.key] = changed
        if without_weights:
            for key, value in self.without_weights.items():
                dims[key] = Dimension(key, "fixed", value=value)
        return SearchSpace(tuple(dims.values()))


_NO_WEIGHTS = (
    "The backbones' ImageNet weights are not cached on this machine, so they start from "
    "random weights and train whole (pretrained: none, every layer fine-tuned; a frozen "
    "random backbone would learn nothing). Put the weight files in the Keras cache to "
    "search with them."
)
# Every layer of any backbone: the most ``fine_tune_layers`` allows.
_ALL_LAYERS = 1000

RECIPES: tuple[Recipe, ...] = (
    Recipe(
        name="report003",
        title="Batch size study",
        report="Report 003",
        summary=(
            "Train the same CNN at five batch sizes, three seeds each, and see whether "
            "batch size changes test accuracy beyond the noise, and what it costs in time."
        ),
        offline=(
            "On digits instead of CIFAR-10, with batch sizes scaled to its training set "
            "(the report went from the whole set down to 20) and 10 epochs instead of 30."
        ),
        page="compare",
        sweep={"key": "batch_size", "repeats": 3, "epochs": 10},
    ),
    Recipe(
        name="report000",
        title="Hyperband on the small CNN",
        report="Report 000",
        summary=(
            "Keras Tuner's Hyperband over both conv layers' filters, the dense units, dropout "
            "and a log-scale learning rate, with early stopping, against a fixed baseline."
        ),
        offline=(
            "On digits instead of CIFAR-10; the space and Hyperband's settings are the report's."
        ),
        page="tune",
        preset="report000",
    ),
    Recipe(
        name="report002",
        title="Random search on a frozen ResNet-50",
        report="Report 002",
        summary=(
            "Random search over the head of a frozen ResNet-50 (dense units, dropout, "
            "optimizer) with augmentation and reduce-on-plateau, two executions per trial."
        ),
        offline=(
            "On digits enlarged to 32 px instead of CIFAR-10, and 5 epochs per trial instead "
            "of 10 so that a CPU gets through it (the Tune page estimates how long)."
        ),
        page="tune",
        preset="report002",
        space=({"key": "epochs", "kind": "fixed", "value": 5},),
        without_weights={"pretrained": "none", "fine_tune_layers": _ALL_LAYERS},
        weights_note=_NO_WEIGHTS,
    ),
    Recipe(
        name="report004",
        title="Bayesian search over transfer learning",
        report="Report 004",
        summary=(
            "Bayesian optimization over the backbone (Xception or MobileNetV2), learning "
            "rate, batch size, dropout, optimizer and fine-tuned layers, with Hyperband's "
            "early termination stopping the weak trials after 3 epochs."
        ),
        offline=(
            "On digits instead of the jellyfish photos; images of 71 or 96 px instead of "
            "224 or 299 (71 is Xception's smallest), 3 to 8 epochs instead of 10 to 25 and "
            "10 trials instead of 20, so that a CPU gets through it (the Tune page estimates "
            "how long). Upload your own folder there to run it on your images."
        ),
        page="tune",
        preset="report004",
        space=(
            {"key": "img_size", "kind": "choice", "values": [71, 96]},
            {"key": "epochs", "kind": "int", "low": 3, "high": 8},
        ),
        settings={"max_trials": 10},
        without_weights={"pretrained": "none", "fine_tune_layers": _ALL_LAYERS},
        weights_note=_NO_WEIGHTS,
    ),
    Recipe(
        name="report004cv",
        title="Cross-validated Bayesian search (experiment #3)",
        report="Report 004",
        summary=(
            "Report 004's search with every trial trained on 5 folds and judged by their "
            "mean, the report's most stable result."
        ),
        offline=(
            "On digits instead of the jellyfish photos; images of 71 or 96 px instead of "
            "224 or 299, 3 to 5 epochs instead of 10 to 25 and 6 trials instead of 20 (each "
            "trained 5 times), so that a CPU gets through it (the Tune page estimates how "
            "long). Upload your own folder there to run it on your images."
        ),
        page="tune",
        preset="report004cv",
        space=(
            {"key": "img_size", "kind": "choice", "values": [71, 96]},
            {"key": "epochs", "kind": "int", "low": 3, "high": 5},
        ),
        settings={"max_trials": 6},
        without_weights={"pretrained": "none", "fine_tune_layers": _ALL_LAYERS},
        weights_note=_NO_WEIGHTS,
    ),
)
RECIPE_BY_NAME = {r.name: r for r in RECIPES}


def recipe(name: str | None) -> Recipe | None:
    """The recipe of a link's ``?recipe=`` value, or None for no or an unknown name."""
    return RECIPE_BY_NAME.get(name or "")
