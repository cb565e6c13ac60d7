"""Verdicts drawn from finished curves and runs: diagnosis (and how it scores on runs whose
answer is known) and a sweep's statistics."""
