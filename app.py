"""Hyperparameter Explorer: ``streamlit run app.py``.

The entry point: it declares the pages (``pages/ui/nav.py``) and runs the one the URL names.
Training happens in a separate worker process (``core.worker``), never in this one.
"""

from __future__ import annotations

import streamlit as st

from pages.ui.nav import HOME_PAGE, SECTIONS
from pages.ui.style import apply_style

st.set_page_config(page_title="Hyperparameter Explorer", page_icon=":material/tune:", layout="wide")
pages = {
    section: [
        st.Page(entry.path, title=entry.title, icon=entry.icon, default=entry.path == HOME_PAGE)
        for entry in entries
    ]
    for section, entries in SECTIONS.items()
}
apply_style()
st.navigation(pages, position="top").run()
