"""The app's pages: their files, titles, icons and sections, in one place.

``app.py`` declares them to ``st.navigation``; links and page switches name a page by its file,
relative to ``app.py``. Each page's URL is its file's name (``/train``, ``/runs``), and the
query parameters that name a run or a study (``?trial=``, ``?study=``) work on every page.
"""

from __future__ import annotations

from dataclasses import dataclass

HOME_PAGE = "pages/home.py"
TRAIN_PAGE = "pages/train.py"
COMPARE_PAGE = "pages/compare.py"
TUNE_PAGE = "pages/tune.py"
RUNS_PAGE = "pages/runs.py"


@dataclass(frozen=True)
class PageEntry:
    """One page as the navigation lists it."""

    path: str
    title: str
    icon: str


# The navigation bar: pages of the "" section first, then one menu per named section.
SECTIONS: dict[str, tuple[PageEntry, ...]] = {
    "": (
        PageEntry(HOME_PAGE, "Home", ":material/home:"),
        PageEntry(RUNS_PAGE, "Runs", ":material/table_view:"),
    ),
    "Experiment": (
        PageEntry(TRAIN_PAGE, "Train", ":material/model_training:"),
        PageEntry(COMPARE_PAGE, "Compare", ":material/compare_arrows:"),
        PageEntry(TUNE_PAGE, "Tune", ":material/manage_search:"),
    ),
}
