"""keras-tuner searches: tuners, the hypermodel, distributed search and the end of a search."""
