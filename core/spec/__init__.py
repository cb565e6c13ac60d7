"""What a run, a sweep and a search are: configs, hyperparameters, the catalog, plans.

Pure Python with no I/O and no heavy imports: every other package builds on these values.
"""
