"""The diagnosis of a run in words: one line per flag, with the epoch and what to try."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.analysis.diagnosis import Flag, failure_clusters
from core.store import Trial


def render_flags(flags: Sequence[Flag]) -> None:
    """Draw each flag as a badge, its finding and its advice (nothing when there are none)."""
    if not flags:
        return
    with st.container(border=True, key="diagnosis"):
        st.markdown("**Diagnosis** · marked on the loss chart")
        for flag in flags:
            st.markdown(
                f":orange-badge[:material/troubleshoot: {flag.label}] epoch {flag.epoch + 1} · "
                f"{flag.message} *{flag.advice}*"
            )


def render_clusters(trials: Sequence[Trial]) -> None:
    """Where a sweep's or search's failures cluster, one sentence each (nothing if nowhere)."""
    for cluster in failure_clusters(trials):
        st.warning(cluster.sentence + ".", icon=":material/scatter_plot:")
