"""The data a run is trained on, as the app sees it before training.

Uploads, folder scans, availability checks of the built-in datasets and backbone weights, and
the fingerprints of splits. No TensorFlow: the loaders that decode images for training are in
``core.engine``.
"""
