"""Verdicts drawn from finished curves and runs: diagnosis and a sweep's statistics."""
