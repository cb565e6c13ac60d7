"""Plotly figures and pandas tables the pages draw, built by plain functions from store rows."""
