"""Verdicts drawn from finished curves and runs: diagnosis (and how it scores on runs whose
answer is known), a sweep's statistics and which searched parameters matter."""
