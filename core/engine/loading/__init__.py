"""Datasets read into train, validation and test arrays: Keras's loaders, folders, k folds."""
