"""Verdicts drawn from finished curves and runs: diagnosis, a sweep's statistics and which
searched parameters matter."""
