"""Hyperparameter Explorer: ``streamlit run app.py``.

This file is the entry point and the home page: what is running now, the latest studies and
a way to start. The other pages live in ``pages/``; training happens in a separate worker
process (``core.worker``), never in this one.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Hyperparameter Explorer", page_icon=":material/tune:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
]

st.navigation(PAGES).run()
