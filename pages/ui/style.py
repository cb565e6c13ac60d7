"""Layout rules Streamlit has no setting for, so that every page holds from 800 to 1920 px.

Streamlit keeps columns side by side down to 640 px, however narrow each one gets: a
two-column form in a third of an 800 px window breaks its labels mid-word. Here columns wrap
onto the next line once they would be narrower than a readable width, and the two halves of
the Train and Compare pages (form and view) stack below a width that fits both.
"""

from __future__ import annotations

import streamlit as st

# A page's form and its view, side by side only when both fit (keys of ``split_container``).
SPLIT_KEY = "split"

_CSS = """
<style>
/* The navigation bar is at the top: less empty space between it and the page title. */
[data-testid="stMainBlockContainer"] { padding-top: 4rem; }
/* Columns wrap instead of shrinking below a readable width. */
[data-testid="stHorizontalBlock"] { flex-wrap: wrap; }
[data-testid="stColumn"] { min-width: min(11rem, 100%); }
/* Form and view: each needs about 20rem, so they stack when the form would be narrower. */
.st-key-split > [data-testid="stLayoutWrapper"] > [data-testid="stHorizontalBlock"]
  > [data-testid="stColumn"],
.st-key-split > [data-testid="stHorizontalBlock"] > [data-testid="stColumn"] {
  min-width: min(20rem, 100%);
}
/* The Tune editor's rows (a name, a mode, the values, a remove button) keep to one line:
   their narrow columns hold short things. */
.st-key-tune-space [data-testid="stColumn"] { min-width: 0; }
/* A field with a problem (pages.ui.errors.problem_box) is outlined in red. */
[class*="st-key-field-problem-"] [data-testid="stNumberInputContainer"],
[class*="st-key-field-problem-"] [data-testid="stTextInputRootElement"],
[class*="st-key-field-problem-"] [data-testid="stSelectbox"] > div {
  border-color: #d33 !important; box-shadow: 0 0 0 1px #d33; border-radius: 0.5rem;
}
/* Words wrap between words, never inside one. */
[data-testid="stWidgetLabel"] p, [data-testid="stMetricLabel"] p {
  word-break: normal; overflow-wrap: normal; hyphens: none;
}
</style>
"""


def apply_style() -> None:
    """Add the layout rules to the page (call once per run, before the page draws)."""
    st.html(_CSS)
