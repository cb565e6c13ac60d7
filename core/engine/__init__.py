"""Training: the only package that imports TensorFlow, Keras and keras-tuner.

Dataset loaders, the input pipeline, models, optimizers and schedules, checkpoints, evaluation,
the memory guard and the trial executor; ``core.engine.search`` runs keras-tuner searches.
The UI process never imports anything here.
"""
